// SOCKS4 and SOCKS4a (CONNECT and BIND) on the same port as SOCKS5, with real clients (curl
// --socks4 / --socks4a, the `socks` npm client for BIND) and raw bytes for what clients never send.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Logger, Socks5Server } from '../../src/engine';
import { CD, encodeSocks4Request, parseSocks4Reply, REPLY4 } from '../../src/engine/protocol/socks4/wire';
import { RawClient, close, closedPort, echoServer, eventually, httpServer, readN, run, socksClientBind, startProxy, within, WAIT_MS } from '../support/net';

function recorder(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const push = (m: string) => lines.push(m);
  return { lines, logger: { debugEnabled: false, debug() {}, info: push, warn: push, error: push } };
}

async function reply(c: RawClient): Promise<{ cd: number; port: number; host: string }> {
  const r = parseSocks4Reply(await c.read(8));
  assert.equal(r.status, 'done', 'an 8-byte SOCKS4 reply');
  return (r as { value: { cd: number; port: number; host: string } }).value;
}

describe('SOCKS4 / SOCKS4a without users', () => {
  let proxy: Socks5Server;
  let port: number;
  let http: Awaited<ReturnType<typeof httpServer>>;
  let echo: Awaited<ReturnType<typeof echoServer>>;
  before(async () => {
    ({ server: proxy, port } = await startProxy());
    http = await httpServer('hello through socks4\n');
    echo = await echoServer();
  });
  after(async () => {
    await proxy.stop();
    await Promise.all([close(http.server), close(echo.server)]);
  });

  it('curl --socks4 fetches a page by IP; the connection says SOCKS4', async () => {
    const r = await run('curl', ['-sS', '--max-time', '10', '--socks4', `127.0.0.1:${port}`, `http://127.0.0.1:${http.port}/`]);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'hello through socks4\n');
    await eventually(() => proxy.recentlyClosed().length > 0, WAIT_MS, 'the session to close');
    const c = proxy.recentlyClosed()[0];
    assert.equal(c.protocol, 'socks4');
    assert.equal(c.command, 'connect');
    assert.deepEqual(c.destination, { type: 'ipv4', host: '127.0.0.1', port: http.port });
    assert.ok(c.bytesDown > 0 && c.bytesUp > 0);
  });

  it('curl --socks4a has the proxy resolve the name (SOCKS4a)', async () => {
    const r = await run('curl', ['-sS', '--max-time', '10', '--socks4a', `127.0.0.1:${port}`, `http://localhost:${http.port}/`]);
    assert.equal(r.stdout, 'hello through socks4\n');
    await eventually(() => proxy.recentlyClosed().some((c) => c.protocol === 'socks4a'), WAIT_MS, 'the SOCKS4a session to close');
    const c = proxy.recentlyClosed().find((x) => x.protocol === 'socks4a')!;
    assert.deepEqual(c.destination, { type: 'domain', host: 'localhost', port: http.port });
    assert.equal(c.remote?.host, '127.0.0.1');
  });

  it('a refused target gets 0x5B and a close; the outcome says why', async () => {
    const dead = await closedPort();
    const c = await RawClient.open(port);
    c.write(encodeSocks4Request(CD.CONNECT, '127.0.0.1', dead, 'me'));
    const r = await reply(c);
    assert.equal(r.cd, REPLY4.REJECTED);
    await c.waitClosed();
    await eventually(() => proxy.recentlyClosed().some((x) => x.destination?.port === dead), WAIT_MS, 'the close');
    const info = proxy.recentlyClosed().find((x) => x.destination?.port === dead)!;
    assert.equal(info.outcome.kind, 'reply');
    assert.equal(info.outcome.reply, 0x5b);
    assert.equal(info.outcome.failure, 'refused');
    assert.match(info.outcome.message, /^refused \(0x5b\): .*refused the connection/);
  });

  it('a request split into single bytes, and data sent with it, still works', async () => {
    const c = await RawClient.open(port);
    const req = Buffer.concat([encodeSocks4Request(CD.CONNECT, 'localhost', echo.port, 'split-user'), Buffer.from('early')]);
    for (const b of req) {
      c.write([b]);
      await new Promise((r) => setImmediate(r));
    }
    assert.equal((await reply(c)).cd, REPLY4.GRANTED);
    assert.equal((await c.read(5)).toString(), 'early');
    c.write(Buffer.from('more'));
    assert.equal((await c.read(4)).toString(), 'more');
    c.destroy();
  });

  it('an unknown command and a user id without NUL (64 KiB) get 0x5B and a close; others keep flowing', async () => {
    const bad = await RawClient.open(port);
    bad.write([0x04, 0x03, 0x00, 0x50, 127, 0, 0, 1, 0x00]);
    assert.equal((await reply(bad)).cd, REPLY4.REJECTED);
    await bad.waitClosed();

    const flood = await RawClient.open(port);
    const ok = await RawClient.open(port);
    flood.write(Buffer.concat([Buffer.from([0x04, 0x01, 0x00, 0x50, 127, 0, 0, 1]), Buffer.alloc(64 * 1024, 0x41)]));
    ok.write(encodeSocks4Request(CD.CONNECT, '127.0.0.1', echo.port));
    assert.equal((await reply(flood)).cd, REPLY4.REJECTED);
    await flood.waitClosed();
    assert.equal((await reply(ok)).cd, REPLY4.GRANTED);
    ok.write(Buffer.from('still here'));
    assert.equal((await ok.read(10)).toString(), 'still here');
    ok.destroy();
    await eventually(() => proxy.recentlyClosed().some((x) => /user id longer than 255/.test(x.outcome.message)), WAIT_MS, 'the flood close');
  });

  it('BIND with the socks client (SOCKS4): bound, then the peer, then data both ways', async () => {
    const { bound, established } = socksClientBind(port, 4);
    const b = await bound;
    // 0.0.0.0 or the proxy's address: SOCKS4 lets the reply say "the proxy's own address".
    const listenPort = b.remoteHost!.port;
    assert.ok(listenPort > 0);
    const waiting = proxy.connections().find((x) => x.command === 'bind')!;
    assert.equal(waiting.protocol, 'socks4');
    assert.equal(waiting.state, 'bind-waiting');
    const peer = connect({ host: '127.0.0.1', port: listenPort });
    peer.on('error', () => {});
    await within(once(peer, 'connect'), 'the peer to connect');
    const e = await established;
    assert.equal(e.remoteHost?.port, peer.localPort, 'the second reply names the peer');
    e.socket.write('to peer');
    assert.equal((await readN(peer, 7)).toString(), 'to peer');
    peer.write('to client');
    assert.equal((await readN(e.socket, 9)).toString(), 'to client');
    e.socket.destroy();
    peer.destroy();
  });
});

describe('SOCKS4 with users configured', () => {
  it('is refused with 0x5B (it carries no password) and the log says why', async () => {
    const rec = recorder();
    const { server, port } = await startProxy({ users: new Map([['alice', 'pw']]), logger: rec.logger });
    const http = await httpServer();
    try {
      const r = await run('curl', ['-sS', '--max-time', '10', '--socks4', `127.0.0.1:${port}`, `http://127.0.0.1:${http.port}/`]);
      assert.notEqual(r.code, 0);
      assert.equal(r.stdout, '');
      const a = await run('curl', ['-sS', '--max-time', '10', '--socks4a', `alice@127.0.0.1:${port}`, `http://localhost:${http.port}/`]);
      assert.notEqual(a.code, 0, 'a user id is no credential');
      await eventually(() => server.recentlyClosed().length >= 2, WAIT_MS, 'both closes');
      for (const c of server.recentlyClosed()) {
        assert.equal(c.outcome.kind, 'auth-failed');
        assert.equal(c.outcome.reply, 0x5b);
        assert.ok(c.protocol === 'socks4' || c.protocol === 'socks4a');
        assert.equal(c.bytesDown, 0);
      }
      assert.ok(rec.lines.some((l) => /SOCKS4 request for 127\.0\.0\.1:\d+ refused: SOCKS4 carries no password and users are configured/.test(l)), rec.lines.join('\n'));
      // SOCKS5 with the password still works on the same port.
      const ok = await run('curl', ['-sS', '--max-time', '10', '--socks5', `127.0.0.1:${port}`, '--proxy-user', 'alice:pw', `http://127.0.0.1:${http.port}/`]);
      assert.equal(ok.stdout, 'hello through socks5\n');
    } finally {
      await server.stop();
      await close(http.server);
    }
  });
});

describe('protocol switches', () => {
  it('a switched-off protocol closes at once, without a reply; the others still answer', async () => {
    const { server, port } = await startProxy({ protocols: { socks5: true, socks4: false, http: true } });
    const echo = await echoServer();
    try {
      const c = await RawClient.open(port);
      c.write(encodeSocks4Request(CD.CONNECT, '127.0.0.1', echo.port));
      assert.equal((await c.readToEnd()).length, 0, 'no reply');
      const r = await run('curl', ['-sS', '--max-time', '10', '--socks4', `127.0.0.1:${port}`, `http://127.0.0.1:${echo.port}/`]);
      assert.notEqual(r.code, 0);
      const info = server.recentlyClosed()[0];
      assert.equal(info.outcome.kind, 'protocol-error');
      assert.match(info.outcome.message, /0x04/);
      // SOCKS5 is on.
      const s5 = await RawClient.open(port);
      s5.write([0x05, 0x01, 0x00]);
      assert.deepEqual([...(await s5.read(2))], [0x05, 0x00]);
      s5.destroy();
      // Live: switch SOCKS4 back on for new connections.
      server.setOptions({ protocols: { socks4: true } });
      const again = await RawClient.open(port);
      again.write(encodeSocks4Request(CD.CONNECT, '127.0.0.1', echo.port));
      assert.equal((await reply(again)).cd, REPLY4.GRANTED);
      again.destroy();
    } finally {
      await server.stop();
      await close(echo.server);
    }
  });
});
