// The upstream (chained) proxy with real peers on loopback: Dante (danted, with and without
// username auth) and this project's own CLI as SOCKS5 upstreams, tinyproxy and squid as HTTP
// upstreams; curl, the `socks` npm client (CONNECT, BIND, UDP) and PySocks as clients.
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SocksClient } from 'socks';
import { Socks5Server, type Logger, type ServerOptions } from '../../src/engine';
import { close, closedPort, eventually, httpServer, readN, run, startProxy, within, WAIT_MS } from '../support/net';
import { CLI, startCli, startDante, startSquid, startTinyproxy, withSystemUser, type PeerProcess, type SystemUser } from '../support/peers';

/** A logger that keeps its lines (the tests read what a user would read). */
function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { lines, debugEnabled: false, debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') };
}

async function proxyVia(upstream: ServerOptions['upstream'], extra: Partial<ServerOptions> = {}) {
  const logger = memoryLogger();
  const { server, port } = await startProxy({ upstream, logger, ...extra });
  return { server, port, logger };
}

const curl = (port: number, url: string, extra: string[] = []) =>
  run('curl', ['-sS', '--max-time', '10', '--socks5-hostname', `127.0.0.1:${port}`, ...extra, url]);

/** The last closed connection, once the proxy has seen it close. */
async function lastClosed(server: Socks5Server) {
  await eventually(() => server.recentlyClosed().length > 0 && server.connections().length === 0, WAIT_MS, 'the connection to close');
  return server.recentlyClosed()[0];
}

/** One UDP datagram socket on 127.0.0.1 that answers every datagram with "echo:" + it. */
async function udpEcho(): Promise<{ socket: UdpSocket; port: number }> {
  const socket = createSocket('udp4');
  socket.on('message', (m, r) => socket.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return { socket, port: socket.address().port };
}

/** UDP ASSOCIATE (or any command) with the socks client's event API (createConnection() is CONNECT-only). */
function socksEvent(proxyPort: number, command: 'associate' | 'bind', destination: { host: string; port: number }) {
  const client = new SocksClient({ proxy: { host: '127.0.0.1', port: proxyPort, type: 5 }, command, destination, timeout: WAIT_MS });
  const established = new Promise<{ socket: Socket; remoteHost?: { host: string; port: number } }>((resolve, reject) => {
    if (command === 'bind') client.once('bound', resolve);
    else client.once('established', resolve);
    client.once('error', reject);
  });
  client.connect();
  return within(established, `the ${command} reply`);
}

/** A UDP round trip through a SOCKS5 proxy with the `socks` client: the answer's data. */
async function socksUdpRoundTrip(proxyPort: number, target: { host: string; port: number }, payload: string): Promise<string> {
  const udp = createSocket('udp4');
  udp.bind(0, '127.0.0.1');
  await once(udp, 'listening');
  const { socket: control, remoteHost } = await socksEvent(proxyPort, 'associate', { host: '127.0.0.1', port: udp.address().port });
  try {
    const answer = within(once(udp, 'message'), 'the UDP answer');
    const frame = SocksClient.createUDPFrame({ remoteHost: target, data: Buffer.from(payload) });
    udp.send(frame, remoteHost!.port, remoteHost!.host);
    const [msg] = (await answer) as [Buffer];
    return SocksClient.parseUDPFrame(msg).data.toString();
  } finally {
    control.destroy();
    udp.close();
  }
}

/** BIND through a SOCKS5 proxy with the `socks` client; a peer connects to the announced address and says hello. */
async function socksBind(proxyPort: number): Promise<{ fromPeer: string; announced: { host: string; port: number } }> {
  const client = new SocksClient({
    proxy: { host: '127.0.0.1', port: proxyPort, type: 5 },
    command: 'bind',
    destination: { host: '0.0.0.0', port: 0 },
    timeout: WAIT_MS,
  });
  const bound = within(once(client, 'bound') as Promise<[{ remoteHost: { host: string; port: number } }]>, 'the first BIND reply');
  const established = within(once(client, 'established') as Promise<[{ socket: Socket }]>, 'the second BIND reply');
  client.on('error', () => {});
  client.connect();
  const [{ remoteHost: announced }] = await bound;
  const host = announced.host === '0.0.0.0' ? '127.0.0.1' : announced.host;
  const peer = connect({ host, port: announced.port });
  peer.on('error', () => {});
  await within(once(peer, 'connect'), 'the peer to connect');
  const [{ socket }] = await established;
  try {
    socket.resume();
    peer.write('hello from the peer');
    return { fromPeer: (await readN(socket, 19)).toString(), announced };
  } finally {
    socket.destroy();
    peer.destroy();
  }
}

async function pysocksGet(proxyPort: number, port: number, path = '/'): Promise<string> {
  const script = [
    'import socket, socks',
    's = socks.socksocket()',
    `s.set_proxy(socks.SOCKS5, "127.0.0.1", ${proxyPort}, rdns=True)`,
    's.settimeout(10)',
    `s.connect(("localhost", ${port}))`,
    `s.sendall(b"GET ${path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n")`,
    'data = b""',
    'while True:',
    '    chunk = s.recv(65536)',
    '    if not chunk: break',
    '    data += chunk',
    'print(data.decode().split("\\r\\n\\r\\n", 1)[1], end="")',
  ].join('\n');
  const r = await run('/usr/bin/python3', ['-c', script], 15000);
  assert.equal(r.stderr, '');
  return r.stdout;
}

describe('upstream: Dante without auth (socks5:// and socks5h://)', () => {
  let dante: PeerProcess;
  let http: Awaited<ReturnType<typeof httpServer>>;
  let echo: Awaited<ReturnType<typeof udpEcho>>;
  let viaH: Awaited<ReturnType<typeof proxyVia>>;
  let viaLocal: Awaited<ReturnType<typeof proxyVia>>;

  before(async () => {
    dante = await startDante();
    http = await httpServer('through dante\n');
    echo = await udpEcho();
    viaH = await proxyVia({ url: `socks5h://127.0.0.1:${dante.port}` });
    viaLocal = await proxyVia({ url: `socks5://127.0.0.1:${dante.port}` });
  });
  after(async () => {
    await Promise.all([viaH.server.stop(), viaLocal.server.stop(), close(http.server), dante.stop()]);
    echo.socket.close();
  });

  it('curl reaches a page through the chain; the route names the upstream', async () => {
    const r = await curl(viaH.port, `http://localhost:${http.port}/`);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'through dante\n');
    const c = await lastClosed(viaH.server);
    assert.equal(c.route, `socks5h://127.0.0.1:${dante.port}`);
    assert.match(dante.log(), /pass\(1\): tcp\/connect/);
  });

  it('socks5:// resolves the name here and sends Dante the address', async () => {
    const r = await curl(viaLocal.port, `http://localhost:${http.port}/`);
    assert.equal(r.stdout, 'through dante\n');
    assert.equal((await lastClosed(viaLocal.server)).route, `socks5://127.0.0.1:${dante.port}`);
  });

  it('PySocks fetches through the chain', async () => {
    assert.equal(await pysocksGet(viaH.port, http.port), 'through dante\n');
  });

  it("BIND goes through Dante's own BIND: both replies, then the peer's bytes", async () => {
    const { fromPeer, announced } = await socksBind(viaH.port);
    assert.equal(fromPeer, 'hello from the peer');
    // The address announced is Dante's listener, not one of ours.
    assert.ok(!viaH.server.connections().some((c) => c.bound?.port === announced.port && c.route === undefined));
    const c = await lastClosed(viaH.server);
    assert.equal(c.command, 'bind');
    assert.equal(c.route, `socks5h://127.0.0.1:${dante.port}`);
  });

  it("UDP goes through Dante's own UDP ASSOCIATE", async () => {
    assert.equal(await socksUdpRoundTrip(viaH.port, { host: '127.0.0.1', port: echo.port }, 'dgram'), 'echo:dgram');
    const c = await lastClosed(viaH.server);
    assert.equal(c.command, 'udpAssociate');
    assert.equal(c.route, `socks5h://127.0.0.1:${dante.port}`);
    assert.equal(c.datagramsUp, 1);
    assert.equal(c.datagramsDown, 1);
    assert.match(dante.log(), /udp\/udpassociate/);
  });

  it("the upstream's own failure reply is passed on (Dante: connection refused)", async () => {
    const port = await closedPort();
    // What Dante itself answers…
    const direct = await run('curl', ['-sS', '--max-time', '10', '--socks5', `127.0.0.1:${dante.port}`, `http://127.0.0.1:${port}/`]);
    // …is what a client of the chain gets.
    const chained = await run('curl', ['-sS', '--max-time', '10', '--socks5', `127.0.0.1:${viaH.port}`, `http://127.0.0.1:${port}/`]);
    assert.notEqual(chained.code, 0);
    assert.equal(chained.stderr.replace(String(viaH.port), 'P'), direct.stderr.replace(String(dante.port), 'P'));
    const c = await lastClosed(viaH.server);
    assert.equal(c.outcome.reply, 0x05);
    assert.match(c.outcome.message, new RegExp(`upstream socks5h://127\\.0\\.0\\.1:${dante.port} answered refused \\(0x05\\)`));
  });
});

describe('upstream: Dante with username auth (a throwaway system user)', () => {
  let user: SystemUser;
  let dante: PeerProcess;
  let http: Awaited<ReturnType<typeof httpServer>>;

  before(async () => {
    user = withSystemUser();
    dante = await startDante({ socksmethod: 'username' });
    http = await httpServer('authenticated\n');
  });
  after(async () => {
    await Promise.all([close(http.server), dante.stop()]);
    user.remove();
  });

  it('the right password gets through', async () => {
    const via = await proxyVia({ url: `socks5h://${user.name}@127.0.0.1:${dante.port}`, password: user.password });
    try {
      assert.equal((await curl(via.port, `http://127.0.0.1:${http.port}/`)).stdout, 'authenticated\n');
    } finally {
      await via.server.stop();
    }
  });

  it('a wrong password: 0x01 for the client, a log line naming the upstream (never the password)', async () => {
    const via = await proxyVia({ url: `socks5h://${user.name}@127.0.0.1:${dante.port}`, password: 'wrong-password' });
    try {
      const r = await curl(via.port, `http://127.0.0.1:${http.port}/`);
      assert.notEqual(r.code, 0);
      const c = await lastClosed(via.server);
      assert.equal(c.outcome.reply, 0x01);
      const line = via.logger.lines.find((l) => l.includes('rejected the user name and password'));
      assert.ok(line, via.logger.lines.join('\n'));
      assert.ok(line.includes(`socks5h://${user.name}@127.0.0.1:${dante.port}`));
      assert.ok(!via.logger.lines.some((l) => l.includes('wrong-password')));
    } finally {
      await via.server.stop();
    }
  });
});

describe("upstream: this project's CLI as the SOCKS5 upstream", () => {
  let upstream: PeerProcess;
  let http: Awaited<ReturnType<typeof httpServer>>;
  let echo: Awaited<ReturnType<typeof udpEcho>>;

  before(async () => {
    upstream = await startCli(['--port', '0', '-v', '--user', 'chain', '--password', 'link-pw']);
    http = await httpServer('through our own cli\n');
    echo = await udpEcho();
  });
  after(async () => {
    await Promise.all([close(http.server), upstream.stop()]);
    echo.socket.close();
  });

  it('CONNECT, BIND and UDP through it (with RFC 1929 auth)', async () => {
    const via = await proxyVia({ url: `socks5h://chain@127.0.0.1:${upstream.port}`, password: 'link-pw' });
    try {
      assert.equal((await curl(via.port, `http://localhost:${http.port}/`)).stdout, 'through our own cli\n');
      assert.equal((await socksBind(via.port)).fromPeer, 'hello from the peer');
      assert.equal(await socksUdpRoundTrip(via.port, { host: '127.0.0.1', port: echo.port }, 'x'), 'echo:x');
      await eventually(() => /UDP ASSOCIATE/.test(upstream.log()), WAIT_MS, 'the upstream to log the association');
      assert.match(upstream.log(), new RegExp(`CONNECT localhost:${http.port}`));
      assert.match(upstream.log(), /BIND 0\.0\.0\.0:0/);
    } finally {
      await via.server.stop();
    }
  });

  it('the CLI chains too: --upstream URL with SOCKS5_UPSTREAM_PASSWORD, --upstream-bypass', async () => {
    const front = await startCli(
      ['--port', '0', '-v', '--upstream', `socks5h://chain@127.0.0.1:${upstream.port}`, '--upstream-bypass', 'direct.localhost', '--upstream-bypass', '127.0.0.2'],
      { SOCKS5_UPSTREAM_PASSWORD: 'link-pw' },
    );
    try {
      const r = await curl(front.port, `http://localhost:${http.port}/`);
      assert.equal(r.stdout, "through our own cli\n", `${r.stderr}\n${front.log()}\n${upstream.log().slice(-3000)}`);
      await eventually(() => /route socks5h:\/\/chain@127\.0\.0\.1/.test(front.log()) || /via socks5h/.test(front.log()), WAIT_MS, 'the route in the log');
      assert.ok(!front.log().includes('link-pw'));
    } finally {
      await front.stop();
    }
  });

  it('--upstream with a password in the URL is refused at start, without echoing it', async () => {
    const r = await run(process.execPath, [CLI, '--port', '0', '--upstream', 'socks5h://u:topsecret@127.0.0.1:1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /password apart from the URL/);
    assert.ok(!r.stderr.includes('topsecret'));
  });
});

describe('upstream: HTTP proxies (tinyproxy, squid)', () => {
  let tiny: PeerProcess;
  let tinyAuth: PeerProcess;
  let squid: PeerProcess;
  let http: Awaited<ReturnType<typeof httpServer>>;

  before(async () => {
    [tiny, tinyAuth, squid] = await Promise.all([startTinyproxy(), startTinyproxy({ basicAuth: { user: 'bob', password: 'tiny-pw' } }), startSquid()]);
    http = await httpServer('through an http proxy\n');
  });
  after(async () => {
    await Promise.all([close(http.server), tiny.stop(), tinyAuth.stop(), squid.stop()]);
  });

  it('CONNECT goes through tinyproxy and squid', async () => {
    for (const peer of [tiny, squid]) {
      const via = await proxyVia({ url: `http://127.0.0.1:${peer.port}` });
      try {
        const r = await curl(via.port, `http://localhost:${http.port}/`);
        assert.equal(r.stdout, 'through an http proxy\n', `${r.stderr}\n${peer.log()}`);
        assert.equal((await lastClosed(via.server)).route, `http://127.0.0.1:${peer.port}`);
      } finally {
        await via.server.stop();
      }
    }
  });

  it('Basic auth: the right password gets through, none gets 0x01 and a log line naming the 407', async () => {
    const good = await proxyVia({ url: `http://bob@127.0.0.1:${tinyAuth.port}`, password: 'tiny-pw' });
    const none = await proxyVia({ url: `http://127.0.0.1:${tinyAuth.port}` });
    try {
      assert.equal((await curl(good.port, `http://127.0.0.1:${http.port}/`)).stdout, 'through an http proxy\n');
      const r = await curl(none.port, `http://127.0.0.1:${http.port}/`);
      assert.notEqual(r.code, 0);
      const c = await lastClosed(none.server);
      assert.equal(c.outcome.reply, 0x01);
      assert.match(c.outcome.message, /answered 407/);
    } finally {
      await Promise.all([good.server.stop(), none.server.stop()]);
    }
  });

  it('BIND and UDP ASSOCIATE are refused with 0x07 and a log line saying why', async () => {
    const via = await proxyVia({ url: `http://127.0.0.1:${tiny.port}` });
    try {
      for (const command of ['bind', 'associate'] as const) {
        await assert.rejects(socksEvent(via.port, command, { host: '0.0.0.0', port: 0 }), /Socks5 proxy rejected connection - CommandNotSupported/);
      }
      const lines = via.logger.lines.filter((l) => l.startsWith('warn') && l.includes(`cannot go through the HTTP upstream http://127.0.0.1:${tiny.port}`));
      assert.equal(lines.length, 2, via.logger.lines.join('\n'));
    } finally {
      await via.server.stop();
    }
  });
});

describe('upstream: bypass and failure', () => {
  let upstream: Socks5Server;
  let upstreamPort: number;
  let http: Awaited<ReturnType<typeof httpServer>>;

  before(async () => {
    ({ server: upstream, port: upstreamPort } = await startProxy());
    http = await httpServer('bypass test\n');
  });
  after(async () => {
    await Promise.all([upstream.stop(), close(http.server)]);
  });

  it('destinations matching upstream.bypass go direct; others through the upstream', async () => {
    const via = await proxyVia({ url: `socks5h://127.0.0.1:${upstreamPort}`, bypass: ['.localhost', '10.0.0.0/8'] });
    try {
      const before = upstream.stats().total;
      assert.equal((await curl(via.port, `http://localhost:${http.port}/`)).stdout, 'bypass test\n');
      assert.equal((await lastClosed(via.server)).route, 'direct');
      assert.equal(upstream.stats().total, before, 'the upstream saw nothing');
      assert.equal((await curl(via.port, `http://127.0.0.1:${http.port}/`)).stdout, 'bypass test\n');
      await eventually(() => via.server.recentlyClosed().length === 2);
      assert.equal(via.server.recentlyClosed()[0].route, `socks5h://127.0.0.1:${upstreamPort}`);
      assert.equal(upstream.stats().total, before + 1);
    } finally {
      await via.server.stop();
    }
  });

  it('an upstream that is down: 0x01 and a log line naming it, never a direct fallback', async () => {
    const port = await closedPort();
    const via = await proxyVia({ url: `socks5h://127.0.0.1:${port}` });
    try {
      const r = await run('curl', ['-sS', '--max-time', '10', '--socks5-hostname', `127.0.0.1:${via.port}`, `http://127.0.0.1:${http.port}/`]);
      assert.notEqual(r.code, 0);
      assert.equal(r.stdout, '', 'nothing fetched: no silent direct fallback');
      const c = await lastClosed(via.server);
      assert.equal(c.outcome.reply, 0x01);
      const line = via.logger.lines.find((l) => l.includes(`upstream socks5h://127.0.0.1:${port} is unreachable`));
      assert.ok(line, via.logger.lines.join('\n'));
    } finally {
      await via.server.stop();
    }
  });
});
