// The headless CLI as a user runs it: `node dist/cli.js …` (built by `npm run build`).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SocksClient } from 'socks';
import { close, httpServer, listen, run } from '../support/net';

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
  child.stdout!.on('data', (d) => (r.stdout += d));
  child.stderr!.on('data', (d) => (r.stderr += d));
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
      assert.match(r.stderr, new RegExp(`^socks5-proxy: Port ${held} is already in use on 127\\.0\\.0\\.1\\n$`));
    } finally {
      await close(holder);
    }
  });

  it('bad arguments: a clear error and exit 2', async () => {
    for (const args of [['--port', 'eighty'], ['--port', '70000'], ['--frobnicate'], ['--password', 'x']]) {
      const r = start(args);
      children.push(r);
      assert.equal(await stopped(r), 2, args.join(' '));
      assert.match(r.stderr, /^socks5-proxy: /);
      assert.equal(r.stdout, '');
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
    assert.match(h.stdout, /Usage: socks5-proxy/);
    const v = await run(process.execPath, [CLI, '--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});
