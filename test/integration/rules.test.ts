// Rules (issue 14) against a live server, from both sides, with real clients: curl, PySocks, the
// `socks` npm client (BIND, UDP) and raw bytes. Allowed flows pass; denied ones get "not allowed"
// (SOCKS5 0x02) naming the rule; a name that resolves into a denied range is denied (the server's
// `resolve` option plays the rebinding DNS); clients off the allow-list are closed before a byte is
// read; invalid host names get "host unreachable" before any lookup.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SocksClient, type SocksRemoteHost } from 'socks';
import { Socks5Server, systemResolver, type ClosedConnectionInfo, type Logger } from '../../src/engine';
import { RawClient, close, echoServer, eventually, httpServer, readReply, run, startProxy, within, WAIT_MS } from '../support/net';

const ALLOWED_IP = '127.0.0.1';
const DENIED_IP = '127.0.0.2';

/** The names the proxy's resolver knows: a name mapped into the denied range is the rebinding case. */
const NAMES: Record<string, string[]> = {
  'allowed.test': [ALLOWED_IP],
  'rebind.test': [DENIED_IP],
  'mixed.test': [ALLOWED_IP, DENIED_IP],
};
const lookups: string[] = [];
async function resolve(host: string): Promise<string[]> {
  lookups.push(host);
  return NAMES[host] ?? systemResolver.resolve(host);
}

function recorder(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const push = (m: string) => lines.push(m);
  return { lines, logger: { debugEnabled: false, debug() {}, info: push, warn: push, error: push } };
}

const ipv4 = (ip: string, port: number) => [0x01, ...ip.split('.').map(Number), port >> 8, port & 0xff];
const domain = (name: string | Buffer, port: number) => {
  const b = Buffer.isBuffer(name) ? name : Buffer.from(name);
  return [0x03, b.length, ...b, port >> 8, port & 0xff];
};

/** Greeting (no auth) + a request; returns the reply code. */
async function request(port: number, cmd: number, addr: number[]): Promise<{ rep: number; c: RawClient }> {
  const c = await RawClient.open(port);
  c.write([0x05, 0x01, 0x00, 0x05, cmd, 0x00, ...addr]);
  assert.deepEqual([...(await c.read(2))], [0x05, 0x00]);
  return { rep: (await readReply(c)).rep, c };
}

async function lastClosed(proxy: Socks5Server, pred: (c: ClosedConnectionInfo) => boolean): Promise<ClosedConnectionInfo> {
  await eventually(() => proxy.recentlyClosed().some(pred), WAIT_MS, 'the session to close');
  return proxy.recentlyClosed().find(pred)!;
}

/** curl's exit code and stderr for a fetch through the proxy. */
const curl = (flag: string, proxyPort: number, url: string, extra: string[] = []) =>
  run('curl', ['-sS', '--max-time', '10', flag, `127.0.0.1:${proxyPort}`, ...extra, url]);

describe('destination rules', () => {
  let proxy: Socks5Server;
  let port: number;
  let web: Awaited<ReturnType<typeof httpServer>>;
  let webDenied: Awaited<ReturnType<typeof httpServer>>;
  const log = recorder();

  before(async () => {
    web = await httpServer('allowed page\n');
    webDenied = await httpServer('denied page\n', DENIED_IP);
    ({ server: proxy, port } = await startProxy({
      resolve,
      logger: log.logger,
      rules: { destinations: [`deny ${DENIED_IP}`, 'deny *.corp.test', `deny *:${web.port} user:bob`] },
    }));
  });
  after(async () => {
    await proxy.stop();
    await Promise.all([close(web.server), close(webDenied.server)]);
  });

  it('curl --socks5 to an allowed address fetches the page', async () => {
    const r = await curl('--socks5', port, `http://${ALLOWED_IP}:${web.port}/`);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'allowed page\n');
  });

  it('curl --socks5 to a denied address gets 0x02; the outcome and the log name the rule', async () => {
    const r = await curl('--socks5', port, `http://${DENIED_IP}:${webDenied.port}/`);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /\(2\)|not allowed/i, r.stderr);
    const c = await lastClosed(proxy, (x) => x.destination?.host === DENIED_IP);
    assert.equal(c.outcome.kind, 'reply');
    assert.equal(c.outcome.reply, 0x02);
    assert.match(c.outcome.message, new RegExp(`denied by rule 1: deny ${DENIED_IP.replace(/\./g, '\\.')}`));
    assert.ok(log.lines.some((l) => l.includes('denied by rule 1: deny 127.0.0.2')), log.lines.join('\n'));
  });

  it('curl --socks5-hostname: an allowed name is fetched, a name resolving into a denied range is denied (rebinding)', async () => {
    const ok = await curl('--socks5-hostname', port, `http://allowed.test:${web.port}/`);
    assert.equal(ok.stdout, 'allowed page\n');
    const bad = await curl('--socks5-hostname', port, `http://rebind.test:${webDenied.port}/`);
    assert.notEqual(bad.code, 0);
    assert.equal(bad.stdout, '');
    const c = await lastClosed(proxy, (x) => x.destination?.host === 'rebind.test');
    assert.equal(c.outcome.reply, 0x02);
    assert.match(c.outcome.message, /denied by rule 1: deny 127\.0\.0\.2 \(rebind\.test resolved to 127\.0\.0\.2\)/);
  });

  it('a name with one denied address among allowed ones is denied (no Happy Eyeballs fallback)', async () => {
    const { rep, c } = await request(port, 0x01, domain('mixed.test', web.port));
    c.destroy();
    assert.equal(rep, 0x02);
  });

  it('a name denied by a name rule is refused before any lookup', async () => {
    const before = lookups.length;
    const { rep, c } = await request(port, 0x01, domain('git.corp.test', 22));
    c.destroy();
    assert.equal(rep, 0x02);
    assert.equal(lookups.length, before, 'no lookup');
    const closed = await lastClosed(proxy, (x) => x.destination?.host === 'git.corp.test');
    assert.match(closed.outcome.message, /denied by rule 2: deny \*\.corp\.test/);
  });

  it('PySocks: allowed connects, denied raises the 0x02 error', async () => {
    const script = (host: string, p: number) =>
      [
        'import socket, socks',
        's = socks.socksocket()',
        `s.set_proxy(socks.SOCKS5, "127.0.0.1", ${port}, rdns=True)`,
        's.settimeout(5)',
        'try:',
        `    s.connect((${JSON.stringify(host)}, ${p}))`,
        '    s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")',
        '    print(s.recv(4096).decode().split("\\r\\n")[0])',
        'except socks.ProxyError as e:',
        '    print("error", e.socket_err if hasattr(e, "socket_err") else "", e.msg)',
      ].join('\n');
    const ok = await run('/usr/bin/python3', ['-c', script('allowed.test', web.port)]);
    assert.match(ok.stdout, /^HTTP\/1\.[01] 200/, ok.stderr);
    const bad = await run('/usr/bin/python3', ['-c', script('rebind.test', webDenied.port)]);
    assert.match(bad.stdout, /error.*(not allowed|0x02)/i, bad.stdout + bad.stderr);
  });

  it('per-user rules need auth: bob is denied, alice is not', async () => {
    const { server: authProxy, port: authPort } = await startProxy({
      resolve,
      users: new Map([
        ['alice', 'a-pass'],
        ['bob', 'b-pass'],
      ]),
      rules: { destinations: [`deny * user:bob`] },
    });
    try {
      const alice = await curl('--socks5', authPort, `http://${ALLOWED_IP}:${web.port}/`, ['--proxy-user', 'alice:a-pass']);
      assert.equal(alice.stdout, 'allowed page\n');
      const bob = await curl('--socks5', authPort, `http://${ALLOWED_IP}:${web.port}/`, ['--proxy-user', 'bob:b-pass']);
      assert.notEqual(bob.code, 0);
      const c = await lastClosed(authProxy, (x) => x.user === 'bob');
      assert.equal(c.outcome.reply, 0x02);
      assert.match(c.outcome.message, /denied by rule 1: deny \* user:bob/);
    } finally {
      await authProxy.stop();
    }
  });

  it('an invalid host name gets host unreachable before any lookup, and is logged escaped', async () => {
    const before = lookups.length;
    for (const name of [Buffer.from('evil\nname.test'), Buffer.from('a..b'), Buffer.from(`${'x'.repeat(64)}.test`), Buffer.from([0x61, 0x00, 0x62])]) {
      const { rep, c } = await request(port, 0x01, domain(name, 80));
      c.destroy();
      assert.equal(rep, 0x04, JSON.stringify(name.toString()));
    }
    assert.equal(lookups.length, before, 'no lookup');
    await eventually(() => log.lines.some((l) => l.includes('evil\\u000aname.test')), WAIT_MS, 'the escaped log line');
    assert.ok(!log.lines.some((l) => l.includes('evil\nname')), 'never a raw newline in the log');
  });

  it('rules apply live to new connections; an invalid rule set is refused and the running one stays', async () => {
    proxy.setOptions({ rules: { destinations: [`deny ${ALLOWED_IP}:${web.port}`] } });
    try {
      const r = await curl('--socks5', port, `http://${ALLOWED_IP}:${web.port}/`);
      assert.notEqual(r.code, 0);
      assert.throws(() => proxy.setOptions({ rules: { destinations: ['deny 10.0.0.0/8', 'alow *'] } }), /rule 2: "alow \*" must start with allow or deny/);
      const still = await curl('--socks5', port, `http://${ALLOWED_IP}:${web.port}/`);
      assert.notEqual(still.code, 0, 'the last valid rules keep running');
    } finally {
      proxy.setOptions({ rules: { destinations: [`deny ${DENIED_IP}`, 'deny *.corp.test', `deny *:${web.port} user:bob`] } });
    }
    const back = await curl('--socks5', port, `http://${ALLOWED_IP}:${web.port}/`);
    assert.equal(back.stdout, 'allowed page\n');
  });
});

describe('block-private', () => {
  it('denies loopback targets, by address and by name; off, they flow', async () => {
    const web = await httpServer('private page\n');
    const { server: proxy, port } = await startProxy({ resolve, rules: { blockPrivate: true } });
    try {
      const byIp = await curl('--socks5', port, `http://127.0.0.1:${web.port}/`);
      assert.notEqual(byIp.code, 0);
      const byName = await curl('--socks5-hostname', port, `http://allowed.test:${web.port}/`);
      assert.notEqual(byName.code, 0);
      const c = await lastClosed(proxy, (x) => x.destination?.host === 'allowed.test');
      assert.equal(c.outcome.reply, 0x02);
      assert.match(c.outcome.message, /denied by block-private: 127\.0\.0\.0\/8 \(loopback\)/);
      const v6 = await curl('--socks5', port, `http://[::ffff:127.0.0.1]:${web.port}/`);
      assert.notEqual(v6.code, 0);
      proxy.setOptions({ rules: { blockPrivate: false } });
      const open = await curl('--socks5', port, `http://127.0.0.1:${web.port}/`);
      assert.equal(open.stdout, 'private page\n');
    } finally {
      await proxy.stop();
      await close(web.server);
    }
  });
});

describe('BIND and UDP', () => {
  let proxy: Socks5Server;
  let port: number;
  const log = recorder();
  before(async () => {
    ({ server: proxy, port } = await startProxy({ resolve, logger: log.logger, rules: { destinations: [`deny ${DENIED_IP}`] } }));
  });
  after(() => proxy.stop());

  it('BIND expecting a denied peer gets 0x02 (socks client); an allowed peer works', async () => {
    const denied = new SocksClient({ proxy: { host: '127.0.0.1', port, type: 5 }, command: 'bind', destination: { host: DENIED_IP, port: 0 }, timeout: WAIT_MS });
    const err = within(once(denied, 'error') as Promise<[Error]>, 'the BIND error');
    denied.connect();
    const [e] = await err;
    assert.match(e.message, /NotAllowed/);
    // By name: the expected peer's name resolves into the denied range.
    const { rep, c } = await request(port, 0x02, domain('rebind.test', 0));
    c.destroy();
    assert.equal(rep, 0x02);
    const closed = await lastClosed(proxy, (x) => x.command === 'bind' && x.destination?.host === 'rebind.test');
    assert.match(closed.outcome.message, /denied by rule 1: deny 127\.0\.0\.2 \(rebind\.test resolved to 127\.0\.0\.2\)/);

    const ok = new SocksClient({ proxy: { host: '127.0.0.1', port, type: 5 }, command: 'bind', destination: { host: ALLOWED_IP, port: 0 }, timeout: WAIT_MS });
    const bound = within(once(ok, 'bound') as Promise<[{ socket: Socket; remoteHost: SocksRemoteHost }]>, 'bound');
    ok.connect();
    const [b] = await bound;
    ok.on('error', () => {}); // "Socket closed": the peer never comes, the test ends the wait
    b.socket.destroy();
  });

  it('BIND for any peer (0.0.0.0): a peer from a denied address is reset, an allowed one is served', async () => {
    const { rep, c } = await request(port, 0x02, ipv4('0.0.0.0', 0));
    assert.equal(rep, 0x00);
    const listenPort = proxy.connections().find((x) => x.command === 'bind')!.bound!.port;
    const bad = connect({ host: '127.0.0.1', port: listenPort, localAddress: DENIED_IP });
    bad.on('error', () => {});
    await within(new Promise((r) => bad.once('close', r)), 'the denied peer to be reset');
    await eventually(() => log.lines.some((l) => /BIND: refused peer 127\.0\.0\.2:\d+: denied by rule 1/.test(l)), WAIT_MS, 'the refusal log line');
    const good = connect({ host: '127.0.0.1', port: listenPort, localAddress: ALLOWED_IP });
    good.on('error', () => {});
    await within(once(good, 'connect'), 'the allowed peer to connect');
    assert.equal((await readReply(c)).rep, 0x00, 'the second reply names the allowed peer');
    good.destroy();
    c.destroy();
  });

  it('UDP: datagrams to a denied destination are dropped and counted, logged once; allowed ones flow', async () => {
    const echoAllowed = await udpEcho(ALLOWED_IP);
    const echoDenied = await udpEcho(DENIED_IP);
    const client = new SocksClient({ proxy: { host: '127.0.0.1', port, type: 5 }, command: 'associate', destination: { host: '0.0.0.0', port: 0 }, timeout: WAIT_MS });
    const established = within(once(client, 'established') as Promise<[{ socket: Socket; remoteHost: SocksRemoteHost }]>, 'established');
    client.connect();
    const [{ socket: ctl, remoteHost: relay }] = await established;
    const udp = createSocket('udp4');
    try {
      udp.bind(0, '127.0.0.1');
      await once(udp, 'listening');
      const got: string[] = [];
      udp.on('message', (m) => got.push(SocksClient.parseUDPFrame(m).data.toString()));
      const send = (host: string, p: number, text: string) =>
        udp.send(SocksClient.createUDPFrame({ remoteHost: { host, port: p }, data: Buffer.from(text) }), relay.port, relay.host);
      for (let i = 0; i < 3; i++) send(DENIED_IP, echoDenied.port, `denied ${i}`);
      send('rebind.test', echoDenied.port, 'denied by name');
      send(ALLOWED_IP, echoAllowed.port, 'allowed');
      await eventually(() => got.includes('allowed'), WAIT_MS, 'the allowed echo');
      await eventually(() => (proxy.connections().find((c) => c.command === 'udpAssociate')?.datagramsDropped ?? 0) >= 4, WAIT_MS, 'the drops to be counted');
      assert.equal(echoDenied.received, 0, 'nothing reached the denied destination');
      assert.deepEqual(got, ['allowed']);
      assert.equal(log.lines.filter((l) => l.includes('UDP: dropped') && l.includes('denied by rule 1')).length, 1, log.lines.join('\n'));
    } finally {
      udp.close();
      ctl.destroy();
      echoAllowed.socket.close();
      echoDenied.socket.close();
    }
  });
});

/** A UDP echo server on `host`, counting what it received. */
async function udpEcho(host: string): Promise<{ socket: UdpSocket; port: number; received: number }> {
  const socket = createSocket('udp4');
  const state = { socket, port: 0, received: 0 };
  socket.on('message', (m, r) => {
    state.received++;
    socket.send(m, r.port, r.address);
  });
  socket.bind(0, host);
  await once(socket, 'listening');
  state.port = socket.address().port;
  return state;
}

describe('client allow-list', () => {
  it('a client not on the list is closed right after accept, before any byte is read, and counted', async () => {
    const echo = await echoServer('127.0.0.1');
    const log = recorder();
    const { server: proxy, port } = await startProxy({ logger: log.logger, rules: { clients: ['127.0.0.3', '::1'] } });
    try {
      // Sends nothing: the close comes from the accept, not from a handshake (whose timeout is 10 s).
      const s = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.1' });
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => got.push(d));
      s.on('error', () => {});
      const t0 = Date.now();
      await within(new Promise((r) => s.once('close', r)), 'the proxy to close a client off the list', 3000);
      assert.ok(Date.now() - t0 < 2000);
      assert.equal(Buffer.concat(got).length, 0, 'not a byte sent back');
      // Many of them: one log line, all counted, none a session.
      for (let i = 0; i < 5; i++) {
        const r = await RawClient.open(port, '127.0.0.1');
        r.write([0x05, 0x01, 0x00]);
        await r.waitClosed();
        assert.equal((await r.readToEnd()).length, 0);
      }
      assert.equal(proxy.stats().clientsRefused, 6);
      assert.equal(proxy.stats().total, 0);
      assert.equal(log.lines.filter((l) => /refused client 127\.0\.0\.1:\d+: it is not on the client allow-list/.test(l)).length, 1, log.lines.join('\n'));

      // On the list (from 127.0.0.3, and over ::1): served.
      const ok = await RawClient.open(port, '127.0.0.1');
      ok.destroy();
      const from3 = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.3' });
      from3.on('error', () => {});
      await once(from3, 'connect');
      from3.write(Buffer.from([0x05, 0x01, 0x00, 0x05, 0x01, 0x00, ...ipv4('127.0.0.1', echo.port)]));
      const reply = await within(once(from3, 'data'), 'the reply to an allowed client');
      assert.equal((reply[0] as Buffer)[1], 0x00, 'method selected');
      from3.destroy();
      assert.equal(proxy.stats().total, 1);
    } finally {
      await proxy.stop();
      await close(echo.server);
    }
  });
});

describe('CLI flags (dist/cli.js)', () => {
  const CLI = join(__dirname, '..', '..', 'dist', 'cli.js');

  /** Starts the CLI with `args`; resolves with its port once it printed the listening line. */
  async function cli(args: string[]): Promise<{ port: number; child: ChildProcess; stderr: () => string }> {
    const child = spawn(process.execPath, [CLI, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const [line] = (await within(once(child.stdout, 'data'), 'the listening line')) as [Buffer];
    const m = /listening on .+:(\d+)/.exec(String(line));
    assert.ok(m, String(line));
    return { port: Number(m[1]), child, stderr: () => err };
  }

  it('--allow and --deny keep their order across both flags (first match wins); --allow-client closes others', async () => {
    const a = await httpServer('a\n');
    const b = await httpServer('b\n');
    const p = await cli(['--allow', `127.0.0.1:${a.port}`, '--deny', '127.0.0.0/8', '--allow', `127.0.0.1:${b.port}`]);
    try {
      assert.equal((await curl('--socks5', p.port, `http://127.0.0.1:${a.port}/`)).stdout, 'a\n');
      const denied = await curl('--socks5', p.port, `http://127.0.0.1:${b.port}/`);
      assert.notEqual(denied.code, 0, 'the later --allow never matches: --deny 127.0.0.0/8 came first');
      await eventually(() => p.stderr().includes('denied by rule 2: deny 127.0.0.0/8'), WAIT_MS, 'the CLI log line naming the rule');
    } finally {
      p.child.kill('SIGTERM');
      await within(once(p.child, 'exit'), 'the CLI to exit');
    }
    const q = await cli(['--allow-client', '127.0.0.3', '--block-private']);
    try {
      const r = await curl('--socks5', q.port, `http://127.0.0.1:${a.port}/`);
      assert.notEqual(r.code, 0);
      await eventually(() => q.stderr().includes('not on the client allow-list (127.0.0.3)'), WAIT_MS, 'the refusal line');
    } finally {
      q.child.kill('SIGTERM');
      await within(once(q.child, 'exit'), 'the CLI to exit');
      await Promise.all([close(a.server), close(b.server)]);
    }
  });

  it('an invalid rule: a one-line error naming it, exit 2', async () => {
    const r = await run(process.execPath, [CLI, '--port', '0', '--deny', '*.ok.example', '--allow', '10.0.0.0/33', '--allow-client', 'nope']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^[\w-]+: client 1: "nope" is not an IP address or CIDR range; rule 2: "10\.0\.0\.0\/33": the prefix length must be 0 to 32\n$/);
  });
});

describe('the HTTP front door', () => {
  it('forwarding and CONNECT to a denied destination get 403 naming the rule; allowed ones pass; rebinding is denied', async () => {
    const web = await httpServer('over http\n');
    const webDenied = await httpServer('denied\n', DENIED_IP);
    const { server: proxy, port } = await startProxy({ resolve, rules: { destinations: [`deny ${DENIED_IP}`] } });
    const http = (url: string, extra: string[] = []) =>
      run('curl', ['-sS', '--max-time', '10', '-o', '/dev/null', '-w', '%{http_code} %{http_connect}', '-x', `http://127.0.0.1:${port}`, ...extra, url]);
    try {
      assert.equal((await run('curl', ['-sS', '--max-time', '10', '-x', `http://127.0.0.1:${port}`, `http://allowed.test:${web.port}/`])).stdout, 'over http\n');
      assert.match((await http(`http://${DENIED_IP}:${webDenied.port}/`)).stdout, /^403 /);
      assert.match((await http(`http://rebind.test:${webDenied.port}/`)).stdout, /^403 /);
      const tunnel = await http(`http://rebind.test:${webDenied.port}/`, ['--proxytunnel']);
      assert.match(tunnel.stdout, / 403$/, tunnel.stdout + tunnel.stderr);
      const c = await lastClosed(proxy, (x) => x.destination?.host === 'rebind.test');
      assert.match(c.outcome.message, /denied by rule 1: deny 127\.0\.0\.2 \(rebind\.test resolved to 127\.0\.0\.2\)/);
    } finally {
      await proxy.stop();
      await Promise.all([close(web.server), close(webDenied.server)]);
    }
  });
});

describe('the SOCKS4/4a front door', () => {
  it('curl --socks4 / --socks4a to a denied destination get 0x5B naming the rule; allowed ones pass', async () => {
    const web = await httpServer('over socks4\n');
    const webDenied = await httpServer('denied\n', DENIED_IP);
    const { server: proxy, port } = await startProxy({ resolve, rules: { destinations: [`deny ${DENIED_IP}`] } });
    try {
      assert.equal((await curl('--socks4', port, `http://${ALLOWED_IP}:${web.port}/`)).stdout, 'over socks4\n');
      assert.equal((await curl('--socks4a', port, `http://allowed.test:${web.port}/`)).stdout, 'over socks4\n');
      const v4 = await curl('--socks4', port, `http://${DENIED_IP}:${webDenied.port}/`);
      assert.notEqual(v4.code, 0);
      const v4a = await curl('--socks4a', port, `http://rebind.test:${webDenied.port}/`);
      assert.notEqual(v4a.code, 0);
      const c = await lastClosed(proxy, (x) => x.destination?.host === 'rebind.test');
      assert.equal(c.protocol, 'socks4a');
      assert.equal(c.outcome.reply, 0x5b);
      assert.match(c.outcome.message, /denied by rule 1: deny 127\.0\.0\.2 \(rebind\.test resolved to 127\.0\.0\.2\)/);
    } finally {
      await proxy.stop();
      await Promise.all([close(web.server), close(webDenied.server)]);
    }
  });
});
