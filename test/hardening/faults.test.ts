// Faults: targets and clients that reset mid-stream, names that do not resolve, a target that never
// accepts, clients that leave mid-connect. Each must end only its own session — a bystander session
// keeps echoing through the same proxy — with the right reply code where a reply is still due, and
// nothing may escape as an uncaught exception.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Socks5Server, type ClosedConnectionInfo } from '../../src/engine';
import { close, echoServer, listen } from '../support/net';
import {
  closedWithin,
  fdCount,
  guardProcess,
  neverAccepting,
  pool,
  readBytes,
  settledFdCount,
  socksConnect,
  tcpConnect,
  waitFor,
} from './support';

const MS = 10_000; // bound for any single wait

/** Collects `close` events so a test can find the outcome of its own session. */
function closedLog(server: Socks5Server): ClosedConnectionInfo[] {
  const log: ClosedConnectionInfo[] = [];
  server.on('close', (i) => log.push(i));
  return log;
}

/** A CONNECT request for a domain name (ATYP 0x03). */
function domainRequest(name: Buffer, port: number): Buffer {
  return Buffer.from([5, 1, 0, 5, 1, 0, 3, name.length, ...name, port >> 8, port & 0xff]);
}

describe('faults end only their own session', () => {
  let guard: ReturnType<typeof guardProcess>;
  let proxy: Socks5Server;
  let port: number;
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let log: ClosedConnectionInfo[];
  /** A session that must survive every fault, checked after each one. */
  let bystander: Socket;
  let rounds = 0;

  const bystanderStillEchoes = async () => {
    const msg = `bystander ${rounds++}`;
    bystander.write(msg);
    assert.equal((await readBytes(bystander, msg.length, MS)).toString(), msg);
  };

  before(async () => {
    guard = guardProcess();
    proxy = new Socks5Server({ port: 0, timeouts: { handshakeMs: 5000, connectMs: 1000, idleMs: 0, bindMs: 5000 } });
    port = (await proxy.start()).port;
    log = closedLog(proxy);
    echo = await echoServer();
    const b = await socksConnect(port, echo.port);
    assert.equal(b.rep, 0);
    bystander = b.socket;
  });

  after(async () => {
    bystander.destroy();
    await proxy.stop();
    await close(echo.server);
    guard.dispose();
    assert.deepEqual(guard.errors, [], 'no uncaught exception or unhandled rejection');
  });

  it('a client whose FIN arrives with its request (while the proxy connects): the FIN reaches the target, the session ends', async () => {
    // Regression: Node emits 'end' on a paused socket when nothing is buffered, before the relay
    // listened for it; the FIN was lost and both sockets of the session stayed open for ever.
    const before = log.length;
    await pool(100, 50, async (i) => {
      const s = await tcpConnect(port);
      const payload = Buffer.from(`payload ${i}`);
      s.end(Buffer.concat([Buffer.from([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, echo.port >> 8, echo.port & 0xff]), payload]));
      const head = await readBytes(s, 2 + 10 + payload.length, MS);
      assert.equal(head[3], 0x00, 'CONNECT succeeded');
      assert.deepEqual(head.subarray(12), payload, 'the payload sent with the request was relayed');
      await closedWithin(s, MS); // the echo saw the FIN and closed; so did the proxy
    });
    await waitFor(() => log.length - before >= 100, MS, 'the 100 sessions to end');
    assert.ok(log.slice(before).every((c) => c.outcome.kind === 'closed-by-client'), 'each ended as closed by client');
    await bystanderStillEchoes();
  });

  it('a target that resets mid-stream ends that session only (the client sees the reset; no reply is due)', async () => {
    let got = 0;
    const resetter: Server = createServer((c) => {
      c.on('error', () => {});
      c.on('data', (d) => {
        got += d.length;
        if (got >= 64 * 1024) c.resetAndDestroy(); // mid-stream, with data in flight
      });
    });
    const rport = await listen(resetter);
    try {
      const before = log.length;
      const { socket, rep } = await socksConnect(port, rport);
      assert.equal(rep, 0);
      socket.write(Buffer.alloc(256 * 1024, 1));
      await closedWithin(socket, MS);
      await waitFor(() => log.length > before, MS, 'the session to end');
      const mine = log.slice(before);
      assert.equal(mine.length, 1, 'exactly one session ended');
      assert.ok(['error', 'closed-by-target'].includes(mine[0].outcome.kind), mine[0].outcome.message);
      await bystanderStillEchoes();
    } finally {
      await close(resetter);
    }
  });

  it('a client that resets mid-stream ends that session only (the target sees it close)', async () => {
    let targetClosed = false;
    let received = 0;
    const sink: Server = createServer((c) => {
      c.on('error', () => {});
      c.on('data', (d) => (received += d.length));
      c.on('close', () => (targetClosed = true));
    });
    const sport = await listen(sink);
    try {
      const before = log.length;
      const { socket, rep } = await socksConnect(port, sport);
      assert.equal(rep, 0);
      socket.write(Buffer.alloc(64 * 1024, 2));
      await waitFor(() => received > 0, MS, 'the target to receive data');
      socket.resetAndDestroy();
      await waitFor(() => targetClosed, MS, 'the target side to be closed');
      await waitFor(() => log.length > before, MS, 'the session to end');
      assert.equal(log.length - before, 1, 'exactly one session ended');
      await bystanderStillEchoes();
    } finally {
      await close(sink);
    }
  });

  it('a target that accepts and closes at once: success, then the client gets the FIN', async () => {
    const slammer: Server = createServer((c) => c.end());
    const p = await listen(slammer);
    try {
      const { socket, rep } = await socksConnect(port, p);
      assert.equal(rep, 0);
      socket.on('end', () => socket.end());
      socket.resume();
      await closedWithin(socket, MS);
      await bystanderStillEchoes();
    } finally {
      await close(slammer);
    }
  });

  it('names that do not resolve (odd bytes, too long, NUL, %) → REP 0x04 host unreachable, each on its own', async () => {
    const names = [
      Buffer.from('nonexistent.invalid'),
      Buffer.from('a\0b.invalid'),
      Buffer.from('has space.invalid'),
      Buffer.from('%.invalid'),
      Buffer.from(`${'x'.repeat(64)}.invalid`), // a label over 63 bytes
      Buffer.alloc(255, 0x79), // 255 bytes, no dot
      Buffer.from([0xff, 0xfe, 0x80]), // not UTF-8
    ];
    await Promise.all(
      names.map(async (name) => {
        const s = await tcpConnect(port);
        s.write(domainRequest(name, 80));
        const r = await readBytes(s, 12, MS);
        assert.equal(r[3], 0x04, `${JSON.stringify(name.toString('latin1').slice(0, 20))}: REP 0x${r[3].toString(16)}`);
        s.on('end', () => s.end());
        s.resume();
        await closedWithin(s, MS);
      }),
    );
    await bystanderStillEchoes();
  });

  it('a target that never accepts → REP 0x06 at the connect deadline; a client resetting meanwhile ends its session at once', async () => {
    const hole = await neverAccepting();
    try {
      const fds = await settledFdCount();
      const request = Buffer.from([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, hole.port >> 8, hole.port & 0xff]);
      // Resets while the proxy is still connecting: its session ends then, not at the deadline.
      const leaver = await tcpConnect(port);
      const leaverPort = leaver.localPort;
      leaver.write(request);
      await readBytes(leaver, 2, MS);
      await waitFor(() => proxy.connections().some((c) => c.client.port === leaverPort && c.state === 'connecting'), MS, 'the leaver to be connecting');
      const before = log.length;
      leaver.resetAndDestroy();
      await waitFor(() => log.slice(before).some((c) => c.client.port === leaverPort), MS, 'the leaver’s session to end');
      const left = log.slice(before).find((c) => c.client.port === leaverPort)!;
      assert.notEqual(left.outcome.kind, 'reply', `ended by the reset, not by a reply (${left.outcome.message})`);

      // Waits it out: gets TTL expired once connectMs (1 s here) has passed.
      const waiter = await tcpConnect(port);
      const waiterPort = waiter.localPort;
      waiter.write(request);
      const r = await readBytes(waiter, 12, MS);
      assert.equal(r[3], 0x06, `REP 0x${r[3].toString(16)} (0x06 = TTL expired, as Dante answers a connect timeout)`);
      waiter.on('end', () => waiter.end());
      await closedWithin(waiter, MS);
      await waitFor(() => log.some((c) => c.client.port === waiterPort), MS, 'the waiter’s session to end');
      const waited = log.find((c) => c.client.port === waiterPort)!;
      assert.equal(waited.outcome.kind, 'reply');
      assert.equal(waited.outcome.reply, 0x06);
      await bystanderStillEchoes();
      // Both outbound attempts were abandoned: no fd left behind.
      await waitFor(() => fdCount() <= fds, MS, () => `fds back to ${fds} (now ${fdCount()})`);
    } finally {
      await hole.dispose();
    }
  });
});
