// `npm run pack:cli`: the headless proxy as its own npm package, <bin name>-<version>.tgz.
//   node scripts/pack-cli.mjs [--out DIR]     (default DIR: dist/)
//
// Why a generated manifest: the root package.json is the VS Code extension's manifest, and its
// `name` (with `publisher`) is the extension's id, which users' settings, keybindings and the e2e
// suite know it by; the npm name `socks5-proxy` also belongs to an unrelated package. So the CLI
// package is its own manifest, made here from the root one at pack time: its name is the root's
// `bin` name (written once, there), its version, license and Node engine are the root's, and it
// holds only the self-contained bundle dist/cli.js (no runtime dependencies), this README and
// the license.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const outArg = process.argv.indexOf('--out');
const out = resolve(outArg > 0 ? process.argv[outArg + 1] : join(root, 'dist'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const [name] = Object.keys(pkg.bin);

execFileSync(process.execPath, [join(root, 'esbuild.mjs'), '--production'], { stdio: 'inherit', cwd: root });

const stage = mkdtempSync(join(tmpdir(), 'socks5-pack-cli-'));
try {
  const manifest = {
    name,
    version: pkg.version,
    description:
      'A SOCKS5 proxy server from the command line: RFC 1928 CONNECT, BIND, UDP ASSOCIATE, RFC 1929 username/password. ' +
      'The engine of the SOCKS5 Proxy VS Code extension; no dependencies.',
    license: pkg.license,
    keywords: pkg.keywords,
    bin: { [name]: 'cli.js' },
    files: ['cli.js'],
    engines: { node: pkg.engines.node },
  };
  writeFileSync(join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  copyFileSync(join(root, 'dist', 'cli.js'), join(stage, 'cli.js'));
  chmodSync(join(stage, 'cli.js'), 0o755);
  copyFileSync(join(root, 'docs', 'cli-package.md'), join(stage, 'README.md'));
  copyFileSync(join(root, 'LICENSE'), join(stage, 'LICENSE'));
  mkdirSync(out, { recursive: true });
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: stage, encoding: 'utf8' }));
  process.stdout.write(`${join(out, packed.filename)}\n`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
