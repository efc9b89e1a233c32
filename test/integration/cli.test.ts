// The headless CLI as a user runs it: `node dist/cli.js …` (built by `npm run build`).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SocksClient } from 'socks';
import { close, closedPort, connectErrorCode, eventually, httpServer, listen, run, WAIT_MS } from '../support/net';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');

interface Running {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const r: Running = { child, stdout: '', stderr: '', exited: new Promise((res) => child.on('exit', (code) => res(code))) };
  child.stdout.on('data', (d) => (r.stdout += d));
  child.stderr.on('data', (d) => (r.stderr += d));
  return r;
}

async function listening(r: Running, ms = 5000): Promise<number> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const m = /^SOCKS5 proxy listening on (.+):(\d+)\n$/.exec(r.stdout);
    if (m) return Number(m[2]);
    if (r.child.exitCode !== null) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`CLI did not report listening; stdout=${JSON.stringify(r.stdout)} stderr=${JSON.stringify(r.stderr)}`);
}

function stopped(r: Running, ms = 5000): Promise<number | null> {
  return Promise.race([
    r.exited,
    new Promise<never>((_, rej) => setTimeout(() => rej(new Error('CLI did not exit')), ms)),
  ]);
}

describe('CLI (dist/cli.js)', () => {
  const children: Running[] = [];
  let http: Awaited<ReturnType<typeof httpServer>>;
  before(async () => {
    if (!existsSync(CLI)) await run(process.execPath, [join(ROOT, 'esbuild.mjs')], 60_000);
    assert.ok(existsSync(CLI), 'dist/cli.js is built (npm run build)');
    http = await httpServer('via cli\n');
  });
  after(async () => {
    for (const r of children) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await close(http.server);
  });

  it('prints exactly one stdout line with the real port for --port 0, serves, exits 0 on SIGTERM', async () => {
    const r = start(['--port', '0']);
    children.push(r);
    const port = await listening(r);
    assert.ok(port > 0);
    const c = await run('curl', ['-sS', '--max-time', '10', '--socks5-hostname', `127.0.0.1:${port}`, `http://127.0.0.1:${http.port}/`]);
    assert.equal(c.stdout, 'via cli\n');
    r.child.kill('SIGTERM');
    assert.equal(await stopped(r), 0);
    assert.equal(r.stdout.split('\n').length, 2, 'one line on stdout');
  });

  it('exits 0 on SIGINT and brackets IPv6 hosts', async () => {
    const r = start(['--host', '::1', '--port', '0']);
    children.push(r);
    await listening(r);
    assert.match(r.stdout, /^SOCKS5 proxy listening on \[::1\]:\d+\n$/);
    r.child.kill('SIGINT');
    assert.equal(await stopped(r), 0);
  });

  it('authenticates users given with --user/--password and SOCKS5_PASSWORD', async () => {
    const r = start(['--port', '0', '--user', 'alice', '--password', 'pw-a', '--user', 'bob'], { SOCKS5_PASSWORD: 'pw-b' });
    children.push(r);
    const port = await listening(r);
    for (const [user, pw] of [['alice', 'pw-a'], ['bob', 'pw-b']]) {
      const { socket } = await SocksClient.createConnection({
        proxy: { host: '127.0.0.1', port, type: 5, userId: user, password: pw },
        command: 'connect',
        destination: { host: '127.0.0.1', port: http.port },
        timeout: 5000,
      });
      socket.destroy();
    }
    const bad = await run('curl', ['-sS', '--max-time', '10', '--socks5', `127.0.0.1:${port}`, '--proxy-user', 'bob:pw-a', `http://127.0.0.1:${http.port}/`]);
    assert.notEqual(bad.code, 0);
    r.child.kill('SIGTERM');
    await stopped(r);
    assert.match(r.stderr, /authentication failed for user "bob"/);
    assert.doesNotMatch(r.stderr + r.stdout, /pw-a|pw-b/);
  });

  it('port in use: one-line error on stderr, non-zero exit', async () => {
    const holder = createServer();
    const held = await listen(holder);
    try {
      const r = start(['--port', String(held)]);
      children.push(r);
      const code = await stopped(r);
      assert.notEqual(code, 0);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`^socks5-proxy-cli: Port ${held} is already in use on 127\\.0\\.0\\.1\\n$`));
    } finally {
      await close(holder);
    }
  });

  it('bad arguments: a clear error and exit 2', async () => {
    for (const args of [['--port', 'eighty'], ['--port', '70000'], ['--frobnicate'], ['--password', 'x']]) {
      const r = start(args);
      children.push(r);
      assert.equal(await stopped(r), 2, args.join(' '));
      assert.match(r.stderr, /^socks5-proxy-cli: /);
      assert.equal(r.stdout, '');
    }
  });

  it("a newcomer's mistakes: each gets its own one-line message, exit 2, nothing listens", async () => {
    const cases: Array<[string[], RegExp]> = [
      // Checked before the no-auth refusal: the host is the mistake, not the missing --user.
      [['--host', 'not-an-ip'], /^socks5-proxy-cli: invalid host "not-an-ip"/],
      [['--host', 'not-an-ip', '--allow-unauthenticated-remote'], /^socks5-proxy-cli: invalid host "not-an-ip"/],
      [['--host', '999.1.1.1'], /^socks5-proxy-cli: invalid host "999\.1\.1\.1"/],
      [['--user', 'alice', '--password', 'a', '--user', 'alice', '--password', 'b'], /^socks5-proxy-cli: user "alice" is given twice/],
      [['-v', '-q'], /^socks5-proxy-cli: --verbose and --quiet cannot be used together/],
      [['--quiet', '--verbose'], /^socks5-proxy-cli: --verbose and --quiet cannot be used together/],
      [['--port', '-1'], /^socks5-proxy-cli: --port must be 0\.\.65535, got "-1"/],
      [['--port=-1'], /^socks5-proxy-cli: --port must be 0\.\.65535, got "-1"/],
      [['--port', '65536'], /^socks5-proxy-cli: --port must be 0\.\.65535, got "65536"/],
      [['--idle-timeout', '-5'], /^socks5-proxy-cli: --idle-timeout must be a number of seconds ≥ 0 \(0 = no limit\), got "-5"/],
      [['--max-connections', '-2'], /^socks5-proxy-cli: --max-connections must be a whole number ≥ 1, got "-2"/],
    ];
    for (const [args, message] of cases) {
      const r = start(args);
      children.push(r);
      assert.equal(await stopped(r), 2, args.join(' '));
      assert.match(r.stderr, message, args.join(' '));
      assert.doesNotMatch(r.stderr, /ambiguous|refusing/, args.join(' '));
      assert.equal(r.stderr.split('\n').length, 2, `one line: ${JSON.stringify(r.stderr)}`);
      assert.equal(r.stdout, '');
    }
  });

  it('--host accepts IP literals, [::1] and a name this machine resolves (localhost)', async () => {
    for (const host of ['127.0.0.1', '[::1]', 'localhost']) {
      const r = start(['--host', host, '--port', '0']);
      children.push(r);
      await listening(r);
      r.child.kill('SIGTERM');
      assert.equal(await stopped(r), 0, host);
    }
  });

  it('help says what 0 means for every timeout', async () => {
    const h = await run(process.execPath, [CLI, '--help']);
    const timeouts = h.stdout.split('\n').filter((l) => /^\s+--[a-z-]+-timeout /.test(l));
    assert.equal(timeouts.length, 4, h.stdout);
    for (const line of timeouts) assert.match(line, /0 = (no limit|never)/, line);
  });

  it('logs one line per closed connection (client, destination, bytes, outcome); -q silences them', async () => {
    for (const quiet of [false, true]) {
      const r = start(['--port', '0', ...(quiet ? ['-q'] : [])]);
      children.push(r);
      const port = await listening(r);
      const c = await run('curl', ['-sS', '--max-time', '10', '--socks5-hostname', `127.0.0.1:${port}`, `http://localhost:${http.port}/`]);
      assert.equal(c.stdout, 'via cli\n');
      const refused = await run('curl', ['-sS', '--max-time', '10', '--socks5-hostname', `127.0.0.1:${port}`, `http://127.0.0.1:${await closedPort()}/`]);
      assert.notEqual(refused.code, 0);
      const closes = (): string[] => r.stderr.split('\n').filter((l) => / closed: /.test(l));
      if (!quiet) await eventually(() => closes().length >= 2, WAIT_MS, `two close lines in ${JSON.stringify(r.stderr)}`);
      else await new Promise((res) => setTimeout(res, 300));
      r.child.kill('SIGTERM');
      assert.equal(await stopped(r), 0);
      if (quiet) {
        assert.deepEqual(closes(), [], 'no close lines with -q');
        assert.equal(r.stderr, '', '-q: nothing on stderr for a clean run');
        continue;
      }
      const lines = closes();
      assert.equal(lines.length, 2, r.stderr);
      assert.match(lines[0], new RegExp(`info  #1 127\\.0\\.0\\.1:\\d+ SOCKS5 CONNECT localhost:${http.port} closed: closed by (client|target) \\(↑\\d+ B ↓(\\d+) B, \\d+\\.\\d s\\)$`));
      assert.ok(Number(/↓(\d+) B/.exec(lines[0])![1]) > 'via cli\n'.length, 'the download counted');
      assert.match(lines[1], /info  #2 127\.0\.0\.1:\d+ SOCKS5 CONNECT 127\.0\.0\.1:1 closed: refused \(0x05\)/);
    }
  });

  it('on a terminal, the listening line is printed once (stdout), not again as a log line', async () => {
    // util-linux script(1) runs the CLI on a real pseudo-terminal (stdout and stderr both on it).
    const r: Running = (() => {
      const child = spawn('script', ['-qfec', `${process.execPath} ${CLI} --port 0`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
      const x: Running = { child, stdout: '', stderr: '', exited: new Promise((res) => child.on('exit', (code) => res(code))) };
      child.stdout.on('data', (d) => (x.stdout += d));
      child.stderr.on('data', (d) => (x.stderr += d));
      return x;
    })();
    children.push(r);
    await eventually(() => /listening on/.test(r.stdout), 10_000, `the listening line in ${JSON.stringify(r.stdout)}`);
    await new Promise((res) => setTimeout(res, 300)); // a second line, if any, would be out by now
    r.child.stdin!.write('\x03'); // Ctrl-C on the terminal: SIGINT to the CLI
    await stopped(r);
    assert.equal(r.stdout.match(/listening on/g)?.length, 1, JSON.stringify(r.stdout));
    assert.match(r.stdout, /SIGINT: stopping/, 'the log still reaches the terminal');
  });

  it('npm start -- --port 0: a SIGTERM to npm alone stops the proxy and frees its port', async () => {
    // Its own process group, so that cleanup after a failure can reach a proxy left behind.
    const child = spawn('npm', ['start', '--silent', '--', '--port', '0'], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const r: Running = { child, stdout: '', stderr: '', exited: new Promise((res) => child.on('exit', (code) => res(code))) };
    child.stdout.on('data', (d) => (r.stdout += d));
    child.stderr.on('data', (d) => (r.stderr += d));
    try {
      const port = await listening(r, 60_000);
      // As a script or a service manager would: the signal to npm's own PID, not to the group.
      child.kill('SIGTERM');
      await stopped(r, 10_000);
      await eventually(() => /stopped/.test(r.stderr), WAIT_MS, `the CLI to log that it stopped: ${JSON.stringify(r.stderr)}`);
      assert.equal(await connectErrorCode({ host: '127.0.0.1', port }), 'ECONNREFUSED', 'nothing listens any more');
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* the group is gone */
      }
    }
  });

  it('refuses a non-loopback host without users unless allowed', async () => {
    const r = start(['--host', '0.0.0.0', '--port', '0']);
    children.push(r);
    assert.equal(await stopped(r), 2);
    assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0 without authentication/);
  });

  it('--help and --version', async () => {
    const h = await run(process.execPath, [CLI, '--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /Usage: socks5-proxy-cli \[options\]/);
    const v = await run(process.execPath, [CLI, '--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});
