// `npm run bench [-- --quick] [--rounds N] [--only a,b] [--servers ours,microsocks,dante] [--out FILE]`
//
// Measures this project's SOCKS5 server (through its CLI) side by side with microsocks, Dante and
// a direct connection, on loopback, and writes docs/benchmarks.md (+ docs/benchmarks.svg).
// Runs alternate (direct, ours, microsocks, Dante, direct, ours, …) so that machine noise hits all
// alike; every figure is a median over the rounds, with min–max.
// The load runs in its own process (bench/client.ts) and so do the targets (bench/targets.ts).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { measureActivation } from './activation';
import { measureExtensionHostCpu } from './extensionHost';
import { cpuSeconds, memory, type Memory, type Watch } from './proc';
import { bareNode, dante, direct, microsocks, NOFILE, ours, proxyChain, stopChild, tinyproxy, withNofile, type Contender, type Running } from './servers';
import { HTTP_METRICS, render, renderHttp, spliceHttpSection, spliceSection, stat, type Environment, type ExtensionFigures, type Metric, type Result, type Runs } from './report';

const ROOT = resolve(__dirname, '..');

export interface Args {
  quick: boolean;
  rounds: number;
  only: string[] | undefined;
  servers: string[];
  out: string;
  write: boolean;
  idleConnections: number;
  /** Extra builds of the CLI to run side by side (A/B testing an engine change). */
  compare: string[];
  /** `--only exthost`: other packaged extensions to measure side by side (e.g. main's). */
  compareVsix: string[];
}

export function parseArgs(argv: string[]): Args {
  const a: Args = {
    quick: false,
    rounds: 3,
    only: undefined,
    servers: ['ours', 'floor', 'microsocks', 'dante', 'tinyproxy', 'proxychain'],
    out: join(ROOT, 'docs', 'benchmarks.md'),
    write: true,
    // The proxy holds two sockets per connection: 10,000 when the fd limit allows it.
    idleConnections: Math.min(10_000, Math.floor((NOFILE - 100) / 200) * 100),
    compare: [],
    compareVsix: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === '--quick') a.quick = true;
    else if (k === '--rounds') a.rounds = Math.max(1, Number(v()));
    else if (k === '--only') a.only = v().split(',');
    else if (k === '--servers') a.servers = v().split(',');
    else if (k === '--out') a.out = resolve(v());
    else if (k === '--no-write') a.write = false;
    else if (k === '--idle-connections') a.idleConnections = Number(v());
    else if (k === '--compare') a.compare.push(resolve(v()));
    else if (k === '--compare-vsix') a.compareVsix.push(resolve(v()));
    else if (k === '-h' || k === '--help') {
      process.stdout.write(
        'npm run bench -- [--quick] [--rounds N] [--only down1,up1,down8,up8,conn,rtt,idle,udp1,udp32,hdown1,hconn,activation] | --only exthost [--compare-vsix other.vsix]\n' +
          '                 [--servers ours,floor,microsocks,dante,tinyproxy,proxychain] [--idle-connections N] [--out FILE] [--no-write]\n' +
          '   --only hdown1,hconn: the HTTP CONNECT rows alone (with this project\'s SOCKS5 download for comparison);\n' +
          '                        they rewrite only their section of the output file.\n' +
          '                 [--compare path/to/other/cli.js]...   (A/B: another build of the CLI, side by side)\n',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${k}`);
  }
  return a;
}

const log = (msg: string): void => {
  process.stderr.write(`[bench +${Math.round((Date.now() - T0) / 1000)}s] ${msg}\n`);
};
const T0 = Date.now();

function sh(cmd: string, args: string[], opts: { cwd?: string } = {}): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

// ------------------------------------------------------------------------------ build

interface Built {
  cli: string;
  load: string;
  extensionBuilt: boolean;
}

export async function build(work: string): Promise<Built> {
  const load = join(work, 'load');
  const cc = sh('cc', ['-O2', '-Wall', '-o', load, join(ROOT, 'bench/load.c')]);
  if (!cc.ok) throw new Error(`cannot compile bench/load.c (is a C compiler installed? bench/setup.sh installs gcc):\n${cc.out}`);
  if (existsSync(join(ROOT, 'src/extension.ts'))) {
    log('building with `node esbuild.mjs --production` (dist/cli.js, dist/extension.js)');
    const r = sh(process.execPath, ['esbuild.mjs', '--production']);
    if (!r.ok) throw new Error(`node esbuild.mjs --production failed:\n${r.out}`);
    return { cli: join(ROOT, 'dist/cli.js'), load, extensionBuilt: true };
  }
  log('src/extension.ts does not exist yet: building only the CLI (production settings) into the work dir');
  const esbuild = await import('esbuild');
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  await esbuild.build({
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
    minify: true,
    entryPoints: [join(ROOT, 'src/cli.ts')],
    outfile: join(work, 'cli.js'),
    define: { __VERSION__: JSON.stringify(pkg.version) },
  });
  return { cli: join(work, 'cli.js'), load, extensionBuilt: false };
}

// ------------------------------------------------------------------------------ processes

export interface Targets {
  ports: { source: number; sink: number; echo: number; echoHosts: string[]; udp: number };
  watch: Watch;
  stop(): Promise<void>;
}

const ECHO_HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];

export function startTargets(load: string): Promise<Targets> {
  const [cmd, args] = withNofile(load, ['targets', ECHO_HOSTS.join(',')]);
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolveP, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`targets exited with code ${code}`)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      resolveP({
        ports: JSON.parse(out.slice(0, nl)) as Targets['ports'],
        watch: { pid: child.pid!, tree: false },
        stop: () => {
          child.stdin.end();
          return stopChild(child);
        },
      });
    });
  });
}

interface Job {
  args: string[];
  proxyWatch: Watch | null;
  targetWatch: Watch;
  /** idle: wait this long after READY, then sample the proxy's memory. */
  settleMs?: number;
  timeoutMs: number;
}

interface CpuSample {
  t: number;
  client: number;
  proxy: number;
  target: number;
}

const fail = (error: string): Result => ({ ok: false, error, rate: 0, clientCpu: 0, proxyCpu: 0, targetCpu: 0, errors: 1, count: 0 });

/** Runs bench/load.c's client; samples CPU at its START/END marks and memory at READY. */
export function runClient(load: string, job: Job): Promise<Result> {
  const memBefore = job.proxyWatch && job.settleMs !== undefined ? memory(job.proxyWatch.pid, job.proxyWatch.tree) : undefined;
  const [cmd, args] = withNofile(load, ['client', ...job.args]);
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const sample = (): CpuSample => ({
    t: performance.now(),
    client: cpuSeconds(child.pid!, false),
    proxy: job.proxyWatch ? cpuSeconds(job.proxyWatch.pid, job.proxyWatch.tree) : 0,
    target: cpuSeconds(job.targetWatch.pid, false),
  });
  let start: CpuSample | undefined;
  let end: CpuSample | undefined;
  let ready: { opened: number; errors: number; ms: number } | undefined;
  let memAfter: Memory | undefined;
  let result: Record<string, unknown> | undefined;
  let err = '';
  let pending = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    pending += d.toString();
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line === 'START') start = sample();
      else if (line === 'END') end = sample();
      else if (line.startsWith('READY')) {
        const [, o, e, ms] = line.split(' ');
        ready = { opened: Number(o), errors: Number(e), ms: Number(ms) };
        setTimeout(() => {
          if (job.proxyWatch) memAfter = memory(job.proxyWatch.pid, job.proxyWatch.tree);
          child.stdin.end();
        }, job.settleMs ?? 0);
      } else if (line.startsWith('{')) {
        try {
          result = JSON.parse(line) as Record<string, unknown>;
        } catch {
          /* keep looking */
        }
      }
    }
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), job.timeoutMs);
  return new Promise((resolveP) => {
    child.on('close', () => {
      clearTimeout(killer);
      if (!result) return resolveP(fail(`load client failed: ${err.trim().split('\n').slice(-3).join(' ') || 'no result'}`));
      const r = result as unknown as Result & { secs?: number };
      const out: Result = { ok: Boolean(r.ok), rate: r.rate ?? 0, clientCpu: 0, proxyCpu: 0, targetCpu: 0, errors: r.errors ?? 0, count: r.count ?? 0 };
      if (r.error) out.error = r.error;
      else if (!out.ok) out.error = `nothing completed in the window (${out.errors} connection errors)`;
      if (r.p50us !== undefined) out.p50us = r.p50us;
      if (r.p99us !== undefined) out.p99us = r.p99us;
      if (start && end) {
        const secs = (end.t - start.t) / 1000;
        out.clientCpu = (end.client - start.client) / secs;
        out.proxyCpu = (end.proxy - start.proxy) / secs;
        out.targetCpu = (end.target - start.target) / secs;
        if (out.count > 0) out.proxyCpuPerConnUs = ((end.proxy - start.proxy) / out.count) * 1e6;
      }
      if (ready) {
        out.openMs = ready.ms;
        // A server that refuses some connections still has a figure for those it holds.
        out.ok = ready.opened > 0;
        if (ready.errors > 0) out.error = `${ready.errors} of ${ready.opened + ready.errors} connections failed`;
        if (memBefore && memAfter) {
          out.rssPerConn = (memAfter.rss - memBefore.rss) / ready.opened;
          out.pssPerConn = (memAfter.pss - memBefore.pss) / ready.opened;
          out.processes = memAfter.processes;
        }
      }
      resolveP(out);
    });
  });
}

// ------------------------------------------------------------------------------ plan

export const METRICS: Metric[] = [
  { id: 'down1', title: '1-stream download' },
  { id: 'up1', title: '1-stream upload' },
  { id: 'down8', title: '8-stream download' },
  { id: 'up8', title: '8-stream upload' },
  { id: 'conn', title: 'connections, 64 concurrent clients' },
  { id: 'rtt', title: '64-byte round trips, 1 connection' },
  { id: 'idle', title: 'idle connections' },
  { id: 'udp1', title: 'UDP round trips (64-byte datagrams)' },
  { id: 'udp32', title: 'UDP, 32 datagrams in flight' },
  { id: 'hdown1', title: 'HTTP CONNECT 1-stream download' },
  { id: 'hconn', title: 'HTTP CONNECT connections, 64 concurrent clients' },
];

/** `via`: how the HTTP CONNECT rows' load reaches the proxy (SOCKS5 for this project's own comparison column). */
export function jobFor(id: string, args: Args, t: Targets, proxy: Running, via: 'http' | 'socks5' = 'http'): Job {
  const warmMs = args.quick ? 200 : 500;
  const measureMs = args.quick ? 500 : 2000;
  const p = t.ports;
  const common = [
    `proxy=${proxy.endpoint ? `${proxy.endpoint.host}:${proxy.endpoint.port}` : 'none'}`,
    `warm=${warmMs}`,
    `measure=${measureMs}`,
  ];
  const job = (a: string[], extra: Partial<Job> = {}): Job => ({
    args: [...common, ...a],
    proxyWatch: proxy.watch,
    targetWatch: t.watch,
    timeoutMs: warmMs + measureMs + 60_000,
    ...extra,
  });
  const at = (port: number): string => `target=127.0.0.1:${port}`;
  switch (id) {
    case 'down1':
      return job(['mode=tput', 'dir=down', 'streams=1', at(p.source)]);
    case 'up1':
      return job(['mode=tput', 'dir=up', 'streams=1', at(p.sink)]);
    case 'down8':
      return job(['mode=tput', 'dir=down', 'streams=8', at(p.source)]);
    case 'up8':
      return job(['mode=tput', 'dir=up', 'streams=8', at(p.sink)]);
    case 'conn':
      return job(['mode=connrate', 'conc=64', `hosts=${p.echoHosts.join(',')}`, at(p.echo)]);
    case 'rtt':
      return job(['mode=rtt', 'size=64', at(p.echo)]);
    case 'idle':
      return job(['mode=idle', `count=${idleCount(args)}`, 'parallel=128', at(p.echo)], { settleMs: args.quick ? 300 : 1500, timeoutMs: 180_000 });
    case 'udp1':
      return job(['mode=udp', 'inflight=1', 'size=64', at(p.udp)]);
    case 'udp32':
      return job(['mode=udp', 'inflight=32', 'size=64', at(p.udp)]);
    case 'hdown1':
      return job(['mode=tput', 'dir=down', 'streams=1', `via=${via}`, at(p.source)]);
    case 'hconn':
      return job(['mode=connrate', 'conc=64', `via=${via}`, `hosts=${p.echoHosts.join(',')}`, at(p.echo)]);
  }
  throw new Error(`unknown metric ${id}`);
}

const idleCount = (args: Args): number => (args.quick ? Math.min(1000, args.idleConnections) : args.idleConnections);

// ------------------------------------------------------------------------------ environment

function environment(args: Args): Environment {
  const dpkg = (p: string): string => {
    const r = sh('dpkg-query', ['-W', '-f=${Version}', p]);
    return r.ok ? r.out : 'not installed';
  };
  const cpu = sh('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]).out.trim() || 'unknown';
  const rev = sh('git', ['rev-parse', '--short', 'HEAD']).out || 'unknown';
  const dirty = sh('git', ['status', '--porcelain', '--', 'src']).out.length > 0;
  return {
    command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    node: process.version,
    microsocks: dpkg('microsocks'),
    dante: dpkg('dante-server'),
    kernel: sh('uname', ['-r']).out,
    os: existsSync('/etc/debian_version') ? `Debian ${sh('cat', ['/etc/debian_version']).out}` : sh('uname', ['-s']).out,
    cpu: `${cpu}, ${sh('nproc', []).out} cores`,
    memory: `${Math.round(Number(sh('sh', ['-c', "awk '/MemTotal/{print $2}' /proc/meminfo"]).out) / 1024 / 1024)} GiB`,
    commit: `${rev}${dirty ? ' (with uncommitted changes in src/)' : ''}`,
    quick: args.quick,
    rounds: args.rounds,
  };
}

function extensionFigures(extensionBuilt: boolean, work: string): ExtensionFigures {
  const fig: ExtensionFigures = {};
  const ext = join(ROOT, 'dist/extension.js');
  if (extensionBuilt && existsSync(ext)) fig.extensionJsBytes = statSync(ext).size;
  else fig.extensionJsNote = 'n/a: src/extension.ts does not exist yet';
  if (extensionBuilt) {
    const out = join(work, 'bench.vsix');
    log('packaging the VSIX (`npm run package`)');
    const r = sh('npm', ['run', '--silent', 'package', '--', '--out', out]);
    if (r.ok && existsSync(out)) {
      fig.vsixBytes = statSync(out).size;
      fig.vsix = out;
    } else fig.vsixNote = `n/a: npm run package failed (${r.out.split('\n').slice(-2).join(' ').slice(0, 200)})`;
  } else fig.vsixNote = 'n/a: no extension to package yet';
  return fig;
}

/** The bare Node relay is a reference for what Node itself costs per connection and per round trip. */
const FLOOR_METRICS = ['conn', 'rtt'];
/** Metrics whose rounds are preceded by one unmeasured run per proxy (the connection path is the longest to warm up). */
const WARM_UP_METRICS = ['conn', 'hconn'];

// ------------------------------------------------------------------------------ main

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.only?.length === 1 && args.only[0] === 'exthost') return extensionHostOnly(args);
  const only = args.only ? METRICS.filter((m) => args.only!.includes(m.id)) : METRICS;
  // The HTTP CONNECT rows alone rewrite only their own section of the output.
  const httpOnly = args.only !== undefined && only.length > 0 && only.every((m) => HTTP_METRICS.includes(m.id));
  if (process.platform !== 'linux') throw new Error('the benchmark reads /proc: Linux only');

  // Peers: install when root (idempotent), otherwise say how.
  const setup = sh('bash', [join(ROOT, 'bench/setup.sh')]);
  log(setup.out.split('\n').pop() ?? '');

  const work = mkdtempSync(join(tmpdir(), 'socks5-bench-'));
  const logDir = join(work, 'logs');
  mkdirSync(logDir);
  log(`work dir ${work}`);
  const built = await build(work);

  const all: Contender[] = [direct()];
  if (args.servers.includes('ours')) all.push(ours(built.cli, logDir));
  // The HTTP CONNECT rows' comparison column: the same load through this project's SOCKS5 door,
  // on the same running server, in the same rounds (its target is a ratio to it).
  if (args.servers.includes('ours'))
    all.push({ name: 'ourssocks', label: 'this project, SOCKS5 (same rows)', udp: false, socks5: false, httpConnect: true, start: async () => ({ ...running.get('ours')!, stop: async () => {} }) });
  args.compare.forEach((cli, i) => all.push({ ...ours(cli, logDir), name: `cmp${i + 1}`, label: `compare ${i + 1} (${basename(dirname(cli))}/${basename(cli)})` }));
  if (args.servers.includes('floor')) all.push(bareNode(join(ROOT, 'bench', 'bare-relay.mjs'), logDir));
  if (args.servers.includes('microsocks')) all.push(microsocks(logDir));
  if (args.servers.includes('dante')) all.push(dante(work, logDir));
  if (args.servers.includes('tinyproxy')) all.push(tinyproxy(work, logDir));
  if (args.servers.includes('proxychain')) all.push(proxyChain(join(ROOT, 'bench', 'proxy-chain-server.mjs'), logDir));
  const contenders = all.filter((c) => {
    if (c.missing) log(`skipping ${c.label}: ${c.missing}`);
    return !c.missing;
  });

  const targets = await startTargets(built.load);
  const running = new Map<string, Running>();
  const runs: Runs = {};
  const na: Record<string, Record<string, string>> = {};
  const cleanup = async (): Promise<void> => {
    for (const r of running.values()) await r.stop();
    running.clear();
    await targets.stop();
  };
  process.on('SIGINT', () => {
    void cleanup().finally(() => process.exit(130));
  });

  try {
    for (const c of contenders) running.set(c.name, await c.start());
    log(`contenders: ${contenders.map((c) => c.label).join(', ')}; rounds: ${args.rounds}${args.quick ? ' (quick)' : ''}`);

    for (const m of only) {
      runs[m.id] = {};
      if (WARM_UP_METRICS.includes(m.id)) {
        // One unmeasured run per proxy first: a JIT-compiled server (Node) reaches its steady state
        // on a code path only after thousands of passes through it; C servers are unaffected.
        for (const c of contenders) {
          if (c.name === 'direct' || (c.name === 'floor' && !FLOOR_METRICS.includes(m.id)) || !speaks(c, m.id)) continue;
          const res = await runClient(built.load, jobFor(m.id, args, targets, running.get(c.name)!, viaOf(c)));
          log(`${m.id} ${c.name} warm-up run (not counted): ${res.ok ? summary(m.id, res) : `failed ${res.error ?? ''}`}`);
        }
      }
      for (let round = 0; round < args.rounds; round++) {
        for (const c of contenders) {
          if (!speaks(c, m.id)) {
            (na[m.id] ??= {})[c.name] = 'none';
            continue;
          }
          if (c.name === 'direct' && (m.id === 'conn' || m.id === 'hconn')) {
            // At 20,000 connections/s the direct baseline leaves ~50,000 sockets in TIME_WAIT per
            // run, and the kernel's port search then slows every connection after it (measured:
            // the proxies' rounds after it lost half their rate). Nothing is compared to it.
            (na[m.id] ??= {})[c.name] = 'not run';
            continue;
          }
          if (c.name === 'floor' && !FLOOR_METRICS.includes(m.id)) {
            (na[m.id] ??= {})[c.name] = 'not run';
            continue;
          }
          if ((m.id === 'udp1' || m.id === 'udp32') && !c.udp) {
            (na[m.id] ??= {})[c.name] = 'none';
            continue;
          }
          if (na[m.id]?.[c.name]) continue;
          if (m.id === 'idle' && c.name === 'direct') continue; // proxy memory: nothing to measure without one
          let server = running.get(c.name)!;
          if (m.id === 'idle' && c.name !== 'direct') {
            // Memory is measured on a fresh process: restart it.
            await server.stop();
            server = await c.start();
            running.set(c.name, server);
            await new Promise((r) => setTimeout(r, 300));
          }
          let res = await runClient(built.load, jobFor(m.id, args, targets, server, viaOf(c)));
          if (!res.ok && !/reply 0x7/.test(res.error ?? '')) {
            // One retry after a pause: a server still busy with the previous run's connections
            // (Dante recycles its worker processes) gets a second chance; both are reported.
            log(`${m.id} ${c.name} round ${round + 1}: failed (${res.error ?? ''}), retrying once`);
            await new Promise((r) => setTimeout(r, 1000));
            const again = await runClient(built.load, jobFor(m.id, args, targets, server, viaOf(c)));
            if (again.ok) again.error = `first attempt failed (${res.error ?? 'no result'}), the retry is counted`;
            res = again;
          }
          if (res.ok && res.error) log(`${m.id} ${c.name} round ${round + 1}: ${res.error}`);
          if (!res.ok) {
            log(`${m.id} ${c.name} round ${round + 1}: FAILED ${res.error ?? ''}`);
            if ((m.id === 'udp1' || m.id === 'udp32') && /reply 0x7/.test(res.error ?? '')) {
              (na[m.id] ??= {})[c.name] = 'n/a (UDP ASSOCIATE not implemented yet)';
              continue;
            }
          } else log(`${m.id} ${c.name} round ${round + 1}: ${summary(m.id, res)}`);
          (runs[m.id][c.name] ??= []).push(res);
        }
      }
    }
  } finally {
    await cleanup();
  }

  // The HTTP CONNECT rows alone touch none of the extension's figures: no VSIX to package.
  const fig: ExtensionFigures = httpOnly ? { activationNote: 'not measured (--only)' } : extensionFigures(built.extensionBuilt, work);
  if (!fig.vsix) fig.activationNote = 'n/a: no VSIX';
  else if (args.quick) fig.activationNote = 'not measured in --quick mode (it starts a VS Code)';
  else if (args.only && !args.only.includes('activation')) fig.activationNote = 'not measured (--only)';
  else {
    log('activation: starting code-server with the VSIX, reading "Developer: Show Running Extensions" (3 samples)');
    try {
      const a = await measureActivation(fig.vsix, 3);
      if (a.samples.length > 0) {
        fig.activationSamples = a.samples;
        fig.activationMs = stat(a.samples)!.median;
        fig.activationOthers = Object.fromEntries(Object.entries(a.others).map(([n, xs]) => [n, stat(xs)!.median]));
        log(`activation: ${a.samples.join(', ')} ms`);
      } else fig.activationNote = a.note;
    } catch (e) {
      fig.activationNote = `n/a: measuring failed (${(e as Error).message.split('\n')[0].slice(0, 200)})`;
      log(fig.activationNote);
    }
  }
  const env = environment(args);
  const input = {
    metrics: only,
    contenders: contenders.map((c) => ({ name: c.name, label: c.label, socks5: c.socks5 !== false, httpConnect: c.httpConnect === true })),
    runs,
    na,
    env,
    fig,
    idleCount: idleCount(args),
  };
  const { markdown, svg } = render(input);
  if (httpOnly && args.write) {
    const section = renderHttp(input);
    writeFileSync(args.out, spliceHttpSection(existsSync(args.out) ? readFileSync(args.out, 'utf8') : '# Benchmarks\n', section));
    log(`rewrote the HTTP CONNECT section of ${args.out}`);
  } else if (args.write) {
    mkdirSync(dirname(args.out), { recursive: true });
    writeFileSync(args.out, keepSections(existsSync(args.out) ? readFileSync(args.out, 'utf8') : '', markdown));
    writeFileSync(join(dirname(args.out), 'benchmarks.svg'), svg);
    writeFileSync(join(work, 'results.json'), JSON.stringify({ runs, na, env, fig }, null, 1));
    log(`wrote ${args.out} and ${join(dirname(args.out), 'benchmarks.svg')} (raw results: ${join(work, 'results.json')})`);
  } else process.stdout.write(markdown);
  // Keep the work dir (server logs, raw results) only when something failed.
  const failed = Object.values(runs).some((byServer) => Object.values(byServer).some((rs) => rs.some((r) => !r.ok)));
  if (!failed) rmSync(work, { recursive: true, force: true });
  else log(`some runs failed: logs and raw results kept in ${work}`);
  log('done');
}

const EXTHOST_START = '<!-- bench:exthost -->';
const EXTHOST_END = '<!-- /bench:exthost -->';

/**
 * `--only exthost`: the extension host's CPU with 3,000 connections and the Connections view
 * visible (bench/extensionHost.ts), for this build and for each `--compare-vsix` (e.g. main's),
 * written into its own section of docs/benchmarks.md (a full run keeps that section).
 */
async function extensionHostOnly(args: Args): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'socks5-bench-'));
  const built = await build(work);
  const fig = extensionFigures(built.extensionBuilt, work);
  if (!fig.vsix) throw new Error(`no VSIX: ${fig.vsixNote ?? ''}`);
  const connections = args.quick ? 1_000 : 3_000;
  const builds: { label: string; vsix: string }[] = [
    { label: `this build (${environment(args).commit})`, vsix: fig.vsix },
    ...args.compareVsix.map((v) => ({ label: basename(v), vsix: v })),
  ];
  const rows: string[] = [];
  for (const b of builds) {
    log(`exthost: ${b.label}: ${connections} connections, the Connections view visible`);
    const r = await measureExtensionHostCpu(b.vsix, { connections, seconds: args.quick ? 10 : 20, rounds: args.rounds, log });
    const s = stat(r.samples);
    rows.push(
      `| ${b.label} | ${r.connections.toLocaleString('en-US')} | ${s ? `${(s.median * 100).toFixed(1)} % (${(s.min * 100).toFixed(1)}–${(s.max * 100).toFixed(1)})` : r.note ?? 'n/a'} |`,
    );
  }
  const env = environment(args);
  const section = [
    EXTHOST_START,
    '## Extension host under load (issue 18)',
    '',
    `The extension host's CPU (share of one core; median of ${args.rounds} windows of ${args.quick ? 10 : 20} s, min–max) with the proxy in it holding N tunnels, each echoing 64 bytes each way once a second (every row's bytes change), and the Connections view visible, in code-server 4.100.3 with headless Chromium. Command: \`${env.command}\`; ${env.date}; ${env.cpu}.`,
    '',
    '| build | connections | extension host CPU |',
    '|---|---:|---:|',
    ...rows,
    EXTHOST_END,
  ].join('\n');
  if (args.write) {
    const doc = existsSync(args.out) ? readFileSync(args.out, 'utf8') : '# Benchmarks\n';
    writeFileSync(args.out, spliceSection(doc, EXTHOST_START, EXTHOST_END, section));
    log(`rewrote the extension host section of ${args.out}`);
  } else process.stdout.write(`${section}\n`);
  rmSync(work, { recursive: true, force: true });
}

/** Whether a contender can run a metric's load: HTTP CONNECT rows need an HTTP door, the rest SOCKS5. */
function speaks(c: Contender, metric: string): boolean {
  if (c.name === 'direct') return true;
  return HTTP_METRICS.includes(metric) ? c.httpConnect === true : c.socks5 !== false;
}

/**
 * Sections that other bench scripts (bench/rules.ts) wrote into the file, between
 * `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`, are carried over to the rewritten file.
 */
export function keepSections(old: string, fresh: string): string {
  // A section the fresh run wrote itself (the HTTP CONNECT rows, when run) is not carried twice.
  const kept = [...old.matchAll(/<!-- bench:([\w-]+) -->[\s\S]*?<!-- \/bench:\1 -->/g)].filter((m) => !fresh.includes(`<!-- bench:${m[1]} -->`)).map((m) => m[0]);
  return kept.length === 0 ? fresh : `${fresh.trimEnd()}\n\n${kept.join('\n\n')}\n`;
}

const viaOf = (c: Contender): 'http' | 'socks5' => (c.name === 'ourssocks' ? 'socks5' : 'http');

function summary(id: string, r: Result): string {
  const cpu = `client ${(r.clientCpu * 100).toFixed(0)}% proxy ${(r.proxyCpu * 100).toFixed(0)}% targets ${(r.targetCpu * 100).toFixed(0)}%`;
  if (/^h?(down|up)/.test(id)) return `${(r.rate / 1048576).toFixed(0)} MiB/s (${cpu})`;
  if (id === 'conn' || id === 'hconn') return `${r.rate.toFixed(0)} conn/s, ${r.proxyCpuPerConnUs?.toFixed(0)} µs proxy CPU/conn (${cpu})`;
  if (id === 'idle') return `${((r.rssPerConn ?? 0) / 1024).toFixed(1)} KiB RSS/conn, ${((r.pssPerConn ?? 0) / 1024).toFixed(1)} KiB PSS/conn, ${r.count} conns in ${r.openMs} ms${r.processes ? `, ${r.processes} processes` : ""}`;
  return `${r.rate.toFixed(0)}/s${r.p50us ? ` p50 ${r.p50us.toFixed(0)} µs p99 ${r.p99us?.toFixed(0)} µs` : ''} (${cpu})`;
}

// Run as a script; bench/rules.ts imports the pieces above.
if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
