// Load: many concurrent CONNECT sessions held and echoing, and a long churn of connections opened
// and closed every which way, with the proxy's open-fd count back at its baseline afterwards.
// The proxy runs as the CLI in its own process (the engine as shipped), so its fds and memory are
// counted apart from the clients'; the echo target runs in a third process.
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Socks5Server } from '../../src/engine';
import {
  closedWithin,
  echoThrough,
  fdCount,
  ipv4Address,
  knob,
  openFileLimit,
  pool,
  readBytes,
  readReply,
  rssBytes,
  settledFdCount,
  sleep,
  socksCommand,
  socksConnect,
  spawnEcho,
  spawnProxy,
  tcpConnect,
  udpFrame,
  waitFor,
  type Child,
} from './support';

const CONCURRENT = knob('LOAD_CONCURRENT', 10_000);
// Each session costs the proxy 2 fds (client + target); every process here shares one soft limit.
const FD_LIMIT = openFileLimit();
const HELD = Math.min(CONCURRENT, Math.floor((FD_LIMIT.soft - 200) / 2));
const CHURN = knob('LOAD_CHURN', 100_000);
const CHURN_PARALLEL = knob('LOAD_CHURN_PARALLEL', 100);
const MiB = 1024 * 1024;

describe('load', { concurrency: false }, () => {
  let echo: Child;
  before(async () => {
    echo = await spawnEcho();
  });
  after(async () => {
    await echo.stop();
  });

  it(`holds ${HELD} concurrent CONNECT sessions${HELD < CONCURRENT ? ` (${CONCURRENT} asked: capped by the fd limit)` : ''}, all echoing at once, then frees every fd`, async (t) => {
    const n = HELD;
    if (n < CONCURRENT) {
      t.diagnostic(`RLIMIT_NOFILE soft ${FD_LIMIT.soft} / hard ${FD_LIMIT.hard}: the proxy needs 2 fds a session, so ${n} sessions, not ${CONCURRENT}`);
    }
    const proxy = await spawnProxy(['--max-connections', String(n + 100), '-q']);
    const sockets: Socket[] = [];
    try {
      await echoThrough(proxy.port, echo.port); // warm up, then measure the idle baseline
      const base = await settledFdCount(proxy.pid);
      const rss0 = rssBytes(proxy.pid);

      // Open them all (200 handshakes in flight at a time), each proving itself with one echo.
      await pool(n, 200, async (i) => {
        const { socket, rep } = await socksConnect(proxy.port, echo.port);
        sockets.push(socket);
        assert.equal(rep, 0, `session ${i}: REP ${rep}`);
        const msg = `hello ${i}\n`;
        socket.write(msg);
        assert.equal((await readBytes(socket, msg.length)).toString(), msg);
      });
      assert.equal(sockets.length, n);
      const held = fdCount(proxy.pid) - base;
      t.diagnostic(`${n} sessions open: the proxy holds ${held} more fds, RSS +${((rssBytes(proxy.pid) - rss0) / MiB).toFixed(1)} MiB`);
      assert.ok(held >= 2 * n, `the proxy holds both sockets of every session at once (${held} ≥ ${2 * n})`);

      // Every session echoes again, all at the same time.
      const round = sockets.map(async (s, i) => {
        const msg = `again ${i}|`.repeat(8);
        const p = readBytes(s, msg.length, 60_000);
        s.write(msg);
        assert.equal((await p).toString(), msg, `session ${i}`);
      });
      await Promise.all(round);
      assert.ok(sockets.every((s) => !s.closed), 'no session was dropped');

      // And a new client is still served while they are all open.
      await echoThrough(proxy.port, echo.port);

      for (const s of sockets) s.destroy();
      await waitFor(() => fdCount(proxy.pid) <= base, 60_000, () => `proxy fds back to ${base} (now ${fdCount(proxy.pid)})`);
      assert.equal(proxy.child.exitCode, null, 'the proxy is still running');
      assert.doesNotMatch(proxy.stderr(), /\berror\b/, 'no error logged');
    } finally {
      for (const s of sockets) s.destroy();
      assert.equal(await proxy.stop(), 0, 'the proxy exits 0 on SIGTERM');
    }
  });

  it(`churns ${CHURN} connections (opened and closed every which way); the proxy's fd count returns to baseline`, async (t) => {
    const proxy = await spawnProxy(['--max-connections', '4096', '--handshake-timeout', '2', '--connect-timeout', '5', '-q']);
    try {
      await echoThrough(proxy.port, echo.port);
      const base = await settledFdCount(proxy.pid);
      const rss0 = rssBytes(proxy.pid);
      const kinds = new Map<string, number>();
      let maxFds = base;

      await pool(CHURN, CHURN_PARALLEL, async (i) => {
        const kind = KINDS[i % KINDS.length];
        kinds.set(kind.name, (kinds.get(kind.name) ?? 0) + 1);
        await kind.run(proxy.port, echo.port);
        if (i % 5000 === 0) maxFds = Math.max(maxFds, fdCount(proxy.pid));
      });

      await waitFor(() => fdCount(proxy.pid) <= base, 30_000, () => `proxy fds back to ${base} (now ${fdCount(proxy.pid)})`);
      const rss1 = rssBytes(proxy.pid);
      t.diagnostic(
        `${CHURN} connections: ${[...kinds].map(([k, v]) => `${k} ${v}`).join(', ')}; ` +
          `proxy fds ${base} → peak ${maxFds} → ${fdCount(proxy.pid)}; RSS ${(rss0 / MiB).toFixed(0)} → ${(rss1 / MiB).toFixed(0)} MiB`,
      );
      assert.ok(fdCount(proxy.pid) <= base, `fds ${fdCount(proxy.pid)} ≤ baseline ${base}`);
      // Still serving, nothing logged at error level.
      await echoThrough(proxy.port, echo.port);
      assert.doesNotMatch(proxy.stderr(), /\berror\b/, 'no error logged');
    } finally {
      assert.equal(await proxy.stop(), 0, 'the proxy exits 0 on SIGTERM');
    }
  });
});

const BINDS = knob('LOAD_BIND', 1000);
const UDPS = knob('LOAD_UDP', 1000);
const BIND_CHURN = knob('LOAD_BIND_CHURN', 3000);
const UDP_CHURN = knob('LOAD_UDP_CHURN', 3000);

describe('load: BIND listeners and UDP associations', { concurrency: false }, () => {
  it(`${BINDS} BIND listeners waiting at once, then each gets its peer and relays; every fd freed`, async (t) => {
    const proxy = await spawnProxy(['--max-connections', String(BINDS + 100), '--max-pending-binds', String(BINDS), '--bind-timeout', '120', '-q']);
    const controls: Socket[] = [];
    const peers: Socket[] = [];
    try {
      const base = await settledFdCount(proxy.pid);
      const listeners: number[] = [];
      await pool(BINDS, 100, async () => {
        const b = await socksCommand(proxy.port, 2, ipv4Address('0.0.0.0', 0));
        controls.push(b.socket);
        assert.equal(b.rep, 0, `BIND REP ${b.rep}`);
        listeners.push(b.port);
      });
      const held = fdCount(proxy.pid) - base;
      t.diagnostic(`${BINDS} BINDs waiting: the proxy holds ${held} more fds`);
      assert.ok(held >= 2 * BINDS, `a control connection and a listener each (${held} ≥ ${2 * BINDS})`);
      assert.equal(new Set(listeners).size, BINDS, 'each has its own listener port');
      // Each listener gets its peer; the control connection learns who, and the two relay.
      await pool(BINDS, 100, async (i) => {
        const control = controls[i];
        const peer = await tcpConnect(listeners[i]);
        peers.push(peer);
        const second = await readReply(control);
        assert.equal(second.rep, 0);
        assert.equal(second.port, peer.localPort, 'the second reply names the peer');
        peer.write(`to client ${i}`);
        assert.equal((await readBytes(control, `to client ${i}`.length)).toString(), `to client ${i}`);
        control.write(`to peer ${i}`);
        assert.equal((await readBytes(peer, `to peer ${i}`.length)).toString(), `to peer ${i}`);
      });
      for (const s of [...controls, ...peers]) s.destroy();
      // Churn: BINDs that get a peer and close, and BINDs whose client leaves while waiting.
      await pool(BIND_CHURN, 50, async (i) => {
        const b = await socksCommand(proxy.port, 2, ipv4Address('127.0.0.1', 0));
        assert.equal(b.rep, 0);
        if (i % 2 === 0) {
          b.socket.destroy();
          return;
        }
        const peer = await tcpConnect(b.port);
        assert.equal((await readReply(b.socket)).rep, 0);
        peer.end('bye');
        assert.equal((await readBytes(b.socket, 3)).toString(), 'bye');
        await closedWithin(b.socket, 10_000);
        peer.destroy();
      });
      await waitFor(() => fdCount(proxy.pid) <= base, 30_000, () => `proxy fds back to ${base} (now ${fdCount(proxy.pid)})`);
      t.diagnostic(`then ${BIND_CHURN} BINDs churned; proxy fds back to ${fdCount(proxy.pid)} (baseline ${base})`);
      assert.doesNotMatch(proxy.stderr(), /\berror\b/, 'no error logged');
    } finally {
      for (const s of [...controls, ...peers]) s.destroy();
      assert.equal(await proxy.stop(), 0);
    }
  });

  it(`${UDPS} UDP associations at once, each relaying a datagram round trip; every fd freed`, async (t) => {
    const proxy = await spawnProxy(['--max-connections', String(UDPS + 100), '--max-udp-associations', String(UDPS), '-q']);
    const echo = createSocket('udp4');
    echo.on('message', (m, r) => echo.send(m, r.port, r.address));
    await new Promise<void>((res) => echo.bind(0, '127.0.0.1', () => res()));
    const echoPort = echo.address().port;
    const controls: Socket[] = [];
    const clients: UdpSocket[] = [];
    try {
      const base = await settledFdCount(proxy.pid);
      await pool(UDPS, 100, async (i) => {
        const u = createSocket('udp4');
        clients.push(u);
        await new Promise<void>((res) => u.bind(0, '127.0.0.1', () => res()));
        const a = await socksCommand(proxy.port, 3, ipv4Address('127.0.0.1', u.address().port));
        controls.push(a.socket);
        assert.equal(a.rep, 0, `UDP ASSOCIATE REP ${a.rep}`);
        // One round trip (retried: UDP on a busy loopback may drop a datagram).
        const got = new Promise<Buffer>((res) => u.once('message', res));
        let answer: Buffer | undefined;
        for (let k = 0; k < 5 && !answer; k++) {
          u.send(udpFrame('127.0.0.1', echoPort, `dgram ${i}`), a.port, '127.0.0.1');
          answer = await Promise.race([got, sleep(1000).then(() => undefined)]);
        }
        assert.ok(answer, `association ${i}: no answer`);
        assert.equal(answer.subarray(10).toString(), `dgram ${i}`);
      });
      const held = fdCount(proxy.pid) - base;
      t.diagnostic(`${UDPS} associations open: the proxy holds ${held} more fds`);
      assert.ok(held >= 3 * UDPS, `a control connection, a relay and an outbound socket each (${held} ≥ ${3 * UDPS})`);
      for (const c of controls) c.destroy();
      // Churn: associations opened, used once (or not at all) and closed.
      const u = createSocket('udp4');
      clients.push(u);
      await new Promise<void>((res) => u.bind(0, '127.0.0.1', () => res()));
      await pool(UDP_CHURN, 50, async (i) => {
        const a = await socksCommand(proxy.port, 3, ipv4Address('0.0.0.0', 0));
        assert.equal(a.rep, 0);
        if (i % 2 === 1) u.send(udpFrame('127.0.0.1', echoPort, 'x'), a.port, '127.0.0.1');
        a.socket.destroy();
      });
      await waitFor(() => fdCount(proxy.pid) <= base, 30_000, () => `proxy fds back to ${base} (now ${fdCount(proxy.pid)})`);
      t.diagnostic(`then ${UDP_CHURN} associations churned; proxy fds back to ${fdCount(proxy.pid)} (baseline ${base})`);
      assert.doesNotMatch(proxy.stderr(), /\berror\b/, 'no error logged');
    } finally {
      for (const c of controls) c.destroy();
      for (const u of clients) u.close();
      echo.close();
      assert.equal(await proxy.stop(), 0);
    }
  });
});

const HEAP_ROUNDS = knob('LOAD_HEAP_ROUNDS', 4);
const HEAP_ROUND_SIZE = knob('LOAD_HEAP_ROUND_SIZE', 2500);

describe('load: memory', () => {
  it(`the engine's heap is the same after ${HEAP_ROUNDS} rounds of ${HEAP_ROUND_SIZE} sessions of every kind (no per-session leak)`, async (t) => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const echo = await spawnEcho();
    const server = new Socks5Server({ port: 0, maxConnections: 4096 });
    // Listeners as the VS Code layer has them: snapshots are made and dropped for every event.
    for (const ev of ['open', 'update', 'close'] as const) server.on(ev, () => {});
    const { port } = await server.start();
    const heap: number[] = [];
    try {
      for (let round = 0; round < HEAP_ROUNDS; round++) {
        await pool(HEAP_ROUND_SIZE, 100, async (i) => {
          const kind = i % 5;
          if (kind === 0) (await tcpConnect(port)).destroy();
          else if (kind === 1) (await socksCommand(port, 2, ipv4Address('0.0.0.0', 0))).socket.destroy();
          else if (kind === 2) (await socksCommand(port, 3, ipv4Address('0.0.0.0', 0))).socket.destroy();
          else await echoThrough(port, echo.port);
        });
        await waitFor(() => server.stats().active === 0, 10_000, 'sessions to end');
        await sleep(200);
        gc();
        gc();
        heap.push(process.memoryUsage().heapUsed);
      }
      const MiB = 1024 * 1024;
      t.diagnostic(`heap after each round (MiB): ${heap.map((h) => (h / MiB).toFixed(2)).join(', ')}`);
      // Round 1 warms up (code, caches, the recent-closed list); after it the heap must stay flat.
      const growth = heap[heap.length - 1] - heap[1];
      const sessions = (HEAP_ROUNDS - 2) * HEAP_ROUND_SIZE;
      assert.ok(growth < 1.5 * MiB, `heap grew ${(growth / MiB).toFixed(2)} MiB over ${sessions} sessions (${Math.round(growth / sessions)} B each)`);
    } finally {
      await server.stop();
      await echo.stop();
    }
  });
});

/** How a churned connection lives and dies. Each one checks what it gets back. */
const KINDS: Array<{ name: string; run(proxyPort: number, echoPort: number): Promise<void> }> = [
  {
    name: 'echo+close',
    run: (p, e) => echoThrough(p, e),
  },
  {
    name: 'echo+FIN',
    async run(p, e) {
      const { socket, rep } = await socksConnect(p, e);
      assert.equal(rep, 0);
      socket.end('bye'); // half-close: the echo answers, then the FIN comes back through the proxy
      assert.equal((await readBytes(socket, 3)).toString(), 'bye');
      socket.resume();
      await new Promise<void>((r) => (socket.closed ? r() : socket.once('close', () => r())));
    },
  },
  {
    name: 'echo+RST',
    async run(p, e) {
      const { socket, rep } = await socksConnect(p, e);
      assert.equal(rep, 0);
      socket.write('x');
      await readBytes(socket, 1);
      socket.resetAndDestroy();
    },
  },
  {
    name: 'open+close',
    async run(p) {
      (await tcpConnect(p)).destroy();
    },
  },
  {
    name: 'greeting+FIN',
    async run(p) {
      const s = await tcpConnect(p);
      s.resume();
      s.end(Buffer.from([5, 1, 0]));
      await new Promise<void>((r) => s.once('close', () => r()));
    },
  },
  {
    name: 'request+close',
    async run(p, e) {
      // Closes while the proxy is connecting or about to reply.
      const s = await tcpConnect(p);
      s.write(Buffer.from([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, e >> 8, e & 0xff]));
      s.destroy();
    },
  },
  {
    name: 'garbage',
    async run(p) {
      const s = await tcpConnect(p);
      s.on('end', () => s.end());
      s.resume();
      s.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      await new Promise<void>((r) => s.once('close', () => r()));
    },
  },
  {
    name: 'echo+close',
    run: (p, e) => echoThrough(p, e),
  },
];
