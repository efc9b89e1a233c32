// The upstream clients (SOCKS5, HTTP CONNECT) against real servers on loopback: this project's
// own engine in-process as the SOCKS5 upstream, Node's HTTP server as the CONNECT upstream.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Socks5Server } from '../../src/engine';
import { openTunnel, type UpstreamDeps } from '../../src/engine/upstream/dial';
import { UpstreamError } from '../../src/engine/upstream/errors';
import { nextReply } from '../../src/engine/upstream/socks5';
import { parseUpstreamUrl, type UpstreamProxy } from '../../src/engine/upstream/url';
import { CMD, encodeUdpHeader, parseUdpHeader } from '../../src/engine/protocol/socks5/wire';
import { close, closedPort, echoServer, listen, readN, startProxy, within } from '../support/net';

function tcp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    s.once('error', reject);
    s.once('connect', () => {
      s.removeListener('error', reject);
      resolve(s);
    });
  });
}

const deps = (o: Partial<UpstreamDeps> = {}): UpstreamDeps => ({
  connect: (host, port) => tcp(host, port),
  resolve: async () => ['127.0.0.1'],
  timeoutMs: 2000,
  ...o,
});

function upstream(url: string, password?: string): UpstreamProxy {
  const r = parseUpstreamUrl(url, password === undefined ? {} : { password });
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}

async function rejected(p: Promise<unknown>): Promise<UpstreamError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof UpstreamError, `an UpstreamError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

async function echoes(socket: Socket): Promise<void> {
  socket.write('ping');
  assert.equal((await readN(socket, 4)).toString(), 'ping');
  socket.destroy();
}

describe('SOCKS5 upstream client (this engine as the upstream)', () => {
  let open: Socks5Server;
  let openPort: number;
  let authed: Socks5Server;
  let authedPort: number;
  let echo: Awaited<ReturnType<typeof echoServer>>;

  before(async () => {
    ({ server: open, port: openPort } = await startProxy());
    ({ server: authed, port: authedPort } = await startProxy({ users: new Map([['alice', 's3cret']]) }));
    echo = await echoServer();
  });
  after(async () => {
    await Promise.all([open.stop(), authed.stop(), close(echo.server)]);
  });

  it('socks5h:// passes the name; the upstream resolves it', async () => {
    const t = await openTunnel(upstream(`socks5h://127.0.0.1:${openPort}`), CMD.CONNECT, { host: 'localhost', port: echo.port }, deps());
    t.socket.resume();
    await echoes(t.socket);
    assert.equal(t.reply?.rep, 0);
    const seen = open.recentlyClosed()[0] ?? open.connections()[0];
    assert.equal(seen?.destination?.type, 'domain');
    assert.equal(seen?.destination?.host, 'localhost');
  });

  it('socks5:// resolves here (through the resolver given) and sends the address', async () => {
    const asked: string[] = [];
    const resolve = async (h: string) => (asked.push(h), ['127.0.0.1']);
    const t = await openTunnel(upstream(`socks5://127.0.0.1:${openPort}`), CMD.CONNECT, { host: 'upstream.test', port: echo.port }, deps({ resolve }));
    t.socket.resume();
    await echoes(t.socket);
    assert.deepEqual(asked, ['upstream.test']);
    const e = await rejected(
      openTunnel(upstream(`socks5://127.0.0.1:${openPort}`), CMD.CONNECT, { host: 'nx.test', port: 1 }, deps({ resolve: async () => Promise.reject(Object.assign(new Error('x'), { code: 'ENOTFOUND' })) })),
    );
    assert.equal(e.kind, 'host-unreachable');
  });

  it('authenticates with RFC 1929; a wrong password or none is a general failure naming the upstream', async () => {
    const t = await openTunnel(upstream(`socks5h://alice@127.0.0.1:${authedPort}`, 's3cret'), CMD.CONNECT, { host: '127.0.0.1', port: echo.port }, deps());
    t.socket.resume();
    await echoes(t.socket);
    const wrong = await rejected(openTunnel(upstream(`socks5h://alice@127.0.0.1:${authedPort}`, 'nope'), CMD.CONNECT, { host: '127.0.0.1', port: echo.port }, deps()));
    assert.equal(wrong.kind, 'general');
    assert.match(wrong.message, new RegExp(`upstream socks5h://alice@127\\.0\\.0\\.1:${authedPort} rejected the user name and password`));
    assert.ok(!wrong.message.includes('nope'));
    const none = await rejected(openTunnel(upstream(`socks5h://127.0.0.1:${authedPort}`), CMD.CONNECT, { host: '127.0.0.1', port: echo.port }, deps()));
    assert.match(none.message, /requires authentication/);
  });

  it("passes the upstream's own reply on (refused 0x05)", async () => {
    const e = await rejected(openTunnel(upstream(`socks5h://127.0.0.1:${openPort}`), CMD.CONNECT, { host: '127.0.0.1', port: await closedPort() }, deps()));
    assert.equal(e.upstreamReply, 0x05);
    assert.equal(e.kind, 'refused');
    assert.match(e.message, /answered refused \(0x05\) for 127\.0\.0\.1:1/);
  });

  it('an upstream that is down is a general failure naming it', async () => {
    const e = await rejected(openTunnel(upstream(`socks5h://alice@127.0.0.1:${await closedPort()}`, 'pw'), CMD.CONNECT, { host: 'x', port: 1 }, deps()));
    assert.equal(e.kind, 'general');
    assert.equal(e.upstreamReply, undefined);
    assert.match(e.message, /upstream socks5h:\/\/alice@127\.0\.0\.1:1 is unreachable: connection refused/);
  });

  it('an upstream that accepts and never answers times out within the deadline', async () => {
    const silent = createServer((s) => s.on('error', () => {}));
    const port = await listen(silent);
    try {
      const started = Date.now();
      const e = await rejected(openTunnel(upstream(`socks5h://127.0.0.1:${port}`), CMD.CONNECT, { host: 'x', port: 1 }, deps({ timeoutMs: 300 })));
      assert.equal(e.kind, 'timeout');
      assert.match(e.message, /did not answer within 300 ms/);
      assert.ok(Date.now() - started < 2000);
    } finally {
      await close(silent);
    }
  });

  it('something that is not SOCKS5 is a general failure, read no further than the reply', async () => {
    const http = createServer((s) => {
      s.on('error', () => {});
      s.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    const port = await listen(http);
    try {
      const e = await rejected(openTunnel(upstream(`socks5h://127.0.0.1:${port}`), CMD.CONNECT, { host: 'x', port: 1 }, deps()));
      assert.equal(e.kind, 'general');
      assert.match(e.message, /not a SOCKS5 server \(answered 0x48\)/);
    } finally {
      await close(http);
    }
  });

  it('BIND: both replies come through, then the peer is relayed', async () => {
    const t = await openTunnel(upstream(`socks5h://127.0.0.1:${openPort}`), CMD.BIND, { host: '0.0.0.0', port: 0 }, deps());
    const first = t.reply!;
    assert.ok(first.port > 0);
    const peer = await tcp(first.host, first.port);
    const second = await within(nextReply(t.socket, upstream(`socks5h://127.0.0.1:${openPort}`), { host: '0.0.0.0', port: 0 }), 'the second reply');
    assert.equal(second.port, peer.localPort);
    t.socket.resume();
    peer.write('from peer');
    assert.equal((await readN(t.socket, 9)).toString(), 'from peer');
    peer.destroy();
    t.socket.destroy();
  });

  it('UDP ASSOCIATE: the reply names a relay that carries datagrams', async () => {
    const target = createSocket('udp4');
    target.on('message', (m, r) => target.send(m, r.port, r.address));
    target.bind(0, '127.0.0.1');
    await once(target, 'listening');
    const client = createSocket('udp4');
    client.bind(0, '127.0.0.1');
    await once(client, 'listening');
    try {
      const t = await openTunnel(upstream(`socks5h://127.0.0.1:${openPort}`), CMD.UDP_ASSOCIATE, { host: '127.0.0.1', port: client.address().port }, deps());
      const relay = t.reply!;
      const got = once(client, 'message');
      client.send([encodeUdpHeader('127.0.0.1', target.address().port), Buffer.from('dgram')], relay.port, relay.host);
      const [msg] = (await within(got, 'the echoed datagram')) as [Buffer];
      const h = parseUdpHeader(msg);
      assert.ok(h.ok);
      assert.equal(msg.subarray(h.value.dataOffset).toString(), 'dgram');
      t.socket.destroy();
    } finally {
      target.close();
      client.close();
    }
  });
});

describe('HTTP CONNECT upstream client (Node HTTP server as the upstream)', () => {
  let proxy: ReturnType<typeof createHttpServer>;
  let port: number;
  let echo: Awaited<ReturnType<typeof echoServer>>;
  const seen: Array<{ url: string | undefined; auth: string | undefined }> = [];

  before(async () => {
    echo = await echoServer();
    proxy = createHttpServer();
    proxy.on('connect', (req, socket: Socket, head) => {
      socket.on('error', () => {});
      seen.push({ url: req.url, auth: req.headers['proxy-authorization'] });
      if (req.headers['proxy-authorization'] === undefined && req.url?.startsWith('auth.test')) {
        socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="x"\r\n\r\n');
        return;
      }
      if (req.url?.startsWith('denied.test')) {
        socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
        return;
      }
      const out = connect({ host: '127.0.0.1', port: echo.port }, () => {
        // The tunnel's first bytes in the same segment as the head: they must not be lost.
        socket.write('HTTP/1.1 200 Connection established\r\n\r\nhello');
        out.write(head);
        out.pipe(socket);
        socket.pipe(out);
      });
      out.on('error', () => socket.destroy());
    });
    port = await listen(proxy);
  });
  after(async () => {
    await Promise.all([close(proxy), close(echo.server)]);
  });

  it('opens a tunnel by name, keeps bytes sent with the head, sends Basic credentials', async () => {
    const t = await openTunnel(upstream(`http://bob@127.0.0.1:${port}`, 'pw'), CMD.CONNECT, { host: 'echo.test', port: echo.port }, deps());
    t.socket.resume();
    assert.equal((await readN(t.socket, 5)).toString(), 'hello');
    await echoes(t.socket);
    assert.equal(seen.at(-1)?.url, `echo.test:${echo.port}`);
    assert.equal(seen.at(-1)?.auth, `Basic ${Buffer.from('bob:pw').toString('base64')}`);
  });

  it('IPv6 targets go in brackets', async () => {
    const t = await openTunnel(upstream(`http://127.0.0.1:${port}`), CMD.CONNECT, { host: '::1', port: echo.port }, deps());
    t.socket.destroy();
    assert.equal(seen.at(-1)?.url, `[::1]:${echo.port}`);
  });

  it('407 and 403 are failures naming the upstream and the status', async () => {
    const e407 = await rejected(openTunnel(upstream(`http://127.0.0.1:${port}`), CMD.CONNECT, { host: 'auth.test', port: 1 }, deps()));
    assert.equal(e407.httpStatus, 407);
    assert.equal(e407.kind, 'general');
    assert.match(e407.message, new RegExp(`upstream http://127\\.0\\.0\\.1:${port} answered 407 Proxy Authentication Required to CONNECT auth\\.test:1 \\(it requires a user and password\\)`));
    const e403 = await rejected(openTunnel(upstream(`http://127.0.0.1:${port}`), CMD.CONNECT, { host: 'denied.test', port: 1 }, deps()));
    assert.equal(e403.kind, 'not-allowed');
  });

  it('BIND and UDP cannot go through an HTTP upstream', async () => {
    const e = await rejected(openTunnel(upstream(`http://127.0.0.1:${port}`), CMD.BIND, { host: '0.0.0.0', port: 0 }, deps()));
    assert.equal(e.kind, 'unsupported-command');
    assert.match(e.message, /HTTP proxy: it carries CONNECT only/);
  });

  it('a name that would break the request line is never sent', async () => {
    const before = seen.length;
    const e = await rejected(openTunnel(upstream(`http://127.0.0.1:${port}`), CMD.CONNECT, { host: 'a b\r\nX-Evil: 1', port: 1 }, deps()));
    assert.equal(e.kind, 'host-unreachable');
    assert.equal(seen.length, before);
  });
});
