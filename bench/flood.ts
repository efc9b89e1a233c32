// `node --import tsx bench/flood.ts [--rounds N] [--no-write]`: a normal client's CONNECT time
// through a pre-handshake flood (issue 16's target: within 1 s, 100 times in a row).
//
// This project's CLI in its own process, the flood in another (test/hardening/flooder.cjs:
// FLOOD connections that connect and send nothing, each reconnecting as the proxy cuts it), an
// echo target in a third. For each configuration: the flood ramps up, then ROUNDS clients in a row
// do greeting + CONNECT + one round trip; the figures are their times (median, p95, max) and how
// many took 1 s or more, with the proxy's fds and RSS at the peak. The flood size comes from the
// open-file limit (the flooder holds one fd per connection). Writes its section of
// docs/benchmarks.md (between the flood markers; bench/run.ts keeps it when it rewrites the file).

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spliceSection, stat } from './report';
import { build } from './run';
import { NOFILE, withNofile } from './servers';

const ROOT = resolve(__dirname, '..');
export const FLOOD_BEGIN = '<!-- bench:flood -->';
export const FLOOD_END = '<!-- /bench:flood -->';
const FLOOD = Math.min(10_000, NOFILE - 1000);
const ROUNDS = 100;

const log = (msg: string): void => void process.stderr.write(`[bench flood] ${msg}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function once(port: number, what: (s: Socket, resolve: (ok: boolean) => void) => void, ms: number): Promise<boolean> {
  return new Promise((resolveP) => {
    const s = connect({ port, host: '127.0.0.1' });
    const t = setTimeout(() => finish(false), ms);
    const finish = (ok: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolveP(ok);
    };
    s.on('error', () => finish(false));
    s.on('close', () => finish(false));
    what(s, finish);
  });
}

/** Greeting + CONNECT to 127.0.0.1:echo + a 4-byte round trip; ms, or Infinity when it failed within 5 s. */
async function normalClient(proxyPort: number, echoPort: number): Promise<number> {
  const t0 = performance.now();
  const ok = await once(
    proxyPort,
    (s, done) => {
      let buf = Buffer.alloc(0);
      let stage = 0;
      s.on('connect', () => s.write(Buffer.from([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, echoPort >> 8, echoPort & 0xff])));
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (stage === 0 && buf.length >= 12) {
          if (buf[3] !== 0) return done(false);
          stage = 1;
          buf = buf.subarray(12);
          s.write('ping');
        }
        if (stage === 1 && buf.length >= 4) done(true);
      });
    },
    5000,
  );
  return ok ? performance.now() - t0 : Infinity;
}

async function startCli(cli: string, args: string[]): Promise<{ port: number; pid: number; stop: () => Promise<void> }> {
  const [cmd, argv] = withNofile(process.execPath, [cli, '--port', '0', '-q', ...args]);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  for (let i = 0; i < 200 && !/:(\d+)\n/.test(out); i++) await sleep(50);
  const m = /:(\d+)\n/.exec(out);
  if (!m) throw new Error(`the CLI did not start: ${out}`);
  return {
    port: Number(m[1]),
    pid: child.pid!, // prlimit execs node: the same process
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

async function measure(cli: string, echoPort: number, label: string, args: string[]): Promise<string> {
  const proxy = await startCli(cli, args);
  const [fcmd, fargv] = withNofile(process.execPath, [join(ROOT, 'test', 'hardening', 'flooder.cjs'), String(proxy.port), String(FLOOD), 'silent']);
  const flooder = spawn(fcmd, fargv, { stdio: ['pipe', 'pipe', 'ignore'] });
  let last = { open: 0, connects: 0, cuts: 0 };
  flooder.stdout.on('data', (d: Buffer) => {
    const lines = d.toString().trim().split('\n');
    try {
      last = JSON.parse(lines[lines.length - 1]) as typeof last;
    } catch {
      /* a partial line */
    }
  });
  try {
    for (let i = 0; i < 600 && !(last.connects >= FLOOD && last.cuts > 0); i++) await sleep(100);
    const fds = readdirSync(`/proc/${proxy.pid}/fd`).length;
    const rss = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${proxy.pid}/status`, 'utf8'))![1]) / 1024;
    const times: number[] = [];
    for (let i = 0; i < ROUNDS; i++) times.push(await normalClient(proxy.port, echoPort));
    const sorted = [...times].sort((a, b) => a - b);
    const s = stat(times.filter(Number.isFinite))!;
    const slow = times.filter((t) => t >= 1000).length;
    log(`${label}: median ${s.median.toFixed(1)} ms, max ${sorted[ROUNDS - 1].toFixed(0)} ms, ${slow} ≥ 1 s; flood ${JSON.stringify(last)}`);
    const f = (x: number) => (Number.isFinite(x) ? x.toFixed(x < 10 ? 1 : 0) : 'failed');
    return `| ${label} | ${f(s.median)} | ${f(sorted[Math.floor(ROUNDS * 0.95)])} | ${f(sorted[ROUNDS - 1])} | ${slow} | ${last.cuts} | ${fds} | ${rss.toFixed(0)} |`;
  } finally {
    flooder.stdin.end();
    await new Promise((r) => flooder.once('exit', r));
    await proxy.stop();
  }
}

async function main(): Promise<void> {
  const write = !process.argv.includes('--no-write');
  const work = mkdtempSync(join(tmpdir(), 'socks5-bench-flood-'));
  mkdirSync(join(work, 'logs'));
  const built = await build(work);
  const echo = createServer((c) => {
    c.on('error', () => {});
    c.pipe(c);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  const echoPort = (echo.address() as AddressInfo).port;
  const rows: string[] = [];
  try {
    rows.push(await measure(built.cli, echoPort, `defaults (1,024 connections, 512 in handshake), ${FLOOD} flood`, []));
    rows.push(await measure(built.cli, echoPort, `--max-connections 16384 (8,192 in handshake), ${FLOOD} flood`, ['--max-connections', '16384']));
  } finally {
    echo.close();
  }
  const section = [
    FLOOD_BEGIN,
    '## Pre-handshake flood: a normal client through 10,000 silent connections',
    '',
    `Written by \`bench/flood.ts\` (${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}; open-file limit ${NOFILE}). ` +
      `A flood of ${FLOOD} connections that connect and send nothing, each reconnecting as soon as the proxy cuts it ` +
      `(test/hardening/flooder.cjs, its own process), against this project's CLI; then ${ROUNDS} normal clients in a row, ` +
      'each greeting + CONNECT to a loopback echo target + one round trip. Target: every one within 1 s. ' +
      'Times in ms; fds and RSS of the proxy with the flood on.',
    '',
    '| proxy | median | p95 | max | ≥ 1 s | flood cut | proxy fds | RSS MiB |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    `Each newcomer cuts the handshake silent longest; what the proxy cannot hold of the flood waits in the kernel's listen ` +
      `queue, and a newcomer waits behind it, so the tail depends on how fast the proxy's CPU share drains that queue ` +
      `(load average at the end of this run: ${loadavg()[0].toFixed(1)} on ${cpus().length} cores).`,
    FLOOD_END,
  ].join('\n');
  process.stdout.write(`${section}\n`);
  if (write) {
    const file = join(ROOT, 'docs', 'benchmarks.md');
    writeFileSync(file, spliceSection(readFileSync(file, 'utf8'), FLOOD_BEGIN, FLOOD_END, section));
    log(`wrote ${file}`);
  }
  rmSync(work, { recursive: true, force: true });
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`bench flood: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
