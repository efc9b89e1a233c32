// Safe defaults: what a user gets without configuring anything, and what they cannot get by
// accident. Loopback-only listening; the CLI refusing to expose an open proxy; no way around
// username/password once users exist; passwords nowhere in logs, events, snapshots or errors.
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { connect, createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Socks5Server, DEFAULT_OPTIONS, StartError, type Logger } from '../../src/engine';
import { close, listen, run } from '../support/net';
import { buildCli, closedWithin, echoThrough, ipv4Address, readBytes, readReply, socksCommand, socksConnect, tcpConnect, waitFor } from './support';

const MS = 10_000;

describe('safe defaults', () => {
  let target: Server;
  let targetPort: number;
  let reached = 0;

  before(async () => {
    target = createServer({ allowHalfOpen: true }, (c) => {
      reached++;
      c.on('error', () => {});
      c.pipe(c);
    });
    targetPort = await listen(target);
  });
  after(async () => {
    await close(target);
  });

  it('new Socks5Server() listens on 127.0.0.1 only: not reachable on the machine’s other addresses', async (t) => {
    assert.equal(new Socks5Server().options.host, '127.0.0.1');
    assert.equal(DEFAULT_OPTIONS.host, '127.0.0.1');
    assert.equal(new Socks5Server().options.users.size, 0);
    const server = new Socks5Server({ port: 0 }); // everything else default
    const addr = await server.start();
    try {
      assert.equal(addr.host, '127.0.0.1');
      await echoThrough(addr.port, targetPort);
      const others = Object.values(networkInterfaces())
        .flat()
        .filter((i) => i && !i.internal && i.family === 'IPv4')
        .map((i) => i!.address);
      if (others.length === 0) t.diagnostic('this machine has no non-loopback IPv4 address to try');
      for (const ip of others) {
        await assert.rejects(tcpConnect(addr.port, ip, 3000), (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED', `${ip}:${addr.port} refuses`);
      }
    } finally {
      await server.stop();
    }
  });

  describe('the CLI will not expose an open proxy', () => {
    let cli: string;
    before(async () => {
      cli = await buildCli();
    });
    const refuse = /refusing to listen on .* without authentication/;
    // A spelling that is no IP address and no name this machine resolves (127.1, example.com offline) is rejected before that.
    const refuseOrInvalid = /refusing to listen on .* without authentication|invalid host/;

    it('refuses every non-loopback spelling without users (exit 2, nothing bound)', async () => {
      for (const host of ['0.0.0.0', '::', '[::]', '::ffff:0.0.0.0', '0:0:0:0:0:0:0:0', '192.0.2.2', 'fd00::2', 'example.com', '127.1', '0177.0.0.1', ' 0.0.0.0 ']) {
        const r = await run(process.execPath, [cli, '--host', host, '--port', '0'], 15_000);
        assert.equal(r.code, 2, `--host ${JSON.stringify(host)}: exit ${r.code}, stderr ${r.stderr}`);
        assert.match(r.stderr, refuseOrInvalid, host);
        assert.equal(r.stdout, '', `--host ${JSON.stringify(host)} printed nothing on stdout (never listened)`);
      }
    });

    it('loopback spellings need no flag', async () => {
      for (const host of ['127.0.0.1', '127.0.0.2', '::1', '[::1]', 'localhost']) {
        const r = await startAndStop(cli, ['--host', host]);
        assert.match(r.stdout, /^SOCKS5 proxy listening on /, `${host}: ${r.stderr}`);
      }
    });

    it('with a user, or with --allow-unauthenticated-remote, the refusal is lifted (the bind itself then decides)', async () => {
      // 192.0.2.1 is not this machine's: getting past the policy shows as EADDRNOTAVAIL (exit 1), never as a listening proxy.
      const cases: Array<[string[], NodeJS.ProcessEnv | undefined]> = [
        [['--user', 'alice', '--password', 'pw'], undefined],
        [['--user', 'alice'], { ...process.env, SOCKS5_PASSWORD: 'pw' }],
        [['--allow-unauthenticated-remote'], undefined],
      ];
      for (const [extra, env] of cases) {
        const r = await run(process.execPath, [cli, '--host', '192.0.2.1', '--port', '0', ...extra], 15_000, env);
        assert.doesNotMatch(r.stderr, refuse, extra.join(' '));
        assert.equal(r.code, 1, `${extra.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /not available/);
      }
    });
  });

  describe('no way around username/password once users exist', () => {
    const PW = 'n0-bypass-Secret!';
    let server: Socks5Server;
    let port: number;
    before(async () => {
      server = new Socks5Server({ port: 0, users: new Map([['alice', PW]]) });
      port = (await server.start()).port;
    });
    after(async () => {
      await server.stop();
    });

    it('offering only "no authentication" (0x00), or nothing acceptable, gets 0xFF and a close', async () => {
      for (const methods of [[0x00], [0x00, 0x01], [0x01], [0x03, 0x80, 0xfe]]) {
        const s = await tcpConnect(port);
        s.write(Buffer.from([5, methods.length, ...methods]));
        assert.deepEqual([...(await readBytes(s, 2, MS))], [5, 0xff], `methods ${methods.join(',')}`);
        await closedWithin(s, MS);
      }
    });

    it('skipping the auth step (a request straight after the greeting) is an auth failure, and nothing is connected', async () => {
      const before = reached;
      const s = await tcpConnect(port);
      s.write(Buffer.from([5, 2, 0, 2, 5, 1, 0, 1, 127, 0, 0, 1, targetPort >> 8, targetPort & 0xff]));
      assert.deepEqual([...(await readBytes(s, 4, MS))], [5, 2, 1, 1], 'method 0x02 chosen, then status failure');
      await closedWithin(s, MS);
      assert.equal(reached, before, 'the target was never reached');
    });

    it('wrong password, unknown user, right password for another user: failure, nothing connected; then the right one works', async () => {
      const before = reached;
      for (const [user, pass] of [['alice', 'wrong'], ['bob', PW], ['alice', PW + 'x'], ['alice', PW.slice(0, -1)], ['ALICE', PW]]) {
        const { socket, rep } = await socksConnect(port, targetPort, { user: user, pass: pass });
        assert.equal(rep, -1, `${user}/${pass} refused`);
        await closedWithin(socket, MS);
      }
      assert.equal(reached, before, 'the target was never reached');
      await echoThrough(port, targetPort, { user: 'alice', pass: PW });
    });

    it('users added to a running server apply to the next client', async () => {
      const open = new Socks5Server({ port: 0 });
      const p = (await open.start()).port;
      try {
        await echoThrough(p, targetPort);
        open.setOptions({ users: new Map([['carol', 'pw-carol']]) });
        const s = await tcpConnect(p);
        s.write(Buffer.from([5, 1, 0]));
        assert.deepEqual([...(await readBytes(s, 2, MS))], [5, 0xff]);
        await closedWithin(s, MS);
        await echoThrough(p, targetPort, { user: 'carol', pass: 'pw-carol' });
      } finally {
        await open.stop();
      }
    });
  });

  it('BIND accepts only the peer the client named: a storm of other peers is reset, then the right one is relayed', async () => {
    const server = new Socks5Server({ port: 0 });
    const { port } = await server.start();
    const strangers: Array<Promise<string>> = [];
    try {
      // The client expects its peer from 127.0.0.3; strangers come from 127.0.0.1 and 127.0.0.2.
      const b = await socksCommand(port, 2, ipv4Address('127.0.0.3', 0));
      assert.equal(b.rep, 0);
      for (let i = 0; i < 100; i++) {
        strangers.push(
          new Promise<string>((resolve) => {
            const s = connect({ host: '127.0.0.1', port: b.port, localAddress: i % 2 ? '127.0.0.1' : '127.0.0.2' });
            s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
            s.on('data', () => resolve('DATA'));
            s.on('connect', () => s.write(`stranger ${i}`));
            s.on('close', () => resolve('closed'));
          }),
        );
      }
      const outcomes = await Promise.all(strangers);
      assert.ok(outcomes.every((o) => o !== 'DATA'), 'no stranger got a byte');
      assert.equal(server.connections()[0]?.state, 'bind-waiting', 'still waiting for the right peer');
      const peer = connect({ host: '127.0.0.1', port: b.port, localAddress: '127.0.0.3' });
      peer.on('error', () => {});
      const second = await readReply(b.socket);
      assert.equal(second.rep, 0);
      assert.equal(second.host, '127.0.0.3');
      peer.write('the right one');
      const got = (await readBytes(b.socket, 'the right one'.length)).toString();
      assert.equal(got, 'the right one', 'only the expected peer’s bytes reach the client');
      peer.destroy();
      b.socket.destroy();
    } finally {
      await server.stop();
    }
  });

  it('passwords appear in no log line (debug included), event, snapshot, stats or error', async () => {
    const PW = 'pw-ZETA-9f8e7d';
    const PW2 = 'pw-OMEGA-1a2b3c';
    const WRONG = 'pw-WRONG-4d5e6f';
    const lines: string[] = [];
    const logger: Logger = {
      debug: (m) => lines.push(m),
      info: (m) => lines.push(m),
      warn: (m) => lines.push(m),
      error: (m) => lines.push(m),
    };
    const server = new Socks5Server({ port: 0, logger, users: new Map([['alice', PW], ['bob', PW2]]) });
    const seen: string[] = [];
    for (const ev of ['open', 'update', 'close', 'listening', 'stopped'] as const) server.on(ev, (...a: unknown[]) => seen.push(JSON.stringify(a)));
    const { port } = await server.start();
    try {
      await echoThrough(port, targetPort, { user: 'alice', pass: PW }); // success
      for (const [user, pass] of [['alice', WRONG], ['bob', PW], ['carol', PW2], ['alice', PW2]]) {
        const { socket } = await socksConnect(port, targetPort, { user: user, pass: pass });
        await closedWithin(socket, MS);
      }
      // One session held open, to be seen in a live snapshot.
      const held = await socksConnect(port, targetPort, { user: 'bob', pass: PW2 });
      assert.equal(held.rep, 0);
      await waitFor(() => server.connections().some((c) => c.user === 'bob' && c.state === 'established'), MS, 'the held session');
      seen.push(JSON.stringify(server.connections()), JSON.stringify(server.stats()), JSON.stringify(server.options));
      held.socket.destroy();
      await waitFor(() => server.stats().active === 0, MS, 'sessions to end');
      seen.push(JSON.stringify(server.recentlyClosed()));
      // A start error on the same port.
      const clash = new Socks5Server({ port, users: new Map([['alice', PW]]), logger });
      await assert.rejects(clash.start(), (e: unknown) => {
        seen.push(String(e), JSON.stringify(e), (e as StartError).message);
        return e instanceof StartError;
      });
    } finally {
      await server.stop();
    }
    assert.ok(lines.some((l) => /authentication failed for user "bob"/.test(l)), 'the failures were logged (by user name)');
    assert.ok(lines.length > 10, `debug logging was on (${lines.length} lines)`);
    const all = [...lines, ...seen].join('\n');
    for (const secret of [PW, PW2, WRONG]) {
      for (const form of [secret, Buffer.from(secret).toString('hex'), Buffer.from(secret).toString('base64')]) {
        assert.ok(!all.includes(form), `${secret} (as ${form}) appears in: ${all.split('\n').find((l) => l.includes(form))}`);
      }
    }
  });

  it('the CLI logs no password at debug level (-v), successful or failed', async () => {
    const cli = await buildCli();
    const PW = 'cli-PW-7c6b5a';
    const r = await startAndStop(cli, ['-v', '--user', 'alice', '--password', PW, '--user', 'bob'], { SOCKS5_PASSWORD: 'env-PW-0e9d8c' }, async (p) => {
      await echoThrough(p, targetPort, { user: 'alice', pass: PW });
      await echoThrough(p, targetPort, { user: 'bob', pass: 'env-PW-0e9d8c' });
      const bad = await socksConnect(p, targetPort, { user: 'bob', pass: PW });
      assert.equal(bad.rep, -1);
      await closedWithin(bad.socket, MS);
    });
    assert.match(r.stderr, /debug/);
    assert.match(r.stderr, /authentication failed for user "bob"/);
    assert.ok(!r.stderr.includes(PW) && !r.stdout.includes(PW), 'the --password value is not printed');
    assert.ok(!r.stderr.includes('env-PW-0e9d8c'), 'the SOCKS5_PASSWORD value is not printed');
  });
});

/** Runs the CLI on a free port, lets `use(port)` talk to it, stops it with SIGTERM, returns its output. */
async function startAndStop(
  cli: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  use?: (port: number) => Promise<void>,
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [cli, '--port', '0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  try {
    await waitFor(() => /listening on .*:(\d+)\n/.test(stdout) || child.exitCode !== null, MS, () => `the CLI to listen (${stderr})`);
    const m = /listening on .*:(\d+)\n/.exec(stdout);
    if (m && use) await use(Number(m[1]));
  } finally {
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  }
  const code = await exited;
  return { stdout, stderr, code };
}
