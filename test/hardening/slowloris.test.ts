// Slowloris: clients that connect and say nothing, and clients that dribble a valid handshake a
// byte at a time, are closed at the handshake deadline — the deadline covers greeting + auth +
// request as a whole, and bytes arriving do not push it back — while normal clients are served
// throughout, and a session past its handshake is not subject to that deadline.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Socks5Server, type ClosedConnectionInfo } from '../../src/engine';
import { close, echoServer } from '../support/net';
import { closedWithin, echoThrough, guardProcess, knob, readBytes, sleep, socksConnect, tcpConnect, waitFor, type Creds } from './support';

const HANDSHAKE_MS = 1000;
const EACH = knob('SLOWLORIS_CLIENTS', 50);
const CREDS: Creds = { user: 'alice', pass: 'slow and steady' };

/** greeting (with 10 methods) + CONNECT to localhost:port by name: 32 bytes. */
function slowHandshake(port: number): Buffer {
  const name = Buffer.from('localhost');
  return Buffer.from([5, 10, 9, 8, 7, 6, 5, 4, 3, 1, 2, 0, 5, 1, 0, 3, name.length, ...name, port >> 8, port & 0xff]);
}

/** greeting + RFC 1929 auth (right credentials) + CONNECT. */
function slowAuthHandshake(port: number): Buffer {
  const u = Buffer.from(CREDS.user);
  const p = Buffer.from(CREDS.pass);
  return Buffer.from([5, 1, 2, 1, u.length, ...u, p.length, ...p, 5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 0xff]);
}

interface Dribbler {
  socket: Socket;
  sent: number;
  total: number;
  received: Buffer;
  done: Promise<void>;
}

/** Writes `bytes` one at a time, `everyMs` apart, until done or the server closes us. */
async function dribble(proxyPort: number, bytes: Buffer, everyMs: number): Promise<Dribbler> {
  const socket = await tcpConnect(proxyPort);
  const d: Dribbler = { socket, sent: 0, total: bytes.length, received: Buffer.alloc(0), done: Promise.resolve() };
  socket.on('data', (b: Buffer) => (d.received = Buffer.concat([d.received, b])));
  socket.on('end', () => socket.end());
  d.done = (async () => {
    while (d.sent < bytes.length && !socket.closed && !socket.readableEnded) {
      socket.write(bytes.subarray(d.sent, d.sent + 1));
      d.sent++;
      await sleep(everyMs);
    }
  })();
  return d;
}

describe('slowloris', () => {
  let guard: ReturnType<typeof guardProcess>;
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let open: Socks5Server;
  let auth: Socks5Server;
  const closed: ClosedConnectionInfo[] = [];

  before(async () => {
    guard = guardProcess();
    echo = await echoServer();
    const timeouts = { handshakeMs: HANDSHAKE_MS, connectMs: 5000, idleMs: 0, bindMs: 5000 };
    open = new Socks5Server({ port: 0, timeouts, maxConnections: 1000 });
    auth = new Socks5Server({ port: 0, timeouts, maxConnections: 1000, users: new Map([[CREDS.user, CREDS.pass]]) });
    await open.start();
    await auth.start();
    open.on('close', (i) => closed.push(i));
    auth.on('close', (i) => closed.push(i));
  });

  after(async () => {
    await open.stop();
    await auth.stop();
    await close(echo.server);
    guard.dispose();
  });

  it(`closes ${EACH} silent, ${EACH} byte-a-second and ${2 * EACH} byte-every-200-ms clients at the deadline, serving others meanwhile`, async (t) => {
    const openPort = open.address!.port;
    const authPort = auth.address!.port;

    // A session established before the attack, silent for longer than the deadline: it must survive.
    const early = await socksConnect(openPort, echo.port);
    assert.equal(early.rep, 0);

    const silent = await Promise.all(
      Array.from({ length: EACH }, async () => {
        const s = await tcpConnect(openPort);
        s.on('end', () => s.end()); // a closed socket is one whose FIN we saw and answered
        s.resume();
        return s;
      }),
    );
    const slow: Dribbler[] = [];
    for (let i = 0; i < EACH; i++) slow.push(await dribble(openPort, slowHandshake(echo.port), 1000)); // byte a second
    for (let i = 0; i < EACH; i++) slow.push(await dribble(openPort, slowHandshake(echo.port), 200));
    for (let i = 0; i < EACH; i++) slow.push(await dribble(authPort, slowAuthHandshake(echo.port), 200));

    // Normal clients are served while all of that is pending.
    await echoThrough(openPort, echo.port);
    await echoThrough(authPort, echo.port, CREDS);

    // Every slow client is closed by the server (bounded wait: deadline plus generous slack).
    await Promise.all([...silent.map((s) => closedWithin(s, HANDSHAKE_MS + 10_000)), ...slow.map((d) => closedWithin(d.socket, HANDSHAKE_MS + 10_000))]);
    await Promise.all(slow.map((d) => d.done));
    for (const d of slow) {
      assert.ok(d.sent < d.total, `a dribbler was cut off before finishing its handshake (${d.sent}/${d.total} bytes sent)`);
      assert.ok(d.received.length <= 2 + 2, `and got no CONNECT reply (received ${d.received.toString('hex')})`);
    }
    await waitFor(() => closed.filter((c) => c.outcome.kind === 'handshake-timeout').length >= 4 * EACH, 5000, 'the handshake-timeout outcomes');
    const timeouts = closed.filter((c) => c.outcome.kind === 'handshake-timeout');
    assert.equal(timeouts.length, 4 * EACH, 'each slow client ended as a handshake timeout, nothing else did');
    assert.ok(timeouts.every((c) => c.command === undefined && c.user === undefined), 'none got as far as a command or a login');
    t.diagnostic(`${timeouts.length} handshake timeouts; sample: ${timeouts[0].outcome.message}`);

    // The established session was silent for longer than the handshake deadline and still works.
    assert.equal(early.socket.closed, false);
    early.socket.write('still here');
    assert.equal((await readBytes(early.socket, 10)).toString(), 'still here');
    early.socket.destroy();
    await waitFor(() => open.stats().active === 0 && auth.stats().active === 0, 5000, 'all sessions to end');
    assert.deepEqual(guard.errors, []);
  });
});
