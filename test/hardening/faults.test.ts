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
});
