// The headless proxy as a user installs it without cloning: `npm run pack:cli` makes the npm
// package, `npm install -g` puts its command on PATH (here into a temp prefix, offline: it has no
// dependencies), and the installed command serves. Also the service recipes in docs/: the systemd
// unit (systemd-analyze verify, and its ExecStart run) and the container recipe's CMD run directly.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SocksClient } from 'socks';
import { close, eventually, httpServer, run, within } from '../support/net';

const ROOT = join(__dirname, '..', '..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; publisher: string; bin: Record<string, string> };
const [BIN] = Object.keys(PKG.bin) as [string];

/** Runs `cmd args` until it prints its listening line; returns the port and a stop() (SIGTERM → exit code). */
async function serve(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ port: number; stop: () => Promise<number | null>; stderr: () => string }> {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await eventually(() => stdout.includes('\n') || child.exitCode !== null, 10_000, `${cmd} to listen`);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  const m = /^SOCKS5 proxy listening on 127\.0\.0\.1:(\d+)\n$/.exec(stdout);
  if (!m) {
    child.kill('SIGKILL');
    throw new Error(`${cmd} did not listen: stdout=${JSON.stringify(stdout)} stderr=${JSON.stringify(stderr)}`);
  }
  return {
    port: Number(m[1]),
    stop: async () => {
      child.kill('SIGTERM');
      return within(exited, `${cmd} to exit`);
    },
    stderr: () => stderr,
  };
}

describe(`the npm package (${BIN}), installed from its tarball, and the service recipes in docs/`, { timeout: 180_000 }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'socks5-package-test-'));
  const prefix = join(tmp, 'prefix');
  const installed = join(prefix, 'bin', BIN);
  let tarball: string;
  let web: Awaited<ReturnType<typeof httpServer>>;
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    ...process.env,
    PATH: `${join(prefix, 'bin')}:${process.env.PATH}`,
    npm_config_cache: join(tmp, 'npm-cache'),
    SOCKS5_PASSWORD: '',
    ...extra,
  });

  before(async () => {
    const packed = await run(process.execPath, [join(ROOT, 'scripts', 'pack-cli.mjs'), '--out', join(tmp, 'out')], 120_000);
    assert.equal(packed.code, 0, packed.stderr);
    tarball = packed.stdout.trim().split('\n').pop()!;
    web = await httpServer('through the installed proxy\n');
  });
  after(async () => {
    await close(web?.server);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('a free npm name (not the extension id), and a small package: the bundle, README, LICENSE, manifest', async () => {
    // The extension's id stays publisher.name from the root manifest; the package is named after the command.
    assert.equal(PKG.name, 'socks5-proxy');
    assert.notEqual(BIN, 'socks5-proxy', 'npm\'s "socks5-proxy" is an unrelated package');
    assert.ok(tarball.endsWith(`${BIN}-${PKG.version}.tgz`), tarball);
    const list = await run('tar', ['tzf', tarball]);
    assert.deepEqual(list.stdout.trim().split('\n').sort(), ['package/LICENSE', 'package/README.md', 'package/cli.js', 'package/package.json']);
    assert.ok(statSync(tarball).size < 100_000, `${statSync(tarball).size} bytes`);
    const manifest = JSON.parse((await run('tar', ['xzOf', tarball, 'package/package.json'])).stdout) as Record<string, unknown>;
    assert.equal(manifest.name, BIN);
    assert.equal(manifest.version, PKG.version);
    assert.deepEqual(manifest.bin, { [BIN]: 'cli.js' });
    assert.equal(manifest.dependencies, undefined, 'no runtime dependencies');
  });

  it(`npm install -g (offline) puts ${BIN} on PATH, and it serves a CONNECT with auth; SIGTERM exits 0`, async () => {
    const inst = await run('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tarball], 120_000, env());
    assert.equal(inst.code, 0, inst.stderr);
    const v = await run(installed, ['--version'], 15_000, env());
    assert.equal(v.stdout, `${PKG.version}\n`);
    const proxy = await serve(BIN, ['--port', '0', '--user', 'alice'], env({ SOCKS5_PASSWORD: 'pw-alice' }));
    try {
      const c = await run('curl', ['-sS', '--max-time', '10', '--proxy', `socks5h://alice:pw-alice@127.0.0.1:${proxy.port}`, `http://localhost:${web.port}/`]);
      assert.equal(c.stdout, 'through the installed proxy\n', c.stderr);
    } finally {
      assert.equal(await proxy.stop(), 0);
    }
    assert.match(proxy.stderr(), new RegExp(`user "alice" SOCKS5 CONNECT localhost:${web.port} closed: `));
  });

  it(`npx: npm exec runs the package's command by its package name (${BIN})`, async () => {
    const r = await run('npm', ['exec', '--yes', '--offline', `--package=${tarball}`, '--', BIN, '--version'], 120_000, env());
    assert.equal(r.stdout, `${PKG.version}\n`, r.stderr);
  });

  it('docs/socks5-proxy-cli.service: systemd-analyze verify is clean, and its ExecStart serves', async () => {
    const unit = readFileSync(join(ROOT, 'docs', `${BIN}.service`), 'utf8');
    const exec = /^ExecStart=(\S+) (.*)$/m.exec(unit);
    assert.ok(exec, 'an ExecStart line');
    assert.equal(exec[1], `/usr/local/bin/${BIN}`, "npm install -g's default place on Debian");
    // The same unit, pointing at the command installed into the temp prefix.
    const here = join(tmp, `${BIN}.service`);
    writeFileSync(here, unit.replace(exec[1], installed));
    const verify = await run('systemd-analyze', ['verify', here], 60_000);
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(verify.stderr, '', 'no warnings (an unknown key is only a warning)');
    // Its command line, with --port 0 after it (1080 may be taken on this machine).
    const args = exec[2].split(' ');
    assert.deepEqual(args.slice(0, 2), ['--host', '127.0.0.1'], 'this machine only, as written');
    const proxy = await serve(installed, [...args, '--port', '0'], env());
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: proxy.port, type: 5 },
      command: 'connect',
      destination: { host: '127.0.0.1', port: web.port },
      timeout: 5000,
    });
    socket.destroy();
    assert.equal(await proxy.stop(), 0, 'KillSignal=SIGTERM stops it cleanly');
  });

  it('docs/Containerfile: its CMD requires SOCKS5_PASSWORD, and with one serves the user "proxy"', async () => {
    const recipe = readFileSync(join(ROOT, 'docs', 'Containerfile'), 'utf8');
    assert.match(recipe, /^FROM node:20-bookworm-slim/m, 'a Debian base with Node 20');
    assert.match(recipe, /node scripts\/pack-cli\.mjs --out \/pkg/, 'built with the same pack script as tested above');
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(recipe)![1]) as string[];
    assert.equal(cmd[0], BIN);
    // As it is, with no password: a one-line refusal before anything listens.
    const refused = await run(cmd[0], cmd.slice(1), 15_000, env());
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^socks5-proxy-cli: no password for user "proxy"/);
    // With a password, on loopback (the tests listen on nothing else) and any free port.
    const args = cmd.slice(1).map((a) => (a === '0.0.0.0' ? '127.0.0.1' : a === '1080' ? '0' : a));
    const proxy = await serve(cmd[0], args, env({ SOCKS5_PASSWORD: 'container secret' }));
    try {
      const { socket } = await SocksClient.createConnection({
        proxy: { host: '127.0.0.1', port: proxy.port, type: 5, userId: 'proxy', password: 'container secret' },
        command: 'connect',
        destination: { host: '127.0.0.1', port: web.port },
        timeout: 5000,
      });
      socket.destroy();
    } finally {
      assert.equal(await proxy.stop(), 0);
    }
  });
});
