// Traffic figures from the headless CLI, as a user sees them: `--stats-interval S` summary lines
// and the per-destination table printed on SIGUSR1 (a real process, real curl downloads).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { close, closedPort, listen, run } from '../support/net';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const MiB = 1024 * 1024;

interface Running {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

function start(args: string[]): Running {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const r: Running = { child, stdout: '', stderr: '', exited: new Promise((res) => child.on('exit', (code) => res(code))) };
  child.stdout.on('data', (d) => (r.stdout += d));
  child.stderr.on('data', (d) => (r.stderr += d));
  return r;
}

async function until(what: string, cond: () => boolean, r: Running, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return;
    if (r.child.exitCode !== null) break;
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error(`${what}: not seen; stdout=${JSON.stringify(r.stdout)} stderr=${JSON.stringify(r.stderr.slice(-3000))}`);
}

async function listening(r: Running): Promise<number> {
  await until('listening line', () => /listening on .+:\d+\n/.test(r.stdout), r);
  return Number(/:(\d+)\n/.exec(r.stdout)![1]);
}

function stopped(r: Running, ms = 5000): Promise<number | null> {
  return Promise.race([r.exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('CLI did not exit')), ms))]);
}

/** An HTTP server on loopback that sends `size` bytes of zeros for any path. */
async function bulkServer(size: number): Promise<{ server: Server; port: number }> {
  const chunk = Buffer.alloc(64 * 1024);
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
    let left = size;
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  return { server, port: await listen(server) };
}

describe('CLI traffic figures (--stats-interval, SIGUSR1)', () => {
  const children: Running[] = [];
  let bulk: Awaited<ReturnType<typeof bulkServer>>;
  before(async () => {
    if (!existsSync(CLI)) await run(process.execPath, [join(ROOT, 'esbuild.mjs')], 60_000);
    assert.ok(existsSync(CLI), 'dist/cli.js is built (npm run build)');
    bulk = await bulkServer(5 * MiB);
  });
  after(async () => {
    for (const r of children) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await close(bulk.server);
  });

  it('prints a summary line every interval with the rates, the counts and the totals since start', async () => {
    const r = start(['--port', '0', '--stats-interval', '0.5', '--quiet']);
    children.push(r);
    const port = await listening(r);
    await until('an idle summary line', () => /stats traffic: ↑ 0 B\/s ↓ 0 B\/s · active 0 · since start 0 connections/.test(r.stderr), r);
    const c = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{size_download}', '--max-time', '20', '--socks5-hostname', `127.0.0.1:${port}`, `http://127.0.0.1:${bulk.port}/`]);
    assert.equal(c.stdout, String(5 * MiB), c.stderr);
    await until('the download in the totals', () => /since start 1 connections, ↑ \d+ B ↓ 5\.0 MiB/.test(r.stderr), r);
    const lines = r.stderr.split('\n').filter((l) => l.includes(' stats traffic: '));
    assert.ok(lines.length >= 2);
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT[\d:.]+Z stats traffic: ↑ \S+ \S+ ↓ \S+ \S+ · active \d+/);
    r.child.kill('SIGTERM');
    assert.equal(await stopped(r), 0);
  });

  it('prints the per-destination table on SIGUSR1, failures included, and keeps serving', async () => {
    const r = start(['--port', '0']);
    children.push(r);
    const port = await listening(r);
    r.child.kill('SIGUSR1');
    await until('an empty table', () => /traffic by destination since \S+: none yet/.test(r.stderr), r);
    for (let i = 0; i < 2; i++) {
      const c = await run('curl', ['-sS', '-o', '/dev/null', '--max-time', '20', '--socks5-hostname', `127.0.0.1:${port}`, `http://127.0.0.1:${bulk.port}/`]);
      assert.equal(c.code, 0, c.stderr);
    }
    const dead = await closedPort();
    const f = await run('curl', ['-sS', '--max-time', '10', '--socks5-hostname', `127.0.0.1:${port}`, `http://127.0.0.1:${dead}/`]);
    assert.notEqual(f.code, 0);
    const before = r.stderr.length;
    r.child.kill('SIGUSR1');
    // The table's last row (the failed destination, fewest bytes) is a stats line naming it.
    const lastRow = new RegExp(` stats +127\\.0\\.0\\.1:${dead} .*\n`);
    await until('the table', () => lastRow.test(r.stderr.slice(before)), r);
    // The table's lines (a close log line may land in between).
    const table = r.stderr
      .slice(before)
      .split('\n')
      .filter((l) => l.includes(' stats '))
      .join('\n');
    assert.match(table, /stats traffic by destination since \S+:\n/);
    assert.match(table, /stats +destination +down +up +connections +active +failed +refused\n/);
    const row = (dest: string): string[] => {
      const line = table.split('\n').find((l) => l.includes(' stats ') && l.includes(` ${dest} `));
      assert.ok(line, `a row for ${dest} in ${table}`);
      return line.trim().split(/\s+/).slice(3);
    };
    // name, down (2 × 5 MiB), up, connections, active, failed, refused
    const bulkRow = row(`127.0.0.1:${bulk.port}`);
    assert.deepEqual([bulkRow[0], bulkRow[1]], ['10.0', 'MiB']);
    // connections, (active: curl's close may still be on its way), failed, refused
    const [conns, , failed, refused] = bulkRow.slice(-4);
    assert.deepEqual([conns, failed, refused], ['2', '0', '0']);
    assert.deepEqual(row(`127.0.0.1:${dead}`).slice(-4), ['1', '0', '1', '0']);
    // The busiest destination comes first.
    assert.ok(table.indexOf(` 127.0.0.1:${bulk.port} `) < table.indexOf(` 127.0.0.1:${dead} `));
    // Still serving, and no debugger was started by the signal.
    assert.doesNotMatch(r.stderr, /Debugger listening/);
    const again = await run('curl', ['-sS', '-o', '/dev/null', '--max-time', '20', '--socks5-hostname', `127.0.0.1:${port}`, `http://127.0.0.1:${bulk.port}/`]);
    assert.equal(again.code, 0);
    r.child.kill('SIGTERM');
    assert.equal(await stopped(r), 0);
  });

  it('a table per user with authentication on', async () => {
    const r = start(['--port', '0', '--user', 'alice', '--password', 'pw-a']);
    children.push(r);
    const port = await listening(r);
    const c = await run('curl', ['-sS', '-o', '/dev/null', '--max-time', '20', '--socks5-hostname', `127.0.0.1:${port}`, '--proxy-user', 'alice:pw-a', `http://127.0.0.1:${bulk.port}/`]);
    assert.equal(c.code, 0, c.stderr);
    const before = r.stderr.length;
    r.child.kill('SIGUSR1');
    await until('the user table', () => /traffic by user since/.test(r.stderr.slice(before)) && /alice/.test(r.stderr.slice(before)), r);
    assert.match(r.stderr.slice(before), /stats +alice +5\.0 MiB +\d+ B +1 +[01] +0 +0\n/);
    r.child.kill('SIGTERM');
    await stopped(r);
  });

  it('rejects a bad --stats-interval', async () => {
    for (const v of ['0', '-1', 'soon']) {
      const r = start(['--port', '0', `--stats-interval=${v}`]);
      children.push(r);
      assert.equal(await stopped(r), 2, v);
      assert.match(r.stderr, /^socks5-proxy(-cli)?: --stats-interval must be a number of seconds > 0/);
    }
  });
});
