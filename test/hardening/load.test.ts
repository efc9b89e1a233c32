// Load: many concurrent CONNECT sessions held and echoing, and a long churn of connections opened
// and closed every which way, with the proxy's open-fd count back at its baseline afterwards.
// The proxy runs as the CLI in its own process (the engine as shipped), so its fds and memory are
// counted apart from the clients'; the echo target runs in a third process.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  echoThrough,
  fdCount,
  knob,
  openFileLimit,
  pool,
  readBytes,
  rssBytes,
  settledFdCount,
  socksConnect,
  spawnEcho,
  spawnProxy,
  tcpConnect,
  waitFor,
  type Child,
} from './support';

const CONCURRENT = knob('LOAD_CONCURRENT', 10_000);
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

  it(`holds ${CONCURRENT} concurrent CONNECT sessions, all echoing at once, then frees every fd`, async (t) => {
    // Each session costs the proxy 2 fds (client + target); every process here shares one soft limit.
    const { soft, hard } = openFileLimit();
    const n = Math.min(CONCURRENT, Math.floor((soft - 200) / 2));
    if (n < CONCURRENT) {
      t.diagnostic(`RLIMIT_NOFILE soft ${soft} / hard ${hard}: the proxy needs 2 fds a session, so ${n} sessions, not ${CONCURRENT}`);
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
        const kind = KINDS[i % KINDS.length]!;
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
