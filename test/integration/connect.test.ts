// CONNECT and RFC 1929 auth against a live server, with real clients: curl, the `socks` npm
// client, and raw bytes for the cases no client library will send.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SocksClient, SocksClientError } from 'socks';
import { Socks5Server } from '../../src/engine';
import {
  RawClient,
  close,
  closedPort,
  connectRequest,
  echoServer,
  eventually,
  httpServer,
  listen,
  neverAccepting,
  run,
  startProxy,
} from '../support/net';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('CONNECT without auth', () => {
  let proxy: Socks5Server;
  let port: number;
  let http: Awaited<ReturnType<typeof httpServer>>;
  let echo4: Awaited<ReturnType<typeof echoServer>>;
  let echo6: Awaited<ReturnType<typeof echoServer>>;

  before(async () => {
    ({ server: proxy, port } = await startProxy());
    http = await httpServer('hello through socks5\n');
    echo4 = await echoServer('127.0.0.1');
    echo6 = await echoServer('::1');
  });
  after(async () => {
    await proxy.stop();
    await Promise.all([close(http.server), close(echo4.server), close(echo6.server)]);
  });

  it('curl --socks5 fetches a page by IP', async () => {
    const r = await run('curl', ['-sS', '--max-time', '10', '--socks5', `127.0.0.1:${port}`, `http://127.0.0.1:${http.port}/`]);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'hello through socks5\n');
  });

  it('curl --socks5-hostname has the proxy resolve the name', async () => {
    const r = await run('curl', ['-sS', '--max-time', '10', '--socks5-hostname', `127.0.0.1:${port}`, `http://localhost:${http.port}/`]);
    assert.equal(r.stdout, 'hello through socks5\n');
    await eventually(() => proxy.recentlyClosed().some((c) => c.destination?.type === 'domain'), 5000, 'the session to close');
    const last = proxy.recentlyClosed().find((c) => c.destination?.type === 'domain')!;
    assert.equal(last.destination?.host, 'localhost');
    assert.equal(last.remote?.host, '127.0.0.1');
    assert.ok(last.bytesDown > 0 && last.bytesUp > 0, 'bytes counted both ways');
  });

  for (const [name, host, which] of [
    ['IPv4 127.0.0.1', '127.0.0.1', 'echo4'],
    ['IPv6 ::1', '::1', 'echo6'],
    ['domain localhost', 'localhost', 'echo4'],
  ] as const) {
    it(`socks client: 1 MiB each way byte-exact to ${name}`, async () => {
      const target = which === 'echo4' ? echo4 : echo6;
      const { socket, remoteHost } = await SocksClient.createConnection({
        proxy: { host: '127.0.0.1', port, type: 5 },
        command: 'connect',
        destination: { host, port: target.port },
        timeout: 5000,
      });
      assert.ok(remoteHost, 'reply carries BND.ADDR');
      const payload = randomBytes(1024 * 1024);
      const chunks: Buffer[] = [];
      let got = 0;
      socket.on('data', (d: Buffer) => {
        chunks.push(d);
        got += d.length;
        if (got >= payload.length) socket.end();
      });
      socket.write(payload);
      await once(socket, 'close');
      const back = Buffer.concat(chunks);
      assert.equal(back.length, payload.length);
      assert.equal(sha(back), sha(payload));
    });
  }

  it('success reply carries the outbound socket’s real local address and port', async () => {
    const seen: Array<{ port: number; addr: string }> = [];
    const target = createServer((s) => {
      seen.push({ port: s.remotePort!, addr: s.remoteAddress! });
      s.end();
    });
    const tport = await listen(target);
    try {
      const c = await RawClient.open(port);
      c.write([0x05, 0x01, 0x00, ...connectRequest('127.0.0.1', tport)]);
      assert.deepEqual([...(await c.read(2))], [0x05, 0x00]);
      const reply = await c.read(10);
      assert.equal(reply[1], 0x00);
      assert.deepEqual([...reply.subarray(4, 8)], [127, 0, 0, 1]);
      await eventually(() => seen.length === 1);
      assert.equal(reply.readUInt16BE(8), seen[0].port);
      c.destroy();
    } finally {
      await close(target);
    }
  });

  it('carries half-close: a client that sends then FINs still gets the whole answer', async () => {
    const answer = randomBytes(256 * 1024);
    const target = createServer({ allowHalfOpen: true }, (s) => {
      const got: Buffer[] = [];
      s.on('data', (d) => got.push(d));
      s.on('end', () => {
        // Only after the client's FIN arrives through the proxy does the target answer.
        assert.equal(Buffer.concat(got).toString(), 'REQUEST');
        s.end(answer);
      });
    });
    const tport = await listen(target);
    try {
      const c = await RawClient.open(port);
      c.write([0x05, 0x01, 0x00, ...connectRequest('127.0.0.1', tport)]);
      await c.read(12);
      c.write(Buffer.from('REQUEST'));
      c.socket.end();
      const body = await c.readToEnd();
      assert.equal(sha(body), sha(answer));
    } finally {
      await close(target);
    }
  });

  it('accepts greeting + request + payload in one segment, and any byte-by-byte split', async () => {
    const all = Buffer.from([0x05, 0x01, 0x00, ...connectRequest('127.0.0.1', echo4.port), ...Buffer.from('ping')]);
    const one = await RawClient.open(port);
    one.write(all);
    const r1 = await one.read(2 + 10 + 4);
    assert.equal(r1.subarray(12).toString(), 'ping');
    one.destroy();

    const split = await RawClient.open(port);
    for (const b of all) {
      split.write([b]);
      await new Promise((r) => setTimeout(r, 2));
    }
    const r2 = await split.read(2 + 10 + 4);
    assert.equal(r2[3], 0x00, 'REP succeeded');
    assert.equal(r2[5], 0x01, 'ATYP IPv4');
    assert.equal(r2.subarray(12).toString(), 'ping');
    split.destroy();
  });

  it('a target that resets mid-stream: the client gets a reset too, not a clean end', async () => {
    const target = createServer((s) => {
      s.on('error', () => {});
      s.write(Buffer.alloc(1000, 7), () => setTimeout(() => s.resetAndDestroy(), 50));
    });
    const tport = await listen(target);
    try {
      const c = await RawClient.open(port);
      let clientError: NodeJS.ErrnoException | undefined;
      c.socket.on('error', (e) => (clientError = e));
      c.write([0x05, 0x01, 0x00, ...connectRequest('127.0.0.1', tport)]);
      await c.read(12 + 1000);
      await c.waitClosed();
      await eventually(() => c.closed, 5000, 'the client socket to close');
      assert.equal(clientError?.code, 'ECONNRESET');
      assert.equal(c.ended, false, 'no FIN before the reset');
    } finally {
      await close(target);
    }
  });

  it('refused port → REP 0x05, then close', async () => {
    const dead = await closedPort();
    const c = await RawClient.open(port);
    c.write([0x05, 0x01, 0x00, ...connectRequest('127.0.0.1', dead)]);
    const reply = await c.readToEnd();
    assert.deepEqual([...reply], [0x05, 0x00, 0x05, 0x05, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
    await eventually(() => proxy.recentlyClosed()[0]?.outcome.reply === 0x05);
  });

  it('unknown CMD → REP 0x07', async () => {
    const c = await RawClient.open(port);
    c.write([0x05, 0x01, 0x00, ...connectRequest('127.0.0.1', 80, 0x09)]);
    const reply = await c.readToEnd();
    assert.equal(reply.length, 12);
    assert.equal(reply[3], 0x07);
  });

  it('unknown ATYP → REP 0x08', async () => {
    const c = await RawClient.open(port);
    c.write([0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x07, 1, 2, 3, 4, 0, 80]);
    const reply = await c.readToEnd();
    assert.equal(reply.length, 12);
    assert.equal(reply[3], 0x08);
  });

  it('unresolvable name (nonexistent.invalid) → REP 0x04', async () => {
    await assert.rejects(
      SocksClient.createConnection({
        proxy: { host: '127.0.0.1', port, type: 5 },
        command: 'connect',
        destination: { host: 'nonexistent.invalid', port: 80 },
        timeout: 8000,
      }),
      (err: unknown) => err instanceof SocksClientError && /HostUnreachable/.test(err.message),
    );
    await eventually(() => proxy.recentlyClosed().some((c) => c.destination?.host === 'nonexistent.invalid' && c.outcome.reply === 0x04));
  });

  it('client offering only GSSAPI gets 0xFF and is closed', async () => {
    const c = await RawClient.open(port);
    c.write([0x05, 0x01, 0x01]);
    assert.deepEqual([...(await c.readToEnd())], [0x05, 0xff]);
  });

  it('garbage and wrong versions close the connection promptly', async () => {
    // (`GET ` is no longer garbage: an ASCII letter first is the HTTP door's; a TLS ClientHello is nobody's.)
    for (const bytes of [[0x16, 0x03, 0x01, 0x00], [0x05, 0x00], [0x05, 0x01, 0x00, 0x04, 0x01, 0x00]]) {
      const c = await RawClient.open(port);
      c.write(bytes);
      await c.waitClosed();
    }
    // and the proxy still serves
    const r = await run('curl', ['-sS', '--max-time', '10', '--socks5', `127.0.0.1:${port}`, `http://127.0.0.1:${http.port}/`]);
    assert.equal(r.stdout, 'hello through socks5\n');
  });

  it('reports each connection in the snapshot while it is open', async () => {
    const c = await RawClient.open(port);
    c.write([0x05, 0x01, 0x00, ...connectRequest('127.0.0.1', echo4.port)]);
    await c.read(12);
    c.write(Buffer.alloc(1000, 1));
    await c.read(1000);
    const mine = proxy.connections().find((x) => x.client.port === c.socket.localPort);
    assert.ok(mine);
    assert.equal(mine.state, 'established');
    assert.equal(mine.command, 'connect');
    assert.equal(mine.bytesUp, 1000);
    assert.equal(mine.bytesDown, 1000);
    assert.equal(mine.remote?.port, echo4.port);
    assert.ok(proxy.closeConnection(mine.id));
    await c.waitClosed();
    assert.equal(proxy.recentlyClosed()[0].outcome.kind, 'closed-by-user');
  });
});

describe('CONNECT to a name with several addresses', () => {
  it('an address that never answers does not use up the connect timeout: the next one is tried beside it', async () => {
    const echo = await echoServer('127.0.0.1');
    const hole = await neverAccepting('127.0.0.2', echo.port);
    const asked: string[] = [];
    const { server, port } = await startProxy({
      timeouts: { handshakeMs: 10_000, connectMs: 4000, idleMs: 0, bindMs: 60_000 },
      resolve: async (host) => {
        asked.push(host);
        return ['127.0.0.2', '127.0.0.1']; // the silent one first, as a broken IPv6 route would be
      },
    });
    try {
      const { socket } = await SocksClient.createConnection({
        proxy: { host: '127.0.0.1', port, type: 5 },
        command: 'connect',
        destination: { host: 'two-addresses.test', port: echo.port },
        timeout: 8000,
      });
      socket.write('hi');
      const [back] = (await once(socket, 'data')) as [Buffer];
      assert.equal(back.toString(), 'hi');
      assert.deepEqual(asked, ['two-addresses.test']);
      assert.equal(server.connections()[0]?.remote?.host, '127.0.0.1');
      socket.destroy();
    } finally {
      await server.stop();
      await hole.dispose();
      await close(echo.server);
    }
  });
});

describe('CONNECT with username/password (RFC 1929)', () => {
  let proxy: Socks5Server;
  let port: number;
  let http: Awaited<ReturnType<typeof httpServer>>;
  const logs: string[] = [];

  before(async () => {
    const log = (m: string) => logs.push(m);
    ({ server: proxy, port } = await startProxy({
      users: new Map([['alice', 'correct horse']]),
      logger: { debug: log, info: log, warn: log, error: log },
    }));
    http = await httpServer('secret page\n');
  });
  after(async () => {
    await proxy.stop();
    await close(http.server);
  });

  it('curl with the right password gets through', async () => {
    const r = await run('curl', ['-sS', '--max-time', '10', '--socks5', `127.0.0.1:${port}`, '--proxy-user', 'alice:correct horse', `http://127.0.0.1:${http.port}/`]);
    assert.equal(r.stdout, 'secret page\n');
    await eventually(() => proxy.recentlyClosed()[0]?.user === 'alice', 5000, 'the session to close');
  });

  it('curl with a wrong password is refused; the log names the user, never the password', async () => {
    const r = await run('curl', ['-sS', '--max-time', '10', '--socks5', `127.0.0.1:${port}`, '--proxy-user', 'alice:wrong-guess', `http://127.0.0.1:${http.port}/`]);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    await eventually(() => proxy.recentlyClosed()[0]?.outcome.kind === 'auth-failed');
    assert.ok(logs.some((l) => l.includes('authentication failed') && l.includes('"alice"')));
    assert.ok(!logs.some((l) => l.includes('wrong-guess') || l.includes('correct horse')));
  });

  it('curl without credentials is refused (0xFF: no bypass by offering only no-auth)', async () => {
    const r = await run('curl', ['-sS', '--max-time', '10', '--socks5', `127.0.0.1:${port}`, `http://127.0.0.1:${http.port}/`]);
    assert.notEqual(r.code, 0);
    const c = await RawClient.open(port);
    c.write([0x05, 0x01, 0x00]);
    assert.deepEqual([...(await c.readToEnd())], [0x05, 0xff]);
  });

  it('the socks client authenticates, with greeting + auth + request coalesced by a raw client too', async () => {
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port, type: 5, userId: 'alice', password: 'correct horse' },
      command: 'connect',
      destination: { host: '127.0.0.1', port: http.port },
      timeout: 5000,
    });
    socket.destroy();
    const u = Buffer.from('alice');
    const p = Buffer.from('correct horse');
    const c = await RawClient.open(port);
    c.write(Buffer.from([0x05, 0x01, 0x02, 0x01, u.length, ...u, p.length, ...p, ...connectRequest('127.0.0.1', http.port)]));
    const r = await c.read(2 + 2 + 10);
    assert.deepEqual([...r.subarray(0, 4)], [0x05, 0x02, 0x01, 0x00]);
    assert.equal(r[5], 0x00);
    c.destroy();
  });

  it('a malformed auth message gets status failure and a close', async () => {
    const c = await RawClient.open(port);
    c.write([0x05, 0x01, 0x02, 0x01, 0x00]);
    assert.deepEqual([...(await c.readToEnd())], [0x05, 0x02, 0x01, 0x01]);
  });
});

describe('limits and timeouts', () => {
  it('closes a client that does not finish its handshake in time', async () => {
    const { server, port } = await startProxy({ timeouts: { handshakeMs: 300, connectMs: 10_000, idleMs: 0, bindMs: 60_000 } });
    try {
      const silent = await RawClient.open(port);
      const partial = await RawClient.open(port);
      partial.write([0x05, 0x01]);
      await silent.waitClosed();
      await partial.waitClosed();
      await eventually(() => server.recentlyClosed().filter((c) => c.outcome.kind === 'handshake-timeout').length === 2);
    } finally {
      await server.stop();
    }
  });

  it('refuses clients over maxConnections and logs it (established sessions are kept)', async () => {
    const warnings: string[] = [];
    const { server, port } = await startProxy({
      maxConnections: 2,
      logger: { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} },
    });
    const echo = await echoServer();
    // Established (past the handshake): never cut to make room for a newcomer.
    const established = async (): Promise<RawClient> => {
      const c = await RawClient.open(port);
      c.write([0x05, 0x01, 0x00, ...connectRequest('127.0.0.1', echo.port)]);
      assert.equal((await c.read(2 + 10))[3], 0x00);
      return c;
    };
    try {
      const a = await established();
      const b = await established();
      const c = await RawClient.open(port);
      await c.waitClosed();
      assert.ok(warnings.some((w) => w.includes('maxConnections')));
      // A flood of refusals is one log line, not one per client.
      for (let i = 0; i < 10; i++) await (await RawClient.open(port)).waitClosed();
      assert.equal(server.stats().refused, 11);
      assert.equal(warnings.filter((w) => w.includes('maxConnections')).length, 1);
      assert.equal(a.closed || b.closed, false);
      a.destroy();
      await eventually(() => server.stats().active === 1);
      const d = await RawClient.open(port);
      d.write([0x05, 0x01, 0x00]);
      assert.deepEqual([...(await d.read(2))], [0x05, 0x00]);
      b.destroy();
      d.destroy();
    } finally {
      await server.stop();
      await close(echo.server);
    }
  });

  it('at maxConnections a newcomer cuts a connection still in its handshake, the longest silent first', async () => {
    const { server, port } = await startProxy({ maxConnections: 3, maxHandshakes: 3 });
    try {
      // The oldest is not the one cut: it greeted after the silent one connected.
      const greeted = await RawClient.open(port);
      await eventually(() => server.stats().active === 1);
      const silent = await RawClient.open(port);
      await eventually(() => server.stats().active === 2);
      await new Promise((r) => setTimeout(r, 5));
      greeted.write([0x05, 0x01, 0x00]);
      assert.deepEqual([...(await greeted.read(2))], [0x05, 0x00]);
      const third = await RawClient.open(port);
      await eventually(() => server.stats().active === 3);
      // Full: the next one gets in, and the silent one (silent longest) makes room.
      const newcomer = await RawClient.open(port);
      newcomer.write([0x05, 0x01, 0x00]);
      assert.deepEqual([...(await newcomer.read(2))], [0x05, 0x00]);
      await silent.waitClosed();
      assert.equal(greeted.closed || third.closed, false);
      assert.equal(server.stats().shed, 1);
      assert.equal(server.stats().refused, 0);
      assert.equal(server.recentlyClosed()[0].outcome.shed, true);
      for (const c of [greeted, third, newcomer]) c.destroy();
    } finally {
      await server.stop();
    }
  });

  it('a disabled command answers 0x07', async () => {
    const { server, port } = await startProxy({ commands: { connect: false, bind: true, udpAssociate: true } });
    try {
      const c = await RawClient.open(port);
      c.write([0x05, 0x01, 0x00, ...connectRequest('127.0.0.1', 80)]);
      const r = await c.readToEnd();
      assert.equal(r[3], 0x07);
    } finally {
      await server.stop();
    }
  });

  it('stop() closes every session and releases the port at once', async () => {
    const echo = await echoServer();
    const { server, port } = await startProxy();
    const clients: RawClient[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await RawClient.open(port);
      c.write([0x05, 0x01, 0x00, ...connectRequest('127.0.0.1', echo.port)]);
      clients.push(c);
    }
    for (const c of clients) await c.read(12);
    await server.stop();
    for (const c of clients) await c.waitClosed();
    assert.equal(server.stats().active, 0);
    const again: Server = createServer();
    again.listen(port, '127.0.0.1');
    await once(again, 'listening');
    await close(again);
    await close(echo.server);
  });

  it('start() on a port in use rejects with EADDRINUSE and a readable message', async () => {
    const holder = createServer();
    const held = await listen(holder);
    try {
      const s = new Socks5Server({ host: '127.0.0.1', port: held });
      await assert.rejects(s.start(), (e: unknown) => (e as { code?: string }).code === 'EADDRINUSE' && /already in use/.test((e as Error).message));
      assert.equal(s.running, false);
    } finally {
      await close(holder);
    }
  });
});
