// Limits: maxConnections under a flood, and the caps on pending BINDs and UDP associations (inside
// maxConnections: each of those holds extra sockets). Each is enforced, logged, and frees its slot
// when the session moves on, so the proxy keeps serving.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Socks5Server, type Logger } from '../../src/engine';
import { close, echoServer, run } from '../support/net';
import {
  buildCli,
  closedWithin,
  echoThrough,
  guardProcess,
  ipv4Address,
  knob,
  readReply,
  socksCommand,
  spawnProxy,
  tcpConnect,
  waitFor,
} from './support';

const MS = 10_000;
const FLOOD = knob('LIMITS_FLOOD', 2000);

function capture(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, logger: { debug() {}, info() {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) } };
}

describe('limits', () => {
  let guard: ReturnType<typeof guardProcess>;
  let echo: Awaited<ReturnType<typeof echoServer>>;
  before(async () => {
    guard = guardProcess();
    echo = await echoServer();
  });
  after(async () => {
    await close(echo.server);
    guard.dispose();
    assert.deepEqual(guard.errors, []);
  });

  it(`maxConnections 50 under a flood of ${FLOOD} simultaneous clients: exactly 50 established, the rest cut or refused, logged`, async (t) => {
    const { logger, warnings } = capture();
    const server = new Socks5Server({ port: 0, maxConnections: 50, logger, timeouts: { handshakeMs: 60_000, connectMs: 5000, idleMs: 0, bindMs: 5000 } });
    const { port } = await server.start();
    let peak = 0;
    server.on('open', () => (peak = Math.max(peak, server.stats().active)));
    const clients: Socket[] = [];
    try {
      const outcomes = await Promise.all(
        Array.from({ length: FLOOD }, async () => {
          const s = await tcpConnect(port);
          clients.push(s);
          // Greeting + CONNECT to the echo target in one write: a complete handshake.
          s.write(Buffer.from([5, 1, 0, 5, 1, 0, ...ipv4Address('127.0.0.1', echo.port)]));
          // Established: method selection + success reply. Otherwise closed: refused at once, or
          // cut (still in its handshake) to make room for a newcomer.
          return new Promise<'established' | 'closed'>((resolve) => {
            let got = Buffer.alloc(0);
            s.on('data', (d: Buffer) => {
              got = Buffer.concat([got, d]);
              if (got.length >= 12 && got[3] === 0) resolve('established');
            });
            s.once('close', () => resolve('closed'));
            s.once('end', () => s.end());
          });
        }),
      );
      const established = outcomes.filter((o) => o === 'established').length;
      const { refused, shed } = server.stats();
      t.diagnostic(`${established} established, ${refused} refused, ${shed} cut in their handshake; peak active ${peak}; ${warnings.length} warnings, e.g. ${warnings[0]}`);
      assert.equal(established, 50);
      assert.ok(peak <= 50, `never more than 50 sessions (peak ${peak})`);
      assert.equal(refused + shed, FLOOD - 50);
      assert.equal(server.stats().active, 50, 'the established sessions are kept');
      assert.ok(warnings.some((w) => /maxConnections|maxHandshakes/.test(w)), 'the refusals and cuts are logged');
      // Once the flood goes away, the next client is served.
      for (const s of clients) s.destroy();
      await waitFor(() => server.stats().active === 0, MS, 'the served sessions to end');
      await echoThrough(port, echo.port);
    } finally {
      for (const s of clients) s.destroy();
      await server.stop();
    }
  });

  it('maxPendingBinds: over the cap BIND gets 0x01 and a log line; a peer arriving or a client leaving frees the slot', async () => {
    const { logger, warnings } = capture();
    const server = new Socks5Server({ port: 0, maxPendingBinds: 3, logger });
    const { port } = await server.start();
    const open: Socket[] = [];
    try {
      const waiting = [];
      for (let i = 0; i < 3; i++) {
        const b = await socksCommand(port, 2, ipv4Address('0.0.0.0', 0));
        open.push(b.socket);
        assert.equal(b.rep, 0, `BIND ${i + 1} of 3`);
        waiting.push(b);
      }
      const over = await socksCommand(port, 2, ipv4Address('0.0.0.0', 0));
      open.push(over.socket);
      assert.equal(over.rep, 0x01, 'the fourth BIND is refused');
      await closedWithin(over.socket, MS);
      assert.ok(warnings.some((w) => /maxPendingBinds/.test(w)), 'and logged');
      await echoThrough(port, echo.port); // CONNECT is not affected

      // A peer arrives for the first: it is no longer pending, so there is room again.
      const peer = await tcpConnect(waiting[0].port);
      open.push(peer);
      assert.equal((await readReply(waiting[0].socket)).rep, 0);
      const again = await socksCommand(port, 2, ipv4Address('0.0.0.0', 0));
      open.push(again.socket);
      assert.equal(again.rep, 0, 'a BIND fits once one got its peer');
      // Full again; a waiting client leaves: room again.
      const full = await socksCommand(port, 2, ipv4Address('0.0.0.0', 0));
      open.push(full.socket);
      assert.equal(full.rep, 0x01);
      waiting[1].socket.destroy();
      await waitFor(() => server.connections().filter((c) => c.state === 'bind-waiting').length === 2, MS, 'the leaver to go');
      // (The slot is released once the session's sockets have closed: retry briefly, bounded.)
      let rep = -1;
      for (let k = 0; k < 20 && rep !== 0; k++) {
        const b = await socksCommand(port, 2, ipv4Address('0.0.0.0', 0));
        open.push(b.socket);
        rep = b.rep;
        if (rep !== 0) await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(rep, 0, 'a BIND fits once a waiting client left');
    } finally {
      for (const s of open) s.destroy();
      await server.stop();
    }
  });

  it('maxUdpAssociations: over the cap UDP ASSOCIATE gets 0x01 and a log line; closing one frees the slot; live change applies', async () => {
    const { logger, warnings } = capture();
    const server = new Socks5Server({ port: 0, maxUdpAssociations: 3, logger });
    const { port } = await server.start();
    const open: Socket[] = [];
    const associate = async () => {
      const a = await socksCommand(port, 3, ipv4Address('0.0.0.0', 0));
      open.push(a.socket);
      return a;
    };
    try {
      const held = [await associate(), await associate(), await associate()];
      assert.deepEqual(held.map((a) => a.rep), [0, 0, 0]);
      const over = await associate();
      assert.equal(over.rep, 0x01, 'the fourth association is refused');
      assert.ok(warnings.some((w) => /maxUdpAssociations/.test(w)), 'and logged');
      await echoThrough(port, echo.port); // CONNECT is not affected

      held[0].socket.destroy();
      await waitFor(() => server.connections().filter((c) => c.command === 'udpAssociate').length === 2, MS, 'one association to end');
      let next = await associate();
      for (let k = 0; k < 20 && next.rep !== 0; k++) {
        await new Promise((r) => setTimeout(r, 50));
        next = await associate();
      }
      assert.equal(next.rep, 0, 'an association fits once one closed');
      assert.equal((await associate()).rep, 0x01, 'and the cap still holds');

      server.setOptions({ maxUdpAssociations: 4 });
      assert.equal((await associate()).rep, 0, 'a raised cap applies to the next request');
    } finally {
      for (const s of open) s.destroy();
      await server.stop();
    }
  });

  it('by default each cap is a quarter of maxConnections', async () => {
    const server = new Socks5Server({ port: 0, maxConnections: 8 });
    const { port } = await server.start();
    const open: Socket[] = [];
    try {
      for (const cmd of [2, 3] as const) {
        const reps: number[] = [];
        for (let i = 0; i < 3; i++) {
          const r = await socksCommand(port, cmd, ipv4Address('0.0.0.0', 0));
          open.push(r.socket);
          reps.push(r.rep);
        }
        assert.deepEqual(reps, [0, 0, 0x01], `CMD ${cmd}: two fit, the third does not`);
      }
    } finally {
      for (const s of open) s.destroy();
      await server.stop();
    }
  });

  it('the CLI takes --max-pending-binds / --max-udp-associations (and rejects nonsense)', async () => {
    const proxy = await spawnProxy(['--max-pending-binds', '1', '--max-udp-associations', '1']);
    const open: Socket[] = [];
    try {
      for (const cmd of [2, 3] as const) {
        const first = await socksCommand(proxy.port, cmd, ipv4Address('0.0.0.0', 0));
        const second = await socksCommand(proxy.port, cmd, ipv4Address('0.0.0.0', 0));
        open.push(first.socket, second.socket);
        assert.deepEqual([first.rep, second.rep], [0, 0x01], `CMD ${cmd}`);
      }
      await waitFor(() => /maxPendingBinds/.test(proxy.stderr()) && /maxUdpAssociations/.test(proxy.stderr()), MS, 'the warnings on stderr');
    } finally {
      for (const s of open) s.destroy();
      assert.equal(await proxy.stop(), 0);
    }
    const cli = await buildCli();
    for (const bad of [['--max-pending-binds', '0'], ['--max-udp-associations', 'many']]) {
      const r = await run(process.execPath, [cli, '--port', '0', ...bad], 15_000);
      assert.equal(r.code, 2, bad.join(' '));
      assert.match(r.stderr, /must be a whole number ≥ 1/);
    }
  });
});
