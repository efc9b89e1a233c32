// Stop and restart under load: with sessions in every state — handshaking, connecting to a target
// that never answers, relaying at full speed, idle — stop() (and SIGTERM to the CLI) closes every
// socket within a second, frees every fd, and the same port can be bound again at once.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Socks5Server } from '../../src/engine';
import {
  closedWithin,
  echoThrough,
  fdCount,
  guardProcess,
  ipv4Address,
  knob,
  neverAccepting,
  pool,
  readBytes,
  settledFdCount,
  socksCommand,
  socksConnect,
  spawnEcho,
  spawnProxy,
  tcpConnect,
  waitFor,
  type Child,
} from './support';

const BUSY = knob('STOP_BUSY_SESSIONS', 200);
const IDLE = knob('STOP_IDLE_SESSIONS', 200);
const HANDSHAKING = knob('STOP_HANDSHAKING', 100);
const CONNECTING = knob('STOP_CONNECTING', 20);
const BIND_WAITING = knob('STOP_BIND_WAITING', 20);
const UDP_ASSOCIATED = knob('STOP_UDP', 20);
const CLOSE_WITHIN_MS = 1000;

/** Sessions in every state against a proxy on `port`; returns every client socket. */
async function loadUp(
  port: number,
  echoPort: number,
  blackholePort: number,
): Promise<{ all: Socket[]; stopTraffic: () => void; bindPorts: number[]; udpPorts: number[] }> {
  const all: Socket[] = [];
  const bindPorts: number[] = [];
  const udpPorts: number[] = [];
  const timers: NodeJS.Timeout[] = [];
  const stopTraffic = () => timers.forEach(clearInterval);
  try {
    // Still in the handshake: connected, greeting half sent.
    for (let i = 0; i < HANDSHAKING; i++) {
      const s = await tcpConnect(port);
      s.write(Buffer.from([5, 2]));
      s.resume();
      all.push(s);
    }
    // Connecting: to a target whose backlog is full, so the outbound connect hangs.
    for (let i = 0; i < CONNECTING; i++) {
      const s = await tcpConnect(port);
      s.write(Buffer.from([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, blackholePort >> 8, blackholePort & 0xff]));
      s.resume();
      all.push(s);
    }
    // BIND waiting for its peer; UDP associations.
    for (let i = 0; i < BIND_WAITING; i++) {
      const b = await socksCommand(port, 2, ipv4Address('0.0.0.0', 0));
      all.push(b.socket);
      assert.equal(b.rep, 0);
      bindPorts.push(b.port);
    }
    for (let i = 0; i < UDP_ASSOCIATED; i++) {
      const a = await socksCommand(port, 3, ipv4Address('0.0.0.0', 0));
      all.push(a.socket);
      assert.equal(a.rep, 0);
      udpPorts.push(a.port);
    }
    // Established and idle.
    await pool(IDLE, 50, async () => {
      const { socket, rep } = await socksConnect(port, echoPort);
      all.push(socket);
      assert.equal(rep, 0);
      socket.write('x');
      await readBytes(socket, 1);
      socket.resume();
    });
    // Relaying all the time: 4 KiB each way every 20 ms per session.
    const chunk = Buffer.alloc(4 * 1024, 0x61);
    await pool(BUSY, 50, async () => {
      const { socket, rep } = await socksConnect(port, echoPort);
      all.push(socket);
      assert.equal(rep, 0);
      socket.resume();
      timers.push(setInterval(() => socket.writable && socket.writableLength < 1024 * 1024 && socket.write(chunk), 20));
    });
  } catch (e) {
    stopTraffic();
    for (const s of all) s.destroy();
    throw e;
  }
  for (const s of all) s.on('end', () => s.end());
  return { all, stopTraffic, bindPorts, udpPorts };
}

/** After a stop: nothing listens on the BIND ports, and the UDP relay ports can be bound again. */
async function portsReleased(bindPorts: number[], udpPorts: number[]): Promise<void> {
  for (const p of bindPorts) {
    await assert.rejects(tcpConnect(p, '127.0.0.1', 5000), (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED', `BIND listener ${p} closed`);
  }
  for (const p of udpPorts) {
    const u = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      u.once('error', reject);
      u.bind(p, '127.0.0.1', () => resolve());
    });
    u.close();
  }
}

describe('stop and restart under load', () => {
  let guard: ReturnType<typeof guardProcess>;
  let echo: Child;
  let blackhole: Awaited<ReturnType<typeof neverAccepting>>;

  before(async () => {
    guard = guardProcess();
    echo = await spawnEcho();
    blackhole = await neverAccepting();
  });
  after(async () => {
    await blackhole.dispose();
    await echo.stop();
    guard.dispose();
  });

  it('stop(): every session in every state closed within 1 s, every fd freed, the port rebound at once (twice)', async (t) => {
    const fdBase = await settledFdCount();
    const timersBase = timerCount();
    const options = { maxConnections: 4096, timeouts: { handshakeMs: 60_000, connectMs: 60_000, idleMs: 0, bindMs: 60_000 } };
    let server = new Socks5Server({ ...options, port: 0 });
    const { port } = await server.start();
    try {
      for (let round = 1; round <= 2; round++) {
        const { all, stopTraffic, bindPorts, udpPorts } = await loadUp(port, echo.port, blackhole.port);
        try {
          await waitFor(() => server.stats().active === all.length, 10_000, () => `${all.length} sessions (have ${server.stats().active})`);
          const states = new Map<string, number>();
          for (const c of server.connections()) states.set(c.state, (states.get(c.state) ?? 0) + 1);
          t.diagnostic(`round ${round}: stopping with ${[...states].map(([k, v]) => `${v} ${k}`).join(', ')}`);
          assert.equal(states.get('connecting'), CONNECTING, 'the connecting sessions really are stuck connecting');

          const stopped = server.stop();
          // Bounded waits, not speed assertions: the sockets are closed and stop() has resolved within 1 s.
          await Promise.all(all.map((s) => closedWithin(s, CLOSE_WITHIN_MS)));
          await Promise.race([
            stopped,
            new Promise((_, rej) => setTimeout(() => rej(new Error('stop() did not resolve within 1 s')), CLOSE_WITHIN_MS).unref()),
          ]);
        } finally {
          stopTraffic();
          for (const s of all) s.destroy();
        }
        assert.equal(server.running, false);
        assert.equal(server.stats().active, 0);
        assert.deepEqual(server.connections(), []);
        assert.ok(server.recentlyClosed().every((c) => c.outcome.kind === 'closed-by-user'), 'they ended as closed by the user');
        await portsReleased(bindPorts, udpPorts);

        // The same port, at once, for a new server (as a settings change or a restart does).
        server = new Socks5Server({ ...options, port });
        assert.equal((await server.start()).port, port, 'listening on the same port again');
        await echoThrough(port, echo.port);
      }
    } finally {
      await server.stop();
    }
    await waitFor(() => fdCount() <= fdBase, 5000, () => `fds back to ${fdBase} (now ${fdCount()})`);
    // Nor timers: a stopped server leaves nothing to keep the process (or the extension host) busy.
    await waitFor(() => timerCount() <= timersBase, 5000, () => `timers back to ${timersBase} (now ${timerCount()})`);
    assert.deepEqual(guard.errors, []);
  });

  it('SIGTERM to the CLI under load: exits 0, every client closed within 1 s, the port free for a new process at once', async () => {
    const proxy = await spawnProxy(['--max-connections', '4096', '--handshake-timeout', '60', '--connect-timeout', '60', '-q']);
    const { all, stopTraffic, bindPorts, udpPorts } = await loadUp(proxy.port, echo.port, blackhole.port);
    try {
      proxy.child.kill('SIGTERM');
      await Promise.all(all.map((s) => closedWithin(s, CLOSE_WITHIN_MS)));
      const code = await Promise.race([proxy.exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('the CLI did not exit')), 5000))]);
      assert.equal(code, 0);
      await portsReleased(bindPorts, udpPorts);
    } finally {
      stopTraffic();
      for (const s of all) s.destroy();
    }
    const same = await spawnProxyOn(proxy.port);
    try {
      await echoThrough(same.port, echo.port);
      assert.equal(same.port, proxy.port);
    } finally {
      assert.equal(await same.stop(), 0);
    }
  });
});

/** Pending timers in this process. */
function timerCount(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

/** The CLI on a given port (spawnProxy passes --port 0 first; a later --port wins). */
function spawnProxyOn(port: number): Promise<Child> {
  return spawnProxy(['--port', String(port), '-q']);
}
