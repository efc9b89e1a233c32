// BIND (RFC 1928 CMD 0x02) against a live server: the `socks` npm client for the normal flow,
// raw bytes for peer filtering, timeout, early close and the command switch.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_OPTIONS, DEFAULT_TIMEOUTS, Socks5Server } from '../../src/engine';
import { RawClient, connectErrorCode, eventually, readN, readReply, socksClientBind, startProxy, within, WAIT_MS } from '../support/net';

/** Races `p` against a bounded wait. */

/** Greeting (no auth) and a request; checks the method selection (0x00). */
async function request(c: RawClient, cmd: number, addr: number[]): Promise<void> {
  c.write([0x05, 0x01, 0x00, 0x05, cmd, 0x00, ...addr]);
  assert.deepEqual([...(await c.read(2))], [0x05, 0x00]);
}

const ipv4 = (ip: string, port: number) => [0x01, ...ip.split('.').map(Number), port >> 8, port & 0xff];
const domain = (name: string, port: number) => [0x03, name.length, ...Buffer.from(name), port >> 8, port & 0xff];

/** Connects to host:port from `localAddress`; resolves with the socket once connected. */
async function connectFrom(port: number, localAddress: string, host = '127.0.0.1'): Promise<Socket> {
  const s = connect({ host, port, localAddress });
  s.on('error', () => {});
  await within(once(s, 'connect'), 'the peer to connect');
  return s;
}

/**
 * A peer the proxy must refuse: connects from `localAddress` and waits until the proxy closes it
 * (the reset may even beat the connect callback). Resolves with whatever it received.
 */
async function refusedPeer(port: number, localAddress: string): Promise<Buffer> {
  const s = connect({ host: '127.0.0.1', port, localAddress });
  const got: Buffer[] = [];
  s.on('data', (d: Buffer) => got.push(d));
  s.on('error', () => {}); // ECONNRESET: expected (events.once would reject on it, so wait by hand)
  await within(new Promise((r) => s.once('close', r)), 'the refused peer to be closed');
  return Buffer.concat(got);
}

describe('BIND with the socks client', () => {
  let proxy: Socks5Server;
  let port: number;
  before(async () => ({ server: proxy, port } = await startProxy()));
  after(() => proxy.stop());

  it('emits bound then established; data flows both ways; the snapshot follows', async () => {
    const { bound, established } = socksClientBind(port, 5);
    const b = await bound;
    assert.equal(b.remoteHost?.host, '127.0.0.1', 'listens on the control connection’s local address');
    assert.ok(b.remoteHost.port > 0);

    const waiting = proxy.connections();
    assert.equal(waiting.length, 1);
    assert.equal(waiting[0].command, 'bind');
    assert.equal(waiting[0].state, 'bind-waiting');
    assert.deepEqual(waiting[0].bound, { host: '127.0.0.1', port: b.remoteHost.port });

    const peer = await connectFrom(b.remoteHost.port, '127.0.0.1');
    const e = await established;
    assert.equal(e.remoteHost?.host, '127.0.0.1', 'second reply names the peer');
    assert.equal(e.remoteHost?.port, peer.localPort, 'second reply names the peer’s port');

    const info = proxy.connections()[0];
    assert.equal(info.state, 'established');
    assert.deepEqual(info.remote, { host: '127.0.0.1', port: peer.localPort });

    const toPeer = readN(peer, 10);
    e.socket.write('hello peer');
    assert.equal((await toPeer).toString(), 'hello peer');
    const toClient = readN(e.socket, 12);
    peer.write('hello client');
    assert.equal((await toClient).toString(), 'hello client');

    await eventually(() => {
      const c = proxy.connections()[0];
      return c !== undefined && c.bytesUp === 10 && c.bytesDown === 12;
    }, WAIT_MS, 'byte counters');

    // Half-close from the peer reaches the client as an end of stream.
    const clientEnded = within(once(e.socket, 'end'), 'the client to see the peer’s FIN');
    peer.end();
    await clientEnded;
    e.socket.end();
    await eventually(() => proxy.connections().length === 0, WAIT_MS, 'the session to close');
    const closed = proxy.recentlyClosed()[0];
    assert.equal(closed.command, 'bind');
    assert.ok(closed.outcome.kind.startsWith('closed'), closed.outcome.message);
    peer.destroy();
  });
});

describe('BIND, raw', () => {
  let proxy: Socks5Server;
  let port: number;
  before(async () => ({ server: proxy, port } = await startProxy({ timeouts: { ...DEFAULT_TIMEOUTS, bindMs: 400 } })));
  after(() => proxy.stop());

  it('DST.ADDR 127.0.0.2: a peer from 127.0.0.1 is refused, then one from 127.0.0.2 is accepted', async () => {
    const proxy2 = new Socks5Server({ host: '127.0.0.1', port: 0 }); // default bindMs: no timeout in this test
    const { port: p2 } = await proxy2.start();
    try {
      const c = await RawClient.open(p2);
      await request(c, 0x02, ipv4('127.0.0.2', 0));
      const first = await readReply(c);
      assert.equal(first.rep, 0x00);
      assert.equal(first.host, '127.0.0.1');

      assert.equal((await refusedPeer(first.port, '127.0.0.1')).length, 0, 'the wrong peer gets nothing');
      assert.equal(proxy2.connections()[0]?.state, 'bind-waiting', 'still waiting after refusing');

      const right = await connectFrom(first.port, '127.0.0.2');
      const second = await readReply(c);
      assert.equal(second.rep, 0x00);
      assert.equal(second.host, '127.0.0.2');
      assert.equal(second.port, right.localPort);

      // Exactly one connection: the listener is gone.
      assert.equal(await connectErrorCode({ host: '127.0.0.1', port: first.port, localAddress: '127.0.0.2' }, 'a third connection attempt'), 'ECONNREFUSED');

      const back = readN(right, 4);
      c.write(Buffer.from('ping'));
      assert.equal((await back).toString(), 'ping');
      right.destroy();
      c.destroy();
    } finally {
      await proxy2.stop();
    }
  });

  it('a control connection over IPv6 gets an IPv6 listener; the replies carry IPv6 addresses', async () => {
    const p6 = new Socks5Server({ host: '::1', port: 0 });
    const { port: port6 } = await p6.start();
    try {
      const c = await RawClient.open(port6, '::1');
      await request(c, 0x02, [0x04, ...Buffer.alloc(16), 0, 0]);
      const first = await readReply(c);
      assert.equal(first.rep, 0x00);
      assert.equal(first.type, 'ipv6');
      assert.equal(first.host, '::1');
      const peer = await connectFrom(first.port, '::1', '::1');
      const second = await readReply(c);
      assert.equal(second.rep, 0x00);
      assert.equal(second.type, 'ipv6');
      assert.equal(second.host, '::1');
      assert.equal(second.port, peer.localPort);
      const back = readN(c.socket, 2);
      peer.write('v6');
      assert.equal((await back).toString(), 'v6');
      peer.destroy();
      c.destroy();
    } finally {
      await p6.stop();
    }
  });

  it('DST.ADDR as a domain name: only its addresses may connect', async () => {
    const proxy2 = new Socks5Server({ host: '127.0.0.1', port: 0 });
    const { port: p2 } = await proxy2.start();
    try {
      const c = await RawClient.open(p2);
      await request(c, 0x02, domain('localhost', 0));
      const first = await readReply(c);
      assert.equal(first.rep, 0x00);
      assert.equal((await refusedPeer(first.port, '127.0.0.2')).length, 0);
      const right = await connectFrom(first.port, '127.0.0.1');
      const second = await readReply(c);
      assert.equal(second.rep, 0x00);
      assert.equal(second.host, '127.0.0.1');
      assert.equal(second.port, right.localPort);
      right.destroy();
      c.destroy();
    } finally {
      await proxy2.stop();
    }
  });

  it('bytes the client sends while waiting reach the peer first', async () => {
    const c = await RawClient.open(port);
    await request(c, 0x02, ipv4('0.0.0.0', 0));
    const first = await readReply(c);
    c.write(Buffer.from('early bytes;'));
    await eventually(() => (proxy.connections()[0]?.bytesUp ?? 0) === 12, WAIT_MS, 'the early bytes to be read');
    const peer = await connectFrom(first.port, '127.0.0.1');
    const second = await readReply(c);
    assert.equal(second.rep, 0x00);
    c.write(Buffer.from('late'));
    assert.equal((await readN(peer, 16)).toString(), 'early bytes;late');
    peer.destroy();
    c.destroy();
  });

  it('no peer within bindMs: reply 0x06 (TTL expired), then close', async () => {
    const c = await RawClient.open(port);
    await request(c, 0x02, ipv4('0.0.0.0', 0));
    const first = await readReply(c);
    assert.equal(first.rep, 0x00);
    const second = await readReply(c);
    assert.equal(second.rep, 0x06);
    await c.waitClosed();
    await eventually(() => proxy.connections().length === 0, WAIT_MS, 'the session to end');
    const closed = proxy.recentlyClosed()[0];
    assert.equal(closed.outcome.reply, 0x06);
    // The listener is closed with the session.
    assert.equal(await connectErrorCode({ host: '127.0.0.1', port: first.port }, 'a late connection attempt'), 'ECONNREFUSED');
  });

  it('the client half-closing before a peer arrives closes the listener at once', async () => {
    const proxy2 = new Socks5Server({ host: '127.0.0.1', port: 0 }); // 60 s bindMs: only the FIN can end it
    const { port: p2 } = await proxy2.start();
    try {
      const c = await RawClient.open(p2);
      await request(c, 0x02, ipv4('0.0.0.0', 0));
      const first = await readReply(c);
      assert.equal(first.rep, 0x00);
      c.socket.end();
      await c.waitClosed();
      await eventually(() => proxy2.connections().length === 0, WAIT_MS, 'the session to end');
      assert.equal(proxy2.recentlyClosed()[0].outcome.kind, 'closed-by-client');
      assert.equal(await connectErrorCode({ host: '127.0.0.1', port: first.port }, 'a late connection attempt'), 'ECONNREFUSED');
    } finally {
      await proxy2.stop();
    }
  });

  it('a disabled BIND answers 0x07 while UDP ASSOCIATE still works, and the reverse', async () => {
    for (const [commands, off, on] of [
      [{ bind: false }, 0x02, 0x03],
      [{ udpAssociate: false }, 0x03, 0x02],
    ] as const) {
      const proxy2 = new Socks5Server({ host: '127.0.0.1', port: 0, commands: { ...DEFAULT_OPTIONS.commands, ...commands } });
      const { port: p2 } = await proxy2.start();
      try {
        const a = await RawClient.open(p2);
        await request(a, off, ipv4('0.0.0.0', 0));
        assert.equal((await readReply(a)).rep, 0x07);
        await a.waitClosed();
        const b = await RawClient.open(p2);
        await request(b, on, ipv4('0.0.0.0', 0));
        assert.equal((await readReply(b)).rep, 0x00);
        b.destroy();
      } finally {
        await proxy2.stop();
      }
    }
  });
});
