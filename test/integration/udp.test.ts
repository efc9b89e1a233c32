// UDP ASSOCIATE (RFC 1928 CMD 0x03, §7) against a live server: the `socks` npm client's UDP frame
// helpers, Python's PySocks (Debian python3-socks), and raw datagrams for what clients never send.
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { promises as dns } from 'node:dns';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Socket } from 'node:net';
import { SocksClient, type SocksRemoteHost } from 'socks';
import { DEFAULT_TIMEOUTS, Socks5Server, type ConnectionInfo } from '../../src/engine';
import { canonicalIp } from '../../src/engine/address';
import type { Reply } from '../../src/engine/protocol/socks5/wire';
import { RawClient, eventually, readReply, run, startProxy, WAIT_MS } from '../support/net';

/** How long a test waits to be sure a datagram is NOT answered (the drop counter is the positive proof). */
const SILENCE_MS = 300;

/** Whatever a test opened, closed after it even when it fails (an open socket would keep the run alive). */
const opened = new Set<{ close(): void }>();
afterEach(() => {
  for (const o of opened) o.close();
  opened.clear();
});

/** A UDP echo server: every datagram goes back to its sender unchanged. */
async function udpEcho(host: string): Promise<{ socket: UdpSocket; port: number }> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  socket.on('message', (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((r) => socket.bind(0, host, () => r()));
  return { socket, port: socket.address().port };
}

/** A UDP socket that queues what it receives; `next()` waits (bounded) for the next datagram. */
class UdpPeer {
  private readonly queue: Array<{ msg: Buffer; rinfo: RemoteInfo }> = [];
  private waiter: (() => void) | undefined;
  private constructor(readonly socket: UdpSocket) {
    socket.on('message', (msg, rinfo) => {
      this.queue.push({ msg, rinfo });
      this.waiter?.();
    });
  }
  static async open(host = '127.0.0.1'): Promise<UdpPeer> {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((r) => socket.bind(0, host, () => r()));
    const peer = new UdpPeer(socket);
    opened.add(peer);
    return peer;
  }
  get port(): number {
    return this.socket.address().port;
  }
  send(msg: Buffer, to: { host: string; port: number }): void {
    this.socket.send(msg, to.port, to.host);
  }
  async next(ms = WAIT_MS): Promise<Buffer> {
    const deadline = Date.now() + ms;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no datagram within ${ms} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiter = () => {
          clearTimeout(t);
          r();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift()!.msg;
  }
  /** True when nothing arrives within `ms`. */
  async silent(ms = SILENCE_MS): Promise<boolean> {
    try {
      await this.next(ms);
      return false;
    } catch {
      return true;
    }
  }
  close(): void {
    if (!opened.delete(this)) return;
    this.socket.close();
  }
}

const ipv4 = (ip: string, port: number) => [0x01, ...ip.split('.').map(Number), port >> 8, port & 0xff];

/** Opens a control connection and sends UDP ASSOCIATE with `addr` (ATYP..PORT bytes). */
async function associate(proxyPort: number, addr: number[], proxyHost = '127.0.0.1'): Promise<{ ctl: RawClient; reply: Reply }> {
  const ctl = await RawClient.open(proxyPort, proxyHost);
  opened.add({ close: () => ctl.destroy() });
  ctl.write([0x05, 0x01, 0x00, 0x05, 0x03, 0x00, ...addr]);
  assert.deepEqual([...(await ctl.read(2))], [0x05, 0x00]);
  return { ctl, reply: await readReply(ctl) };
}

const frame = (host: string, port: number, data: string | Buffer, frameNumber = 0) =>
  SocksClient.createUDPFrame({ remoteHost: { host, port }, data: Buffer.from(data), frameNumber });

/** UDP ASSOCIATE with the socks client (createConnection() is CONNECT-only: use the event API). */
async function socksAssociate(proxyPort: number, destination: SocksRemoteHost): Promise<{ socket: Socket; remoteHost: SocksRemoteHost }> {
  const client = new SocksClient({ proxy: { host: '127.0.0.1', port: proxyPort, type: 5 }, command: 'associate', destination, timeout: WAIT_MS });
  const established = new Promise<{ socket: Socket; remoteHost?: SocksRemoteHost }>((resolve, reject) => {
    client.once('established', resolve);
    client.once('error', reject);
  });
  client.connect();
  const { socket, remoteHost } = await established;
  opened.add({ close: () => socket.destroy() });
  assert.ok(remoteHost, 'the reply names the relay');
  return { socket, remoteHost };
}

/** The socks client spells IPv6 in full; compare addresses in one spelling. */
const ip = (host: string) => canonicalIp(host) ?? host;

function only(proxy: Socks5Server): ConnectionInfo {
  const all = proxy.connections();
  assert.equal(all.length, 1);
  return all[0];
}

describe('UDP ASSOCIATE', () => {
  let proxy: Socks5Server;
  let port: number;
  let echo4: Awaited<ReturnType<typeof udpEcho>>;
  let echo6: Awaited<ReturnType<typeof udpEcho>>;
  let echoLocalhost: Awaited<ReturnType<typeof udpEcho>>;
  let localhostIp: string;

  before(async () => {
    ({ server: proxy, port } = await startProxy());
    echo4 = await udpEcho('127.0.0.1');
    echo6 = await udpEcho('::1');
    // The proxy resolves `localhost` the way this machine does: put the echo where it will send.
    localhostIp = (await dns.lookup('localhost')).address;
    echoLocalhost = await udpEcho(localhostIp);
  });
  after(async () => {
    await proxy.stop();
    for (const e of [echo4, echo6, echoLocalhost]) e.socket.close();
  });

  describe('with the socks client', () => {
    it('round trips to IPv4, IPv6 and a domain target; replies name the sender; counters add up', async () => {
      const udp = await UdpPeer.open();
      const { socket: ctl, remoteHost: relay } = await socksAssociate(port, { host: '127.0.0.1', port: udp.port });
      try {
        assert.ok(relay.port > 0);
        assert.equal(relay.host, '127.0.0.1', 'relay on the control connection’s local address');
        const info = only(proxy);
        assert.equal(info.command, 'udpAssociate');
        assert.equal(info.state, 'established');
        assert.deepEqual(info.bound, { host: relay.host, port: relay.port });

        let bytes = 0;
        for (const [target, echoPort, senderIp] of [
          ['127.0.0.1', echo4.port, '127.0.0.1'],
          ['::1', echo6.port, '::1'],
          ['localhost', echoLocalhost.port, localhostIp],
        ] as const) {
          const payload = `hello ${target} via socks`;
          bytes += payload.length;
          udp.send(frame(target, echoPort, payload), relay);
          const back = SocksClient.parseUDPFrame(await udp.next());
          assert.equal(back.data.toString(), payload);
          assert.equal(ip(back.remoteHost.host), senderIp, `the reply header names the sender of ${target}`);
          assert.equal(back.remoteHost.port, echoPort);
          assert.equal(back.frameNumber, 0);
        }
        const after = only(proxy);
        assert.equal(after.datagramsUp, 3);
        assert.equal(after.datagramsDown, 3);
        assert.equal(after.datagramsDropped, 0);
        assert.equal(after.bytesUp, bytes);
        assert.equal(after.bytesDown, bytes);
      } finally {
        ctl.destroy();
        udp.close();
        await eventually(() => proxy.connections().length === 0, WAIT_MS, 'the association to end');
      }
    });

    it('a hot domain name keeps working (answers from the resolver cache)', async () => {
      const udp = await UdpPeer.open();
      const { socket: ctl, remoteHost: relay } = await socksAssociate(port, { host: '0.0.0.0', port: 0 });
      try {
        // 20 datagrams in one burst (the first ones wait for one shared lookup), then 20 more.
        for (let round = 0; round < 2; round++) {
          for (let i = 0; i < 20; i++) udp.send(frame('localhost', echoLocalhost.port, `d${round}-${i}`), relay);
          const got = new Set<string>();
          for (let i = 0; i < 20; i++) got.add(SocksClient.parseUDPFrame(await udp.next()).data.toString());
          assert.equal(got.size, 20);
        }
        assert.equal(only(proxy).datagramsDown, 40);
      } finally {
        ctl.destroy();
        udp.close();
        await eventually(() => proxy.connections().length === 0, WAIT_MS, 'the association to end');
      }
    });
  });

  it('PySocks (python3-socks) does a UDP round trip, by IP and by name', async () => {
    const script = [
      'import socket, sys, socks',
      's = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)',
      `s.set_proxy(socks.SOCKS5, "127.0.0.1", ${port})`,
      's.settimeout(5)',
      `s.sendto(b"ping from python", ("127.0.0.1", ${echo4.port}))`,
      'data, addr = s.recvfrom(4096)',
      'print(data.decode(), addr[0], addr[1])',
      `s.sendto(b"ping by name", ("localhost", ${echoLocalhost.port}))`,
      'data, addr = s.recvfrom(4096)',
      'print(data.decode(), addr[0], addr[1])',
      's.close()',
    ].join('\n');
    const r = await run('/usr/bin/python3', ['-c', script], 15000);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `ping from python 127.0.0.1 ${echo4.port}\nping by name ${localhostIp} ${echoLocalhost.port}\n`);
    await eventually(() => proxy.recentlyClosed().some((c) => c.command === 'udpAssociate' && c.datagramsDown === 2));
  });

  describe('raw', () => {
    it('DST.PORT named: datagrams from another port or address are dropped and counted', async () => {
      const mine = await UdpPeer.open();
      const otherPort = await UdpPeer.open('127.0.0.1');
      const otherAddr = await UdpPeer.open('127.0.0.2');
      const { ctl, reply } = await associate(port, ipv4('127.0.0.1', mine.port));
      try {
        assert.equal(reply.rep, 0x00);
        otherPort.send(frame('127.0.0.1', echo4.port, 'from another port'), reply);
        otherAddr.send(frame('127.0.0.1', echo4.port, 'from another address'), reply);
        await eventually(() => only(proxy).datagramsDropped === 2, WAIT_MS, 'two drops');
        assert.ok(await otherPort.silent());
        assert.ok(await otherAddr.silent());
        mine.send(frame('127.0.0.1', echo4.port, 'from the client'), reply);
        assert.equal(SocksClient.parseUDPFrame(await mine.next()).data.toString(), 'from the client');
        const info = only(proxy);
        assert.equal(info.datagramsUp, 1);
        assert.equal(info.datagramsDropped, 2);
      } finally {
        ctl.destroy();
        for (const u of [mine, otherPort, otherAddr]) u.close();
        await eventually(() => proxy.connections().length === 0);
      }
    });

    it('DST 0.0.0.0:0: only the control connection’s IP, and the first datagram pins the port', async () => {
      const first = await UdpPeer.open();
      const second = await UdpPeer.open();
      const foreign = await UdpPeer.open('127.0.0.2');
      const { ctl, reply } = await associate(port, ipv4('0.0.0.0', 0));
      try {
        foreign.send(frame('127.0.0.1', echo4.port, 'foreign'), reply);
        await eventually(() => only(proxy).datagramsDropped === 1, WAIT_MS, 'the foreign datagram to be dropped');
        first.send(frame('127.0.0.1', echo4.port, 'first'), reply);
        assert.equal(SocksClient.parseUDPFrame(await first.next()).data.toString(), 'first');
        second.send(frame('127.0.0.1', echo4.port, 'second'), reply);
        await eventually(() => only(proxy).datagramsDropped === 2, WAIT_MS, 'the second port to be dropped');
        assert.ok(await second.silent());
        assert.ok(await foreign.silent());
      } finally {
        ctl.destroy();
        for (const u of [first, second, foreign]) u.close();
        await eventually(() => proxy.connections().length === 0);
      }
    });

    it('FRAG ≠ 0 and malformed datagrams are dropped and counted; the association keeps working', async () => {
      const udp = await UdpPeer.open();
      const { ctl, reply } = await associate(port, ipv4('127.0.0.1', udp.port));
      try {
        const bad = [
          frame('127.0.0.1', echo4.port, 'fragment 1', 1),
          frame('127.0.0.1', echo4.port, 'last fragment', 0x81),
          Buffer.from([0x00, 0x00, 0x00]), // shorter than any header
          Buffer.from([0x00, 0x00, 0x00, 0x09, 1, 2, 3, 4, 0, 53]), // unknown ATYP
          Buffer.from([0x00, 0x00, 0x00, 0x01, 127, 0, 0]), // truncated IPv4
          Buffer.from([0x00, 0x00, 0x00, 0x03, 20, 0x61, 0x62]), // truncated domain
          Buffer.from([0x00, 0x00, 0x00, 0x03, 0, 0, 53]), // empty domain
          frame('127.0.0.1', 0, 'to port 0'),
        ];
        for (const b of bad) udp.send(b, reply);
        await eventually(() => only(proxy).datagramsDropped === bad.length, WAIT_MS, `${bad.length} drops`);
        assert.ok(await udp.silent(), 'no answer to any of them');
        assert.equal(only(proxy).datagramsUp, 0);
        udp.send(frame('127.0.0.1', echo4.port, 'still fine'), reply);
        assert.equal(SocksClient.parseUDPFrame(await udp.next()).data.toString(), 'still fine');
        assert.equal(only(proxy).datagramsUp, 1);
      } finally {
        ctl.destroy();
        udp.close();
        await eventually(() => proxy.connections().length === 0);
      }
    });

    it('closing the TCP control connection ends the association and frees the relay port', async () => {
      const udp = await UdpPeer.open();
      const { ctl, reply } = await associate(port, ipv4('127.0.0.1', udp.port));
      udp.send(frame('127.0.0.1', echo4.port, 'before'), reply);
      assert.equal(SocksClient.parseUDPFrame(await udp.next()).data.toString(), 'before');
      ctl.socket.end(); // a FIN only: the proxy must notice it on a connection that carries nothing else
      await ctl.waitClosed();
      await eventually(() => proxy.connections().length === 0, WAIT_MS, 'the association to end');
      const closed = proxy.recentlyClosed()[0];
      assert.equal(closed.command, 'udpAssociate');
      assert.equal(closed.outcome.kind, 'closed-by-client');
      assert.equal(closed.datagramsUp, 1);
      assert.equal(closed.datagramsDown, 1);
      udp.send(frame('127.0.0.1', echo4.port, 'after'), reply);
      assert.ok(await udp.silent(), 'nothing relayed after the control connection closed');
      // The relay port is free again: nobody holds it.
      const probe = createSocket('udp4');
      opened.add({
        close: () => {
          try {
            probe.close();
          } catch {
            /* already closed */
          }
        },
      });
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.bind(reply.port, reply.host, () => resolve());
      });
    });

    it('a DST.ADDR other than the client’s own address is refused with 0x02', async () => {
      const { ctl, reply } = await associate(port, ipv4('127.0.0.2', 5000));
      assert.equal(reply.rep, 0x02);
      await ctl.waitClosed();
    });

    it('an idle association ends after idleMs', async () => {
      const { server: p2, port: port2 } = await startProxy({ timeouts: { ...DEFAULT_TIMEOUTS, idleMs: 200 } });
      try {
        const udp = await UdpPeer.open();
        const { ctl, reply } = await associate(port2, ipv4('0.0.0.0', 0));
        udp.send(frame('127.0.0.1', echo4.port, 'once'), reply);
        assert.equal(SocksClient.parseUDPFrame(await udp.next()).data.toString(), 'once');
        await ctl.waitClosed();
        await eventually(() => p2.connections().length === 0);
        assert.equal(p2.recentlyClosed()[0].outcome.kind, 'idle-timeout');
        udp.close();
      } finally {
        await p2.stop();
      }
    });

    it('a control connection over IPv6 gets an IPv6 relay, which reaches IPv4 and IPv6 targets', async () => {
      const p6 = new Socks5Server({ host: '::1', port: 0 });
      const { port: port6 } = await p6.start();
      const udp = await UdpPeer.open('::1');
      try {
        const { ctl, reply } = await associate(port6, [0x04, ...Buffer.alloc(16), 0, 0], '::1');
        assert.equal(reply.rep, 0x00);
        assert.equal(reply.type, 'ipv6');
        assert.equal(reply.host, '::1');
        for (const [target, echoPort] of [
          ['127.0.0.1', echo4.port],
          ['::1', echo6.port],
        ] as const) {
          udp.send(frame(target, echoPort, `v6 relay to ${target}`), reply);
          const back = SocksClient.parseUDPFrame(await udp.next());
          assert.equal(back.data.toString(), `v6 relay to ${target}`);
          assert.equal(ip(back.remoteHost.host), target);
        }
        ctl.destroy();
        await eventually(() => p6.connections().length === 0);
      } finally {
        udp.close();
        await p6.stop();
      }
    });
  });
});
