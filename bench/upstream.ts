// `node --import tsx bench/upstream.ts [--rounds N] [--quick] [--no-write]`: what an upstream hop
// costs the proxy per connection, against the same CLI going direct.
//
// bench/load.c's connection-rate run (64 concurrent clients, CONNECT to an IP, one 64-byte round
// trip, close) against three instances of this project's CLI, runs alternating:
//   direct    no upstream: it connects to the target itself;
//   socks5    `--upstream socks5://127.0.0.1:P`, P a second instance of the CLI (the hop);
//   http      `--upstream http://127.0.0.1:Q`, Q Debian's tinyproxy.
// The figure is the CPU of the front proxy's own process per connection (the hop's process is
// not counted: it is a different proxy's work). "Over none" for a hop: the front proxy does a
// SOCKS5 or HTTP CONNECT handshake with the upstream instead of a TCP connect to the target, and
// relays the same bytes. Target: at most 10% more. Writes its section of docs/benchmarks.md
// (between the upstream markers; bench/run.ts keeps it when it rewrites the file).

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spliceSection, stat, type Result } from './report';
import { build, jobFor, parseArgs, runClient, startTargets } from './run';
import { ours, tinyproxy, type Running } from './servers';

const ROOT = resolve(__dirname, '..');
export const UPSTREAM_BEGIN = '<!-- bench:upstream -->';
export const UPSTREAM_END = '<!-- /bench:upstream -->';

const log = (msg: string): void => void process.stderr.write(`[bench upstream] ${msg}\n`);

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const write = !argv.includes('--no-write');
  const args = parseArgs(argv.filter((a) => a !== '--no-write'));
  const rounds = args.rounds;
  const work = mkdtempSync(join(tmpdir(), 'socks5-bench-upstream-'));
  const logDir = join(work, 'logs');
  mkdirSync(logDir);
  const built = await build(work);
  const targets = await startTargets(built.load);
  const hops: Running[] = [];
  const running = new Map<string, Running>();
  const names = ['direct', 'socks5', 'http'] as const;
  const results: Record<string, Result[]> = { direct: [], socks5: [], http: [] };
  try {
    const socksHop = await ours(built.cli, logDir).start();
    const httpHop = await tinyproxy(work, logDir).start();
    hops.push(socksHop, httpHop);
    const at = (r: Running) => `127.0.0.1:${r.endpoint!.port}`;
    running.set('direct', await ours(built.cli, logDir).start());
    running.set('socks5', await ours(built.cli, logDir, ['--upstream', `socks5://${at(socksHop)}`]).start());
    running.set('http', await ours(built.cli, logDir, ['--upstream', `http://${at(httpHop)}`]).start());
    for (const name of names) await runClient(built.load, jobFor('conn', args, targets, running.get(name)!, 'socks5')); // warm-up
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? names : [...names].reverse();
      for (const name of order) {
        const r = await runClient(built.load, jobFor('conn', args, targets, running.get(name)!, 'socks5'));
        log(`round ${round + 1} ${name}: ${r.ok ? `${r.rate.toFixed(0)} conn/s, ${r.proxyCpuPerConnUs?.toFixed(0)} µs proxy CPU/conn` : `FAILED ${r.error}`}`);
        if (r.ok) results[name].push(r);
      }
    }
  } finally {
    for (const r of running.values()) await r.stop();
    for (const h of hops) await h.stop();
    await targets.stop();
  }
  const cpu = (name: string) => stat(results[name].map((r) => r.proxyCpuPerConnUs ?? NaN));
  const rate = (name: string) => stat(results[name].map((r) => r.rate));
  const base = cpu('direct');
  if (!base) throw new Error('no successful direct runs');
  const fmt = (s: { median: number; min: number; max: number } | undefined, d = 0) => (s ? `${s.median.toFixed(d)} (${s.min.toFixed(d)}–${s.max.toFixed(d)})` : 'n/a');
  const over = (name: string, which: 'median' | 'min' = 'median'): string => {
    const s = cpu(name);
    if (!s) return 'n/a';
    const pct = (s[which] / base[which] - 1) * 100;
    return `${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%${which === 'median' ? ` (${pct <= 10 ? 'within' : 'OVER'} the 10% target)` : ''}`;
  };
  const section = [
    UPSTREAM_BEGIN,
    '## Upstream hop',
    '',
    `Written by \`bench/upstream.ts\` (${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, ${rounds} rounds${args.quick ? ', quick' : ''}, runs alternating). ` +
      'The same CLI three times: direct; `--upstream socks5://…` to a second instance of the CLI; `--upstream http://…` to tinyproxy. ' +
      'Load: 64 concurrent SOCKS5 clients, CONNECT to 127.0.0.1, one 64-byte round trip, close. The CPU is the front proxy\'s own process only ' +
      "(the upstream's work is the upstream's): what a hop adds is its handshake with the upstream in place of a TCP connect to the target. Median (min–max).",
    '',
    '| | direct | via SOCKS5 upstream | via HTTP upstream |',
    '|---|---:|---:|---:|',
    `| proxy CPU per connection, µs (lower is better) | ${fmt(base)} | ${fmt(cpu('socks5'))} | ${fmt(cpu('http'))} |`,
    `| connections/s (the whole chain) | ${fmt(rate('direct'))} | ${fmt(rate('socks5'))} | ${fmt(rate('http'))} |`,
    `| over direct (medians) | | ${over('socks5')} | ${over('http')} |`,
    `| over direct (best rounds) | | ${over('socks5', 'min')} | ${over('http', 'min')} |`,
    '',
    'Connections per second through a chain also include the upstream\'s own work on the same 2 cores, so they fall more than the front proxy\'s CPU rises. ' +
      'Where the hop\'s CPU goes: per connection the front proxy writes the greeting and request in one segment and reads the answer ' +
      '(the SOCKS5 upstream sends its method selection and its reply separately, so usually two reads and two wake-ups; an HTTP upstream\'s ' +
      'status line and headers are parsed as text), on top of the same accept, handshake, connect and relay as direct. ' +
      'On this shared machine the per-connection figure rises as the chain\'s rate falls (fixed per-wake-up costs), so the best rounds are the fairest ones.',
    UPSTREAM_END,
  ].join('\n');
  process.stdout.write(`${section}\n`);
  if (write) {
    const file = join(ROOT, 'docs', 'benchmarks.md');
    writeFileSync(file, spliceSection(readFileSync(file, 'utf8'), UPSTREAM_BEGIN, UPSTREAM_END, section));
    log(`wrote ${file}`);
  }
  rmSync(work, { recursive: true, force: true });
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`bench upstream: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
