// The HTTP door against a live server: curl as the client (forwarding, CONNECT to a TLS origin,
// --proxy-user), raw bytes for framing (keep-alive, pipelining, chunked both ways, HEAD/204/304,
// close-delimited responses, 100-continue), every error status, and the PAC file / status page.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Socks5Server } from '../../src/engine';
import { originServer, readResponse, selfSignedCert, tlsServer, type TlsFiles } from '../support/http';
import { RawClient, close, closedPort, eventually, listen, neverAccepting, run, startProxy } from '../support/net';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const curl = (args: string[]) => run('curl', ['-sS', '--max-time', '15', ...args], 20_000);

describe('HTTP proxy: forwarding and CONNECT with curl', () => {
  let proxy: Socks5Server;
  let port: number;
  let origin: Awaited<ReturnType<typeof originServer>>;
  let tls: TlsFiles;
  let https: Awaited<ReturnType<typeof tlsServer>>;

  before(async () => {
    ({ server: proxy, port } = await startProxy());
    origin = await originServer();
    tls = selfSignedCert();
    https = await tlsServer(tls);
  });
  after(async () => {
    await proxy.stop();
    await Promise.all([close(origin.server), close(https.server)]);
    tls.dispose();
  });

  it('curl -x http:// fetches an http URL (absolute-URI forwarding)', async () => {
    const r = await curl(['-x', `http://127.0.0.1:${port}`, `http://127.0.0.1:${origin.port}/`]);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'hello\n');
    const seen = origin.seen.at(-1)!;
    assert.equal(seen.url, '/', 'the origin gets the origin form');
    assert.equal(seen.headers.host, `127.0.0.1:${origin.port}`);
    assert.equal(seen.headers.via, '1.1 socks5-proxy');
    await eventually(() => proxy.recentlyClosed().some((c) => c.protocol === 'http'), 5000, 'the session to close');
    const info = proxy.recentlyClosed().find((c) => c.protocol === 'http')!;
    assert.equal(info.http?.method, 'GET');
    assert.equal(info.destination?.host, '127.0.0.1');
    assert.equal(info.destination?.port, origin.port);
    assert.ok(info.bytesDown > 0, 'bytes counted');
  });

  it('curl -x http:// fetches an https URL through CONNECT (self-signed origin, --cacert)', async () => {
    const r = await curl(['--cacert', tls.cert, '-x', `http://127.0.0.1:${port}`, `https://localhost:${https.port}/`]);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'hello over tls\n');
    await eventually(() => proxy.recentlyClosed().some((c) => c.protocol === 'http-connect'), 5000, 'the tunnel to close');
    const info = proxy.recentlyClosed().find((c) => c.protocol === 'http-connect')!;
    assert.equal(info.destination?.host, 'localhost');
    assert.equal(info.destination?.type, 'domain');
    assert.equal(info.remote?.host, '127.0.0.1');
  });

  it('curl -p (CONNECT for an http URL) carries a 2 MB download intact', async () => {
    const r = await run('curl', ['-sS', '--max-time', '15', '-p', '-x', `http://127.0.0.1:${port}`, `http://127.0.0.1:${origin.port}/big?n=2000000`], 20_000);
    assert.equal(r.stderr, '');
    assert.equal(sha(r.stdout), sha(Buffer.alloc(2_000_000, 0x61)));
  });

  it('hop-by-hop fields never reach the origin or the client; Via is added both ways', async () => {
    const r = await curl(['-i', '-x', `http://127.0.0.1:${port}`, '-H', 'Connection: X-Secret', '-H', 'X-Secret: 1', '-H', 'Keep-Alive: 300', '-H', 'X-Kept: yes', `http://127.0.0.1:${origin.port}/headers`]);
    const [head, body] = r.stdout.split('\r\n\r\n') as [string, string];
    const sent = JSON.parse(body) as Record<string, string>;
    assert.equal(sent['x-secret'], undefined);
    assert.equal(sent['keep-alive'], undefined);
    assert.equal(sent['proxy-connection'], undefined);
    assert.equal(sent['x-kept'], 'yes');
    assert.match(head, /^Via: 1\.1 socks5-proxy$/im);
    assert.doesNotMatch(head, /^X-Hop:/im, 'a field the origin named in Connection is hop-by-hop');
    assert.doesNotMatch(head, /^Keep-Alive:/im);
  });

  it('keep-alive: one client connection carries requests to two different hosts', async () => {
    const before = proxy.stats().total;
    const r = await curl(['-x', `http://127.0.0.1:${port}`, `http://127.0.0.1:${origin.port}/`, `http://localhost:${origin.port}/`, `http://127.0.0.1:${origin.port}/`]);
    assert.equal(r.stdout, 'hello\nhello\nhello\n');
    assert.equal(proxy.stats().total - before, 1, 'curl reused its one proxy connection');
    const last3 = origin.seen.slice(-3);
    assert.deepEqual(last3.map((s) => s.headers.host), [`127.0.0.1:${origin.port}`, `localhost:${origin.port}`, `127.0.0.1:${origin.port}`]);
  });

  it('chunked request body up, chunked response down, both streamed intact', async () => {
    const file = join(tls.dir, 'upload.bin');
    const data = Buffer.alloc(3_000_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
    writeFileSync(file, data);
    const out = join(tls.dir, 'echoed.bin');
    const r = await run('curl', ['-sS', '--max-time', '15', '-o', out, '-x', `http://127.0.0.1:${port}`, '-H', 'Transfer-Encoding: chunked', '--data-binary', `@${file}`, `http://127.0.0.1:${origin.port}/echo`], 20_000);
    assert.equal(r.stderr, '');
    assert.equal(origin.seen.at(-1)!.headers['transfer-encoding'], 'chunked');
    assert.equal(sha(origin.seen.at(-1)!.body), sha(data));
    assert.equal(sha(readFileSync(out)), sha(data));
    const c = await curl(['-x', `http://127.0.0.1:${port}`, `http://127.0.0.1:${origin.port}/chunked`]);
    assert.equal(c.stdout, 'one,two');
  });

  it('an HTTP/1.0 client gets a chunked response without its chunking, then a close', async () => {
    const r = await curl(['-0', '-i', '-x', `http://127.0.0.1:${port}`, `http://127.0.0.1:${origin.port}/chunked`]);
    const [head, body] = r.stdout.split('\r\n\r\n') as [string, string];
    assert.equal(body, 'one,two');
    assert.doesNotMatch(head, /Transfer-Encoding/i);
    assert.match(head, /^Connection: close$/im);
  });

  it('Expect: 100-continue: the 100 passes, then the body and the answer', async () => {
    const r = await run('curl', ['-sS', '-v', '--max-time', '15', '-x', `http://127.0.0.1:${port}`, '-H', 'Expect: 100-continue', '--data-binary', 'x'.repeat(2000), `http://127.0.0.1:${origin.port}/echo`], 20_000);
    assert.match(r.stderr, /< HTTP\/1\.1 100 Continue/);
    assert.equal(r.stdout, 'x'.repeat(2000));
  });

  it('errors are HTTP answers: 502 refused, 400 malformed, 400 https:// forwarding', async () => {
    const refused = await curl(['-i', '-x', `http://127.0.0.1:${port}`, `http://127.0.0.1:${await closedPort()}/`]);
    assert.match(refused.stdout, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    assert.match(refused.stdout, /502 Bad Gateway: 127\.0\.0\.1:1 refused the connection\n$/);
    const tunnel = await curl(['-p', '-x', `http://127.0.0.1:${port}`, `http://127.0.0.1:1/`]);
    assert.match(tunnel.stderr, /CONNECT tunnel failed, response 502/);
    const c = await RawClient.open(port);
    c.write(Buffer.from('GET https://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
    const res = await readResponse(c);
    assert.equal(res.status, 400);
    assert.match(res.body.toString(), /use CONNECT for https/);
    await c.waitClosed();
  });
});

describe('HTTP proxy: framing with raw bytes', () => {
  let proxy: Socks5Server;
  let port: number;
  let origin: Awaited<ReturnType<typeof originServer>>;
  let old: Server;
  let oldPort: number;

  before(async () => {
    ({ server: proxy, port } = await startProxy());
    origin = await originServer();
    // An HTTP/1.0-style origin: no Content-Length, the body ends with the close.
    old = createServer((s) => {
      s.on('error', () => {});
      s.once('data', () => s.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close'));
    });
    oldPort = await listen(old);
  });
  after(async () => {
    await proxy.stop();
    await Promise.all([close(origin.server), close(old)]);
  });

  it('pipelined requests are answered in order on one connection', async () => {
    const c = await RawClient.open(port);
    const o = `127.0.0.1:${origin.port}`;
    c.write(Buffer.from(`GET http://${o}/status/201 HTTP/1.1\r\nHost: ${o}\r\n\r\nGET http://${o}/ HTTP/1.1\r\nHost: ${o}\r\n\r\nPOST http://${o}/echo HTTP/1.1\r\nHost: ${o}\r\nContent-Length: 5\r\n\r\nabcde`));
    const a = await readResponse(c);
    const b = await readResponse(c);
    const d = await readResponse(c);
    assert.deepEqual([a.status, b.status, d.status], [201, 200, 200]);
    assert.equal(a.body.toString(), 'status 201\n');
    assert.equal(b.body.toString(), 'hello\n');
    assert.equal(d.body.toString(), 'abcde');
    c.destroy();
  });

  it('HEAD, 204 and 304 carry no body, and the next request on the connection still works', async () => {
    const c = await RawClient.open(port);
    const o = `127.0.0.1:${origin.port}`;
    c.write(Buffer.from(`HEAD http://${o}/big?n=5000 HTTP/1.1\r\nHost: ${o}\r\n\r\n`));
    const h = await readResponse(c, { head: true });
    assert.equal(h.status, 200);
    assert.equal(h.headers['content-length'], '5000');
    for (const code of [204, 304]) {
      c.write(Buffer.from(`GET http://${o}/status/${code} HTTP/1.1\r\nHost: ${o}\r\n\r\n`));
      assert.equal((await readResponse(c)).status, code);
    }
    c.write(Buffer.from(`GET http://${o}/ HTTP/1.1\r\nHost: ${o}\r\n\r\n`));
    const last = await readResponse(c);
    assert.equal(last.body.toString(), 'hello\n');
    c.destroy();
  });

  it('a close-delimited response reaches an HTTP/1.1 client chunked, and the connection stays usable', async () => {
    const c = await RawClient.open(port);
    c.write(Buffer.from(`GET http://127.0.0.1:${oldPort}/ HTTP/1.1\r\nHost: x\r\n\r\n`));
    let text = '';
    while (!text.endsWith('0\r\n\r\n')) text += (await c.read(1)).toString('latin1');
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /\r\nTransfer-Encoding: chunked\r\n/i);
    assert.match(text, /\r\n\r\nf\r\nuntil the close\r\n0\r\n\r\n$/);
    const o = `127.0.0.1:${origin.port}`;
    c.write(Buffer.from(`GET http://${o}/ HTTP/1.1\r\nHost: ${o}\r\n\r\n`));
    assert.equal((await readResponse(c)).body.toString(), 'hello\n');
    c.destroy();
  });

  it('request smuggling set-ups are refused with 400 and a close', async () => {
    const o = `127.0.0.1:${origin.port}`;
    const before = origin.seen.length;
    for (const head of [
      `POST http://${o}/echo HTTP/1.1\r\nHost: ${o}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      `POST http://${o}/echo HTTP/1.1\r\nHost: ${o}\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde`,
      `POST http://${o}/echo HTTP/1.1\r\nHost: ${o}\r\nTransfer-Encoding: chunked, identity\r\n\r\n`,
      `GET http://${o}/ HTTP/1.1\r\nHost: ${o}\r\nX-Folded: a\r\n b\r\n\r\n`,
      `GET http://${o}/ HTTP/1.1\r\nHost: ${o}\r\nBad Header: x\r\n\r\n`,
    ]) {
      const c = await RawClient.open(port);
      c.write(Buffer.from(head));
      const res = await readResponse(c);
      assert.equal(res.status, 400, head);
      assert.equal(res.headers.connection, 'close');
      await c.waitClosed();
    }
    assert.equal(origin.seen.length, before, 'none of them reached the origin');
  });

  it('a request smuggled inside a chunked body is only ever body', async () => {
    const o = `127.0.0.1:${origin.port}`;
    const c = await RawClient.open(port);
    const inner = `GET http://${o}/status/418 HTTP/1.1\r\nHost: ${o}\r\n\r\n`;
    const body = `${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`;
    c.write(Buffer.from(`POST http://${o}/echo HTTP/1.1\r\nHost: ${o}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`));
    const res = await readResponse(c);
    assert.equal(res.body.toString(), inner);
    assert.ok(!origin.seen.some((s) => s.url === '/status/418'));
    c.destroy();
  });
});

describe('HTTP proxy: error statuses', () => {
  it('504 when the connect times out; 403 when CONNECT is switched off; 431 for a huge header; 408 for a slow one', async () => {
    const hang = await neverAccepting();
    const { server: proxy, port } = await startProxy({ timeouts: { handshakeMs: 500, connectMs: 300, idleMs: 0, bindMs: 60_000 } });
    try {
      const t = await curl(['-i', '-x', `http://127.0.0.1:${port}`, `http://127.0.0.1:${hang.port}/`]);
      assert.match(t.stdout, /^HTTP\/1\.1 504 Gateway Timeout\r\n/);
      const big = await RawClient.open(port);
      big.write(Buffer.from(`GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`));
      const b = await readResponse(big);
      assert.equal(b.status, 431);
      await big.waitClosed();
      const slow = await RawClient.open(port);
      slow.write(Buffer.from('GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\n'));
      const s = await readResponse(slow, {});
      assert.equal(s.status, 408);
      await slow.waitClosed();
    } finally {
      await proxy.stop();
      await hang.dispose();
    }
    const { server: off, port: offPort } = await startProxy({ commands: { connect: false, bind: true, udpAssociate: true } });
    try {
      const r = await curl(['-i', '-x', `http://127.0.0.1:${offPort}`, 'http://127.0.0.1:1/']);
      assert.match(r.stdout, /^HTTP\/1\.1 403 Forbidden\r\n/);
      assert.match(r.stdout, /CONNECT is disabled/);
    } finally {
      await off.stop();
    }
  });
});

describe('HTTP proxy: Proxy-Authorization (the RFC 1929 users)', () => {
  let proxy: Socks5Server;
  let port: number;
  let origin: Awaited<ReturnType<typeof originServer>>;
  before(async () => {
    ({ server: proxy, port } = await startProxy({ users: new Map([['alice', 's3cret pw']]) }));
    origin = await originServer();
  });
  after(async () => {
    await proxy.stop();
    await close(origin.server);
  });

  it('curl --proxy-user with the right password gets through, forwarding and CONNECT', async () => {
    const r = await curl(['-x', `http://127.0.0.1:${port}`, '--proxy-user', 'alice:s3cret pw', `http://127.0.0.1:${origin.port}/`]);
    assert.equal(r.stdout, 'hello\n');
    assert.equal(origin.seen.at(-1)!.headers['proxy-authorization'], undefined, 'the credentials stop at the proxy');
    const t = await curl(['-p', '-x', `http://127.0.0.1:${port}`, '--proxy-user', 'alice:s3cret pw', `http://127.0.0.1:${origin.port}/`]);
    assert.equal(t.stdout, 'hello\n');
    await eventually(() => proxy.recentlyClosed().some((c) => c.user === 'alice' && c.protocol === 'http-connect'), 5000, 'the tunnel to close');
  });

  it('no or wrong credentials: 407 with Proxy-Authenticate, then a close', async () => {
    const none = await curl(['-i', '-x', `http://127.0.0.1:${port}`, `http://127.0.0.1:${origin.port}/`]);
    assert.match(none.stdout, /^HTTP\/1\.1 407 Proxy Authentication Required\r\n/);
    assert.match(none.stdout, /\r\nProxy-Authenticate: Basic realm="socks5-proxy"/);
    const wrong = await curl(['-i', '-x', `http://127.0.0.1:${port}`, '--proxy-user', 'alice:nope', `http://127.0.0.1:${origin.port}/`]);
    assert.match(wrong.stdout, /^HTTP\/1\.1 407 /);
    const tunnel = await curl(['-p', '-x', `http://127.0.0.1:${port}`, '--proxy-user', 'mallory:x', `http://127.0.0.1:${origin.port}/`]);
    assert.match(tunnel.stderr, /407/);
    await eventually(() => proxy.recentlyClosed().filter((c) => c.outcome.kind === 'auth-failed').length >= 3, 5000, 'three auth failures');
  });

  it('the PAC file and the status page need no credentials and tell nothing about users or connections', async () => {
    const pac = await curl(['-i', `http://127.0.0.1:${port}/proxy.pac`]);
    assert.match(pac.stdout, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(pac.stdout, /\r\nContent-Type: application\/x-ns-proxy-autoconfig\r\n/);
    assert.match(pac.stdout, new RegExp(`return "SOCKS5 127\\.0\\.0\\.1:${port}; .*PROXY 127\\.0\\.0\\.1:${port}";`));
    const page = await curl([`http://127.0.0.1:${port}/`]);
    assert.match(page.stdout, /socks5-proxy/);
    assert.match(page.stdout, new RegExp(`http://127\\.0\\.0\\.1:${port}/proxy\\.pac`));
    assert.doesNotMatch(page.stdout + pac.stdout, /alice/);
    const missing = await curl(['-i', `http://127.0.0.1:${port}/secret`]);
    assert.match(missing.stdout, /^HTTP\/1\.1 404 /);
  });
});

describe('HTTP proxy: the PAC names an address the client can reach', () => {
  it('the Host it used (a forwarded localhost port included), never a name it made up or 0.0.0.0', async () => {
    const proxy = new Socks5Server({ host: '0.0.0.0', port: 0, users: new Map([['u', 'p']]) });
    const { port } = await proxy.start();
    try {
      const get = async (host: string | undefined): Promise<string> => {
        const c = await RawClient.open(port);
        c.write(Buffer.from(`GET /proxy.pac HTTP/1.1\r\n${host === undefined ? '' : `Host: ${host}\r\n`}\r\n`.replace('HTTP/1.1', host === undefined ? 'HTTP/1.0' : 'HTTP/1.1')));
        const r = await readResponse(c);
        c.destroy();
        return /return "([^"]*)"/.exec(r.body.toString())![1];
      };
      assert.match(await get(`127.0.0.1:${port}`), new RegExp(`^SOCKS5 127\\.0\\.0\\.1:${port}; `));
      assert.match(await get('localhost:4321'), /^SOCKS5 localhost:4321; /);
      assert.match(await get('attacker.test:80'), new RegExp(`^SOCKS5 127\\.0\\.0\\.1:${port}; `));
      assert.match(await get('0.0.0.0:80'), new RegExp(`^SOCKS5 127\\.0\\.0\\.1:${port}; `));
      assert.match(await get(undefined), new RegExp(`^SOCKS5 127\\.0\\.0\\.1:${port}; `));
    } finally {
      await proxy.stop();
    }
  });
});

describe('HTTP proxy: a client that stops', () => {
  it('a client gone in the middle of a streamed response leaves nothing open', async () => {
    const origin = await originServer();
    const { server: proxy, port } = await startProxy();
    try {
      const c = await RawClient.open(port);
      c.write(Buffer.from(`GET http://127.0.0.1:${origin.port}/big?n=50000000 HTTP/1.1\r\nHost: x\r\n\r\n`));
      await c.read(100_000);
      c.destroy();
      await eventually(() => proxy.stats().active === 0, 5000, 'the session to close');
    } finally {
      await proxy.stop();
      await close(origin.server);
    }
  });
});
