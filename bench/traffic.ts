// `npm run bench:traffic [-- --seconds 30] [--connections 1000] [--no-write]`
//
// What the Traffic panel's sampling costs the extension host, in a real VS Code: code-server with
// the packaged VSIX, the proxy holding 1,000 open connections (bench/traffic-clients.mjs, a
// separate process), the Connections view hidden. The extension host's own CPU time (/proc) is
// read over a window without the panel, with the panel open and visible (sampling once a second,
// a message to the webview each second), and without it again; and the sampler's own accounting
// (time inside TrafficTracker.tick(), from "SOCKS5: Log Traffic Sampling Cost (Developer)").
// Writes its section of docs/benchmarks.md (between <!-- bench:traffic --> markers; bench/run.ts keeps it).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CHROMIUM_BIN, CODE_SERVER_BIN, CODE_SERVER_VERSION, findVsix, freePort, isListening, log, runCommand, VSCode, waitFor } from '../test/e2e/harness';
import { cpuSeconds, processTree } from './proc';
import { spliceSection } from './report';

const ROOT = resolve(__dirname, '..');
const OUT = join(ROOT, 'docs', 'benchmarks.md');
export const TRAFFIC_BEGIN = '<!-- bench:traffic -->';
export const TRAFFIC_END = '<!-- /bench:traffic -->';

interface Args {
  seconds: number;
  connections: number;
  write: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { seconds: 30, connections: 1000, write: true };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--seconds') a.seconds = Number(argv[++i]);
    else if (k === '--connections') a.connections = Number(argv[++i]);
    else if (k === '--no-write') a.write = false;
    else if (k === '--quick') a.seconds = 10;
    else throw new Error(`unknown option ${k}`);
  }
  return a;
}

/** The extension host: the code-server descendant started with --type=extensionHost. */
function extensionHostPid(root: number): number {
  for (const pid of processTree(root)) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (/--type=extensionHost/.test(cmd)) return pid;
  }
  throw new Error(`no extension host among ${processTree(root).join(', ')}`);
}

interface Cost {
  sampling: boolean;
  ticks: number;
  ms: number;
  samples: number;
  sampleMs: number;
  footprint?: { live: number; histories: number; bytes: number };
}

async function cost(vs: VSCode): Promise<Cost> {
  const before = (vs.cs.extensionHostLogs(400_000).match(/Traffic sampling cost: /g) ?? []).length;
  await runCommand(vs.page, 'SOCKS5: Log Traffic Sampling Cost (Developer)');
  let c: Cost | undefined;
  await waitFor(
    'the cost line in the log',
    async () => {
      const lines = vs.cs.extensionHostLogs(400_000).match(/Traffic sampling cost: (\{.*\})/g) ?? [];
      if (lines.length <= before) return false;
      const last = lines.at(-1)!;
      c = JSON.parse(last.slice(last.indexOf('{'))) as Cost;
      return true;
    },
    { timeoutMs: 15_000 },
  );
  return c!;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** CPU of `pid` over `seconds`, as a share of one core. */
async function cpuOver(pid: number, seconds: number): Promise<number> {
  const c0 = cpuSeconds(pid, false);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  return (cpuSeconds(pid, false) - c0) / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(CODE_SERVER_BIN) || !existsSync(CHROMIUM_BIN)) throw new Error('code-server or Chromium missing (bash test/e2e/setup.sh)');
  const vsix = findVsix();
  const port = await freePort();
  const vs = await VSCode.launch({ vsix, prefix: 'socks5-bench-traffic-', settings: { 'socks5.port': port, 'socks5.maxConnections': args.connections + 100 } });
  let clients: ChildProcess | undefined;
  try {
    const page = vs.page;
    await runCommand(page, 'SOCKS5: Start Proxy');
    await waitFor('the proxy to listen', () => isListening(port), { timeoutMs: 20_000 });
    clients = spawn(process.execPath, [join(__dirname, 'traffic-clients.mjs'), String(port), String(args.connections)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    clients.stdout!.on('data', (d) => (out += d));
    await waitFor(`${args.connections} connections through the proxy`, async () => out.includes(`ready ${args.connections}`), { timeoutMs: 120_000 });
    // Nothing of ours visible: the Explorer instead of the Connections view, no panel.
    await runCommand(page, 'View: Show Explorer');
    await runCommand(page, 'View: Close All Editors');
    const host = extensionHostPid(vs.cs.proc.pid);
    log(`extension host pid ${host}; ${args.connections} connections open; settling`);
    // The workbench's own start-up work (other extensions activating) settles first.
    await sleep(20_000);

    const idle1 = await cpuOver(host, args.seconds);
    log(`without the panel: ${(idle1 * 100).toFixed(2)}% of a core`);
    await runCommand(page, 'SOCKS5: Show Traffic');
    await sleep(5000);
    const c0 = await cost(vs);
    const t0 = performance.now();
    const withPanel = await cpuOver(host, args.seconds);
    const c1 = await cost(vs);
    const wall = (performance.now() - t0) / 1000;
    log(`with the panel: ${(withPanel * 100).toFixed(2)}% of a core; sampler ${c1.ticks - c0.ticks} ticks, ${(c1.ms - c0.ms).toFixed(1)} ms`);
    await runCommand(page, 'View: Close All Editors');
    await sleep(3000);
    const idle2 = await cpuOver(host, args.seconds);
    log(`without the panel again: ${(idle2 * 100).toFixed(2)}% of a core`);
    const c2 = await cost(vs);

    const ticks = c1.ticks - c0.ticks;
    const samplerShare = (c1.ms - c0.ms) / 1000 / wall;
    const samples = c1.samples - c0.samples;
    const sampleShare = (c1.sampleMs - c0.sampleMs) / 1000 / wall;
    const baseline = (idle1 + idle2) / 2;
    const rows = [
      ['extension host CPU, panel closed (before / after)', `${pct(idle1)} / ${pct(idle2)}`],
      ['extension host CPU, panel open and visible', pct(withPanel)],
      ['difference (the panel\u2019s sampling, messages and bookkeeping)', pct(withPanel - baseline)],
      ['each second\u2019s whole sample (tick + message to the webview), share of a core', pct(sampleShare)],
      ['each second\u2019s whole sample, per sample', `${samples > 0 ? ((c1.sampleMs - c0.sampleMs) / samples).toFixed(2) : '-'} ms (${samples} samples)`],
      ['of which TrafficTracker.tick, share of a core', pct(samplerShare)],
      ['of which TrafficTracker.tick, per tick', `${ticks > 0 ? ((c1.ms - c0.ms) / ticks).toFixed(2) : '-'} ms (${ticks} ticks)`],
      ['ticks while the panel was closed', String(c2.ticks - c1.ticks)],
      ['model memory (rings and histories)', c1.footprint ? `${(c1.footprint.bytes / 1024).toFixed(0)} KiB for ${c1.footprint.live} connections` : '-'],
    ];
    const met = withPanel - baseline < 0.01 && sampleShare < 0.01;
    const md = [
      TRAFFIC_BEGIN,
      '## Traffic sampling',
      '',
      `What the Traffic panel's once-a-second sampling costs the extension host with ${args.connections.toLocaleString('en-US')} open (idle) ` +
        `connections through the proxy, in code-server ${CODE_SERVER_VERSION} on this machine. Written by \`bench/traffic.ts\` (\`npm run bench:traffic\`); ` +
        `${args.seconds} s windows, the extension host's CPU time from /proc, the Connections view hidden.`,
      '',
      `- Date: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
      `- Target: under 1% of a core with 1,000 connections and the panel visible: **${met ? 'met' : 'not met'}**`,
      '',
      '| measure | value |',
      '|---|---:|',
      ...rows.map(([k, v]) => `| ${k} | ${v} |`),
      TRAFFIC_END,
    ].join('\n');
    process.stdout.write(md + '\n');
    if (args.write) {
      const old = existsSync(OUT) ? readFileSync(OUT, 'utf8') : '# Benchmarks\n';
      writeFileSync(OUT, spliceSection(old, TRAFFIC_BEGIN, TRAFFIC_END, md));
      log(`wrote its section of ${OUT}`);
    }
  } finally {
    if (clients && clients.exitCode === null) clients.kill('SIGTERM');
    await vs.close();
  }
}

const pct = (share: number): string => `${(share * 100).toFixed(2)}%`;

main().catch((err) => {
  process.stderr.write(`bench:traffic: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
