// Pre-handshake floods: thousands of connections that connect and then say nothing (or trickle a
// handshake, or send one front door's first byte and stop), held open by a flood that reconnects
// each one as the proxy cuts it. Through it, a normal client's CONNECT succeeds within 1 s, 100
// times in a row; sessions established before the flood keep flowing; the proxy's fds come back
// to their baseline and its memory near it once the flood is gone. Also a stranger's UDP
// datagram flood at an association's relay port: the client's own datagrams keep coming back.
//
// The proxy runs in this process (the engine as the CLI runs it, with the CLI's defaults unless
// said), so that its heap can be measured after a forced GC; the flooder and the echo target run
// in processes of their own. Sizes come from the open-file limit (run.sh raises the soft limit to
// the hard one; CI's hard limit may be 20,000): the flooder holds FLOOD fds, this process at most
// the proxy's handshake budget + 3 per established session.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DEFAULT_OPTIONS, Socks5Server, type ServerOptions } from '../../src/engine';
import {
  fdCount,
  guardProcess,
  ipv4Address,
  knob,
  openFileLimit,
  readBytes,
  rssBytes,
  settledFdCount,
  sleep,
  socksCommand,
  socksConnect,
  spawnEcho,
  spawnProxy,
  udpFrame,
  waitFor,
  type Child,
} from './support';

const MiB = 1024 * 1024;
const LIMIT = openFileLimit();
/** The flood: 10,000 connections, or what this machine's fd limit allows the flooder. */
const FLOOD = Math.min(knob('FLOOD_CONNECTIONS', 10_000), LIMIT.soft - 1000);
/**
 * The proxy's maxConnections for the big floods, from what this process may open beside the
 * flood's share: its handshake budget (half of it) stays below FLOOD, so the flood is cut and
 * reconnects, the newest cutting the longest silent. (The part of a flood the proxy cannot hold
 * waits in the kernel's listen queue, and a newcomer behind it: the more the proxy holds, the
 * shorter that wait.)
 */
const MAX_CONNECTIONS = Math.min(16_384, Math.max(1024, LIMIT.soft - 2000));
/** The first report: 2,000 silent connections against the CLI's defaults (1,024 connections, 512 in handshake). */
const DEFAULTS_FLOOD = Math.min(2000, FLOOD);
const ROUNDS = knob('FLOOD_CLIENT_ROUNDS', 100);
const ESTABLISHED = 20;
/** The target: each normal CONNECT within 1 s. */
const TARGET_MS = 1000;
/**
 * On a machine whose other processes keep more than two runnable per core (a shared developer
 * machine; CI runs alone), each of the proxy, the flooder and the client gets a fraction of a
 * core and the target is a scheduling figure, not the proxy's: the bound is then 5 s, and the
 * test says so. Every CONNECT must still succeed.
 */
function clientBound(t: TestContext): number {
  const load = loadavg()[0];
  if (load <= 2 * cpus().length) return TARGET_MS;
  t.diagnostic(`machine oversubscribed (load average ${load.toFixed(1)} on ${cpus().length} cores): bound 5000 ms instead of ${TARGET_MS}`);
  return 5000;
}

/** The kernel's count of connections dropped because a listen queue was full (all listeners). */
function listenOverflows(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
  const names = lines[0].split(' ');
  const values = lines[1].split(' ');
  return Number(values[names.indexOf('ListenOverflows')]);
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** Heap in use after a full GC. */
async function heapUsed(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }
  return process.memoryUsage().heapUsed;
}

interface Flooder {
  child: ChildProcess;
  last: () => { open: number; connects: number; cuts: number };
  stop: () => Promise<void>;
}

/** test/hardening/flooder.cjs in its own process (its fds and CPU are not the test's). */
function startFlooder(port: number, count: number, mode: string): Flooder {
  const child = spawn(process.execPath, [join(__dirname, 'flooder.cjs'), String(port), String(count), mode], { stdio: ['pipe', 'pipe', 'inherit'] });
  let last = { open: 0, connects: 0, cuts: 0 };
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    if (lines.length > 0) last = JSON.parse(lines[lines.length - 1]);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    last: () => last,
    stop: async () => {
      child.stdin.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Greeting + CONNECT to the echo target + one round trip; the time it took, or a throw. */
async function normalClient(proxyPort: number, echoPort: number, i: number, ms = 5000): Promise<number> {
  const t0 = Date.now();
  const { socket, rep } = await socksConnect(proxyPort, echoPort, undefined, '127.0.0.1', ms);
  try {
    assert.equal(rep, 0, `round ${i}: REP`);
    const msg = `round ${i}`;
    socket.write(msg);
    assert.equal((await readBytes(socket, msg.length, ms)).toString(), msg);
    return Date.now() - t0;
  } finally {
    socket.destroy();
  }
}

/** Sessions established before the flood: each sends a ping every 100 ms and counts the echoes. */
async function establish(proxyPort: number, echoPort: number, n: number): Promise<{ sockets: Socket[]; echoes: number[]; closed: () => number; stop: () => void }> {
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const { socket, rep } = await socksConnect(proxyPort, echoPort);
    assert.equal(rep, 0);
    sockets.push(socket);
  }
  const echoes = sockets.map(() => 0);
  let closed = 0;
  sockets.forEach((s, i) => {
    s.on('data', () => echoes[i]++);
    s.once('close', () => closed++);
    s.resume();
  });
  const timer = setInterval(() => sockets.forEach((s) => s.writable && s.write('p')), 100);
  return { sockets, echoes, closed: () => closed, stop: () => clearInterval(timer) };
}

describe('pre-handshake floods', { timeout: 1_200_000 }, () => {
  let guard: ReturnType<typeof guardProcess>;
  let echo: Child;
  before(async () => {
    guard = guardProcess();
    echo = await spawnEcho();
  });
  after(async () => {
    await echo?.stop();
    guard.dispose();
    assert.deepEqual(guard.errors, []);
  });

  async function scenario(t: TestContext, options: Partial<ServerOptions>, count: number, mode: string): Promise<void> {
    t.diagnostic(`open-file limit ${LIMIT.soft} (hard ${LIMIT.hard}): flood ${count}, proxy ${JSON.stringify(options) || 'defaults'}`);
    const log: string[] = [];
    const server = new Socks5Server({
      port: 0,
      ...options,
      logger: { debugEnabled: false, debug() {}, info() {}, warn: (m) => log.push(m), error: (m) => log.push(m) },
    });
    const proxy = { port: (await server.start()).port, pid: 'self' as const };
    let flooder: Flooder | undefined;
    let held: Awaited<ReturnType<typeof establish>> | undefined;
    try {
      await normalClient(proxy.port, echo.port, -1); // warm up, then the idle baseline
      const base = await settledFdCount(proxy.pid);
      const rss0 = rssBytes(proxy.pid);
      const heap0 = await heapUsed();
      held = await establish(proxy.port, echo.port, ESTABLISHED);

      flooder = startFlooder(proxy.port, count, mode);
      // The flood is on once every connection was attempted and the proxy had to cut some.
      await waitFor(() => flooder!.last().connects >= count && flooder!.last().cuts > 0, 120_000, () => `the flood to ramp up: ${JSON.stringify(flooder!.last())}`);
      const peakFds = fdCount(proxy.pid);
      const echoesBefore = [...held.echoes];

      const times: number[] = [];
      const overflows0 = listenOverflows();
      const bound = clientBound(t);
      for (let i = 0; i < ROUNDS; i++) times.push(await normalClient(proxy.port, echo.port, i, Math.max(5000, 2 * bound)));
      const overflows = listenOverflows() - overflows0;
      const during = flooder.last();
      const peakRss = rssBytes(proxy.pid);
      const sorted = [...times].sort((a, b) => a - b);
      t.diagnostic(
        `${ROUNDS} CONNECTs through the flood: median ${sorted[Math.floor(ROUNDS / 2)]} ms, max ${sorted[ROUNDS - 1]} ms; ` +
          `flood ${JSON.stringify(during)}; kernel listen-queue overflows meanwhile ${overflows}; proxy fds ${base} → ${peakFds}, RSS ${(rss0 / MiB).toFixed(0)} → ${(peakRss / MiB).toFixed(0)} MiB`,
      );
      assert.ok(during.cuts > 0, 'the flood was cut and reconnected');
      assert.ok(
        times.every((ms) => ms < bound),
        `every CONNECT within ${bound} ms: ${times.filter((ms) => ms >= bound).length} were slower (${sorted.slice(-5).join(', ')} ms)`,
      );
      // Established sessions were never cut, and kept flowing throughout.
      assert.equal(held.closed(), 0, 'no established session was closed');
      const minGain = Math.min(...held.echoes.map((e, i) => e - echoesBefore[i]));
      assert.ok(minGain > 0, `every established session got echoes during the flood (least: ${minGain})`);

      await flooder.stop();
      flooder = undefined;
      const afterFlood = [...held.echoes];
      await waitFor(() => held!.echoes.every((e, i) => e > afterFlood[i]), 10_000, 'the established sessions to keep flowing after the flood');
      held.stop();
      for (const s of held.sockets) s.destroy();
      await waitFor(() => server.stats().active === 0 && fdCount(proxy.pid) <= base, 60_000, () => `proxy fds back to ${base} (now ${fdCount(proxy.pid)}; ${server.stats().active} sessions)`);
      await normalClient(proxy.port, echo.port, ROUNDS);
      const heap1 = await heapUsed();
      const rss1 = rssBytes(proxy.pid);
      const { shed, refused } = server.stats();
      t.diagnostic(
        `after the flood: fds ${fdCount(proxy.pid)} (baseline ${base}); heap ${(heap0 / MiB).toFixed(1)} → ${(heap1 / MiB).toFixed(1)} MiB; ` +
          `RSS ${(rss1 / MiB).toFixed(0)} MiB (baseline ${(rss0 / MiB).toFixed(0)}, peak ${(peakRss / MiB).toFixed(0)}); ${shed} handshakes cut, ${refused} refused`,
      );
      // RSS keeps pages the heap grew into; the heap itself holds nothing for the flood.
      assert.ok(heap1 - heap0 < 4 * MiB, `heap back at its baseline: ${(heap0 / MiB).toFixed(1)} → ${(heap1 / MiB).toFixed(1)} MiB`);
      assert.ok(shed > 0, 'handshakes were cut');
      assert.equal(refused, 0, 'no newcomer was refused: there was always a handshake to cut');
      assert.ok(log.some((l) => /under load: cut \d+ connections? that had not finished their handshake/.test(l)), 'the cuts are logged (in summary)');
      assert.ok(log.length < 100, `in summary, not a line per cut: ${log.length} lines`);
    } finally {
      held?.stop();
      for (const s of held?.sockets ?? []) s.destroy();
      await flooder?.stop();
      await server.stop();
    }
  }

  // The handshake deadline past the measurement: a flood that arrived at once would expire at once,
  // and its reconnecting burst would queue ahead of the client (a limit the report names). Here the
  // flood is cut by newcomers only, the longest silent first.
  const big = { maxConnections: MAX_CONNECTIONS, timeouts: { ...DEFAULT_OPTIONS.timeouts, handshakeMs: 120_000 } };
  it(`the issue's report: ${DEFAULTS_FLOOD} silent connections against the defaults (1,024 connections)`, (t) => scenario(t, {}, DEFAULTS_FLOOD, 'silent'));
  it(`${FLOOD} silent connections (nothing sent)`, (t) => scenario(t, big, FLOOD, 'silent'));
  it(`${FLOOD} trickling SOCKS5 handshakes (a byte a second)`, (t) => scenario(t, big, FLOOD, 'trickle'));
  it(`${FLOOD} SOCKS4 openings (first byte 0x04, then silence)`, (t) => scenario(t, big, FLOOD, 'byte:04'));
  it(`${FLOOD} HTTP openings (first byte "G", then silence)`, (t) => scenario(t, big, FLOOD, 'byte:47'));

  it('a stranger flooding the UDP relay port: the client\'s own datagrams keep coming back within 1 s', async (t) => {
    const proxy = await spawnProxy(['-q']);
    const udpEcho = createSocket('udp4');
    udpEcho.on('message', (m, r) => udpEcho.send(m, r.port, r.address));
    await new Promise<void>((r) => udpEcho.bind(0, '127.0.0.1', () => r()));
    const client = createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    const strangers: UdpSocket[] = [];
    let control: Socket | undefined;
    let flooding = true;
    try {
      const a = await socksCommand(proxy.port, 3, ipv4Address('127.0.0.1', client.address().port));
      control = a.socket;
      assert.equal(a.rep, 0);
      const relay = a.port;
      // Strangers: another loopback address, and this one from another port; each blasts datagrams, bounded.
      let sent = 0;
      for (const host of ['127.0.0.2', '127.0.0.1']) {
        const s = createSocket('udp4');
        s.on('error', () => {});
        await new Promise<void>((r) => s.bind(0, host, () => r()));
        strangers.push(s);
      }
      const junk = udpFrame('127.0.0.1', udpEcho.address().port, Buffer.alloc(512, 0x55));
      const blast = async () => {
        while (flooding && sent < 2_000_000) {
          for (const s of strangers) for (let k = 0; k < 50; k++, sent++) s.send(junk, relay, '127.0.0.1');
          await new Promise((r) => setImmediate(r));
        }
      };
      const blasting = blast();
      await sleep(500);
      let got: ((m: Buffer) => void) | undefined;
      client.on('message', (m) => got?.(m));
      const times: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const payload = `dgram ${i}`;
        const t0 = Date.now();
        // A datagram may be lost in a full socket buffer: resent every 100 ms, within the second.
        const back = await new Promise<boolean>((resolve) => {
          const resend = setInterval(() => client.send(udpFrame('127.0.0.1', udpEcho.address().port, payload), relay, '127.0.0.1'), 100);
          const timer = setTimeout(() => done(false), TARGET_MS);
          const done = (ok: boolean) => {
            clearInterval(resend);
            clearTimeout(timer);
            got = undefined;
            resolve(ok);
          };
          got = (m) => m.subarray(10).toString() === payload && done(true);
          client.send(udpFrame('127.0.0.1', udpEcho.address().port, payload), relay, '127.0.0.1');
        });
        assert.ok(back, `datagram round ${i} came back within ${TARGET_MS} ms`);
        times.push(Date.now() - t0);
      }
      flooding = false;
      await blasting;
      const sorted = [...times].sort((x, y) => x - y);
      t.diagnostic(`${sent} stranger datagrams sent; ${ROUNDS} client round trips: median ${sorted[ROUNDS >> 1]} ms, max ${sorted[ROUNDS - 1]} ms`);
      assert.ok(sent > 10_000, `the strangers really flooded (${sent})`);
    } finally {
      flooding = false;
      control?.destroy();
      for (const s of strangers) s.close();
      client.close();
      udpEcho.close();
      assert.equal(await proxy.stop(), 0);
    }
  });
});
