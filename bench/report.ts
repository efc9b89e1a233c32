// Turns the benchmark's runs into docs/benchmarks.md and a chart (docs/benchmarks.svg).

/** One run of one metric against one contender. */
export interface Result {
  ok: boolean;
  error?: string;
  /** tput: bytes/s; conn: connections/s; rtt/udp: round trips (or packets) per second. */
  rate: number;
  p50us?: number;
  p99us?: number;
  /** CPU seconds per second in the window (1 = one core busy). */
  clientCpu: number;
  proxyCpu: number;
  targetCpu: number;
  /** conn: proxy CPU µs per completed connection. */
  proxyCpuPerConnUs?: number;
  /** idle: per-connection memory growth of the proxy, bytes. */
  rssPerConn?: number;
  pssPerConn?: number;
  openMs?: number;
  processes?: number;
  errors: number;
  count: number;
}

export interface Metric {
  id: string;
  title: string;
}
/** runs[metricId][contenderName] = one Result per round */
export type Runs = Record<string, Record<string, Result[]>>;

export interface Environment {
  command: string;
  date: string;
  node: string;
  microsocks: string;
  dante: string;
  kernel: string;
  os: string;
  cpu: string;
  memory: string;
  commit: string;
  quick: boolean;
  rounds: number;
}

export interface ExtensionFigures {
  extensionJsBytes?: number;
  extensionJsNote?: string;
  vsixBytes?: number;
  vsixNote?: string;
  activationMs?: number;
  /** Every activation time read (activationMs is their median). */
  activationSamples?: number[];
  /** Built-in extensions' activation times read at the same moments (median ms), for comparison. */
  activationOthers?: Record<string, number>;
  activationNote?: string;
  /** The packaged VSIX (for the activation measurement). */
  vsix?: string;
}

interface Input {
  metrics: Metric[];
  contenders: { name: string; label: string; socks5?: boolean; httpConnect?: boolean }[];
  runs: Runs;
  /** na[metricId][contender] = why there is no figure ("none": the server has no such feature). */
  na: Record<string, Record<string, string>>;
  env: Environment;
  fig: ExtensionFigures;
  idleCount: number;
}

interface Row {
  metric: string;
  label: string;
  unit: string;
  get(r: Result): number | undefined;
  lowerIsBetter?: boolean;
  /** Not meaningful without a proxy (CPU or memory of the proxy). */
  proxyOnly?: boolean;
  digits?: number;
}

const MiB = 1024 * 1024;

const ROWS: Row[] = [
  { metric: 'down1', label: '1-stream download', unit: 'MiB/s', get: (r) => r.rate / MiB },
  { metric: 'up1', label: '1-stream upload', unit: 'MiB/s', get: (r) => r.rate / MiB },
  { metric: 'down8', label: '8-stream download', unit: 'MiB/s', get: (r) => r.rate / MiB },
  { metric: 'up8', label: '8-stream upload', unit: 'MiB/s', get: (r) => r.rate / MiB },
  { metric: 'conn', label: 'connections/s (64 concurrent clients)', unit: '/s', get: (r) => r.rate },
  { metric: 'conn', label: 'proxy CPU per connection', unit: 'µs', get: (r) => r.proxyCpuPerConnUs, lowerIsBetter: true, proxyOnly: true },
  { metric: 'rtt', label: '64-byte round trips/s (1 connection)', unit: '/s', get: (r) => r.rate },
  { metric: 'rtt', label: '64-byte round trip p50', unit: 'µs', get: (r) => r.p50us, lowerIsBetter: true, digits: 1 },
  { metric: 'rtt', label: '64-byte round trip p99', unit: 'µs', get: (r) => r.p99us, lowerIsBetter: true, digits: 1 },
  { metric: 'idle', label: 'RSS per idle connection', unit: 'KiB', get: (r) => (r.rssPerConn ?? NaN) / 1024, lowerIsBetter: true, proxyOnly: true, digits: 1 },
  { metric: 'idle', label: 'PSS per idle connection', unit: 'KiB', get: (r) => (r.pssPerConn ?? NaN) / 1024, lowerIsBetter: true, proxyOnly: true, digits: 1 },
  { metric: 'udp1', label: 'UDP round trips/s (64-byte datagrams)', unit: '/s', get: (r) => r.rate },
  { metric: 'udp1', label: 'UDP round trip p50', unit: 'µs', get: (r) => r.p50us, lowerIsBetter: true, digits: 1 },
  { metric: 'udp32', label: 'UDP packets/s, 32 in flight', unit: '/s', get: (r) => r.rate },
];

/** The HTTP CONNECT rows (issue 12): their own section, with their own peers (tinyproxy, proxy-chain). */
export const HTTP_METRICS = ['hdown1', 'hconn'];
const HTTP_ROWS: Row[] = [
  { metric: 'hdown1', label: 'HTTP CONNECT 1-stream download', unit: 'MiB/s', get: (r) => r.rate / MiB },
  { metric: 'hconn', label: 'HTTP CONNECT connections/s (64 concurrent clients)', unit: '/s', get: (r) => r.rate },
  { metric: 'hconn', label: 'HTTP CONNECT proxy CPU per connection', unit: 'µs', get: (r) => r.proxyCpuPerConnUs, lowerIsBetter: true, proxyOnly: true },
];
/** The section's markers, in the form bench/run.ts's keepSections() carries over (`--only hdown1,hconn` rewrites it in place). */
export const HTTP_SECTION_START = '<!-- bench:http-connect -->';
export const HTTP_SECTION_END = '<!-- /bench:http-connect -->';

interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function stat(values: number[]): Stat | undefined {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], n: v.length };
}

function fmt(x: number, digits?: number): string {
  if (!Number.isFinite(x)) return '—';
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '—';
  return `${(a / b).toFixed(2)}x`;
}

export function render(input: Input): { markdown: string; svg: string } {
  const { runs, contenders, na, env, fig } = input;
  const metricIds = new Set(input.metrics.map((m) => m.id));
  const rows = ROWS.filter((r) => metricIds.has(r.metric));
  const cell = (row: Row, name: string): Stat | undefined => {
    const rs = runs[row.metric]?.[name]?.filter((r) => r.ok);
    return rs ? stat(rs.map((r) => row.get(r) ?? NaN)) : undefined;
  };
  const med = (row: Row, name: string): number | undefined => cell(row, name)?.median;
  const missing = (row: Row, name: string): string =>
    row.proxyOnly && name === 'direct' ? '' : na[row.metric]?.[name] ?? 'failed';
  // HTTP-only peers have no SOCKS5 figures: they appear in the HTTP CONNECT section only.
  const names = contenders.filter((c) => c.socks5 !== false).map((c) => c.name);
  const label = (n: string): string => contenders.find((c) => c.name === n)?.label ?? n;
  const socksMetrics = input.metrics.filter((m) => !HTTP_METRICS.includes(m.id));
  const peers = names.filter((n) => n !== 'direct' && n !== 'ours');

  const md: string[] = [];
  md.push('# Benchmarks');
  md.push('');
  md.push(
    `This project's SOCKS5 server (run through its CLI, \`dist/cli.js\`) side by side with Debian's ` +
      '[microsocks](https://packages.debian.org/bookworm/microsocks) and [Dante](https://packages.debian.org/bookworm/dante-server) ' +
      '(`danted`), and with a direct connection (no proxy), all on loopback. For connections and round trips, a bare Node relay ' +
      '(`bench/bare-relay.mjs`: no-auth CONNECT and \'data\' events, nothing else) shows what Node itself costs. ' +
      'Written by `bench/run.ts`; do not edit by hand.',
  );
  md.push('');
  md.push(`- Command: \`${env.command}\``);
  md.push(`- Date: ${env.date}; commit ${env.commit}`);
  md.push(`- Machine: ${env.cpu}, ${env.memory} RAM; ${env.os}, Linux ${env.kernel}`);
  md.push(`- Node ${env.node}; microsocks ${env.microsocks}; dante-server ${env.dante}`);
  md.push(
    `- ${env.rounds} rounds, runs alternating (direct, this project, microsocks, Dante, direct, …); every figure is the median, ` +
      `min–max in parentheses.${env.quick ? ' **Quick mode**: short windows (0.5 s), 1,000 idle connections: indicative only.' : ' Each run: 0.5 s warm-up, then a 2 s measuring window.'}`,
  );
  md.push('');
  md.push('![Ratios to direct and per-connection costs](benchmarks.svg)');
  md.push('');

  // --- main table
  md.push('## Results');
  md.push('');
  md.push(`| metric | ${names.map(label).join(' | ')} |`);
  md.push(`|---|${names.map(() => '---:').join('|')}|`);
  for (const row of rows) {
    const cells = names.map((n) => {
      const s = cell(row, n);
      if (!s) return missing(row, n);
      const d = row.digits;
      return s.n > 1 ? `${fmt(s.median, d)} (${fmt(s.min, d)}–${fmt(s.max, d)})` : fmt(s.median, d);
    });
    md.push(`| ${row.label}, ${row.unit}${row.lowerIsBetter ? ' (lower is better)' : ''} | ${cells.join(' | ')} |`);
  }
  md.push('');
  // Runs that failed, or that succeeded with some connections refused, are listed: a median hides them.
  const notes: string[] = [];
  for (const m of socksMetrics) {
    for (const n of names) {
      const rs = runs[m.id]?.[n] ?? [];
      const bad = rs.filter((r) => !r.ok || r.error);
      if (bad.length === 0) continue;
      const what = bad.map((r) => (r.ok ? r.error : `failed${r.error ? `: ${r.error}` : ''}`)).join('; ');
      notes.push(`- ${m.title}, ${label(n)}: ${bad.length} of ${rs.length} runs — ${what}${bad.some((r) => !r.ok) ? ' (failed runs are left out of the median)' : ''}`);
    }
  }
  if (notes.length > 0) {
    md.push('Runs with failures:');
    md.push('');
    md.push(...notes);
    md.push('');
  }

  // --- ratios
  md.push('## Ratios');
  md.push('');
  md.push('Ratios of medians. "x direct": the proxy\'s figure over the direct connection\'s (for rates; 1.00x = no overhead). ');
  md.push('"this project / peer": our figure over the peer\'s (above 1 is better for rates, below 1 is better for costs).');
  md.push('');
  const ratioCols = [
    ...names.filter((n) => n !== 'direct').map((n) => ({ head: `${label(n)} x direct`, f: (row: Row) => (row.proxyOnly || row.lowerIsBetter ? '' : ratio(med(row, n), med(row, 'direct'))) })),
    ...(names.includes('ours') ? peers.map((p) => ({ head: `this project / ${label(p)}`, f: (row: Row) => ratio(med(row, 'ours'), med(row, p)) })) : []),
  ];
  md.push(`| metric | ${ratioCols.map((c) => c.head).join(' | ')} |`);
  md.push(`|---|${ratioCols.map(() => '---:').join('|')}|`);
  for (const row of rows) md.push(`| ${row.label} | ${ratioCols.map((c) => c.f(row)).join(' | ')} |`);
  md.push('');

  // --- targets
  if (names.includes('ours')) {
    md.push('## Targets (issue 6)');
    md.push('');
    md.push('| target | achieved | met |');
    md.push('|---|---:|:---:|');
    const R = (metric: string, labelPrefix: string): Row => rows.find((r) => r.metric === metric && r.label.startsWith(labelPrefix)) ?? ROWS.find((r) => r.metric === metric && r.label.startsWith(labelPrefix))!;
    const x = (a: number | undefined, b: number | undefined): number | undefined => (a !== undefined && b !== undefined && b !== 0 ? a / b : undefined);
    const check = (what: string, v: number | undefined, ok: (v: number) => boolean, shown: (v: number) => string): void => {
      md.push(`| ${what} | ${v === undefined || !Number.isFinite(v) ? 'n/a' : shown(v)} | ${v === undefined || !Number.isFinite(v) ? '—' : ok(v) ? 'yes' : '**no**'} |`);
    };
    const xs = (v: number): string => `${v.toFixed(2)}x`;
    const down1 = R('down1', '1-stream download');
    const down8 = R('down8', '8-stream download');
    const conn = R('conn', 'connections/s');
    const cpu = R('conn', 'proxy CPU');
    const rtt = R('rtt', '64-byte round trips');
    const rss = R('idle', 'RSS');
    const udp32 = R('udp32', 'UDP packets');
    check('1-stream download ≥ 1.25x Dante', x(med(down1, 'ours'), med(down1, 'dante')), (v) => v >= 1.25, xs);
    check('1-stream download ≥ 0.40x direct', x(med(down1, 'ours'), med(down1, 'direct')), (v) => v >= 0.4, xs);
    check('8-stream download ≥ 1.25x Dante', x(med(down8, 'ours'), med(down8, 'dante')), (v) => v >= 1.25, xs);
    check('proxy CPU per connection ≤ 0.8x microsocks', x(med(cpu, 'ours'), med(cpu, 'microsocks')), (v) => v <= 0.8, xs);
    const bestPeer = Math.max(...peers.filter((p) => p !== 'floor').map((p) => med(conn, p) ?? -Infinity));
    check('connections/s ≥ 1.1x the best peer', Number.isFinite(bestPeer) ? x(med(conn, 'ours'), bestPeer) : undefined, (v) => v >= 1.1, xs);
    check('64-byte round trips ≥ 0.55x direct', x(med(rtt, 'ours'), med(rtt, 'direct')), (v) => v >= 0.55, xs);
    check(`≤ 10 KiB RSS per idle connection (${input.idleCount.toLocaleString('en-US')} connections)`, med(rss, 'ours'), (v) => v <= 10, (v) => `${v.toFixed(1)} KiB`);
    check('UDP 32-in-flight ≥ 1.2x Dante', x(med(udp32, 'ours'), med(udp32, 'dante')), (v) => v >= 1.2, xs);
    const kb = (b: number): string => `${(b / 1000).toFixed(1)} KB`;
    check('`dist/extension.js` ≤ 150 KB minified', fig.extensionJsBytes, (v) => v <= 150_000, kb);
    check('VSIX ≤ 300 KB', fig.vsixBytes, (v) => v <= 300_000, kb);
    check('activation ≤ 20 ms', fig.activationMs, (v) => v <= 20, (v) => `${v.toFixed(1)} ms`);
    md.push('');
  }

  // --- extension
  md.push('## Extension');
  md.push('');
  md.push(`- \`dist/extension.js\` (production build): ${fig.extensionJsBytes !== undefined ? `${(fig.extensionJsBytes / 1000).toFixed(1)} KB` : fig.extensionJsNote}`);
  md.push(`- VSIX (\`npm run package\`): ${fig.vsixBytes !== undefined ? `${(fig.vsixBytes / 1000).toFixed(1)} KB` : fig.vsixNote}`);
  md.push(
    `- Activation: ${
      fig.activationMs !== undefined
        ? `${fig.activationMs.toFixed(0)} ms (median of ${fig.activationSamples?.join(', ')} ms), as VS Code reports it in Developer: Show Running Extensions (loading the code + the synchronous part of \`activate()\`), in code-server ${'4.100.3'} (VS Code 1.100) on this machine, after start-up and after each Developer: Reload Window (a new extension host). The extension activates on \`onStartupFinished\`: never during VS Code's start-up.`
        : fig.activationNote
    }`,
  );
  if (fig.activationOthers && Object.keys(fig.activationOthers).length > 0) {
    md.push(
      `- For comparison, the built-in extensions activating in the same extension host (median, same readings): ${Object.entries(fig.activationOthers)
        .sort((a, b) => b[1] - a[1])
        .map(([n, ms]) => `${n} ${ms.toFixed(0)} ms`)
        .join(', ')}.`,
    );
  }
  md.push('');

  // --- load generator
  md.push('## Is the load generator the bottleneck?');
  md.push('');
  md.push(
    'CPU used during the measuring window, in % of one core (median): the load client process / the targets process / the proxy ' +
      '(whole process tree for Dante). The machine has 2 cores; the client and the targets are processes of their own ' +
      '(`bench/load.c`, C: one epoll loop each, non-blocking sockets, one reused 1 MiB buffer). The direct column shows what the client and the targets ' +
      'reach with no proxy in between: the ceiling every proxy is measured against.',
  );
  md.push('');
  const cpuMetrics = socksMetrics.filter((m) => m.id !== 'idle');
  md.push(`| run | ${names.map(label).join(' | ')} |`);
  md.push(`|---|${names.map(() => '---:').join('|')}|`);
  for (const m of cpuMetrics) {
    const cells = names.map((n) => {
      const rs = runs[m.id]?.[n]?.filter((r) => r.ok);
      if (!rs || rs.length === 0) return na[m.id]?.[n] ?? '—';
      const p = (f: (r: Result) => number): string => `${Math.round((stat(rs.map(f))?.median ?? NaN) * 100)}`;
      return n === 'direct' ? `${p((r) => r.clientCpu)} / ${p((r) => r.targetCpu)}` : `${p((r) => r.clientCpu)} / ${p((r) => r.targetCpu)} / ${p((r) => r.proxyCpu)}`;
    });
    md.push(`| ${m.title} | ${cells.join(' | ')} |`);
  }
  md.push('');

  if (input.metrics.some((m) => HTTP_METRICS.includes(m.id))) md.push(renderHttp(input), '');

  md.push('## Reading the numbers');
  md.push('');
  md.push(
    [
      '- The machine has 2 cores, shared by the load client, the targets and the proxy. A relay copies every byte twice through the kernel (read, then write), the direct connection once each way; what decides throughput is how many bytes each system call moves. This project reads a bulk direction into a 1 MiB buffer of its own and writes it on from there (no copy, no allocation per read), so one Node thread moves more per call than Dante (processes) or microsocks (threads) do with their smaller buffers. Memory for this is capped at 64 MiB (64 bulk directions at once); other connections read into one shared 64 KiB buffer.',
      '- This project runs the whole relay on one Node thread; Dante spreads connections over several processes and microsocks over threads, so with 8 streams they can use both cores. 1-stream and per-connection figures compare like with like.',
      '- The bare Node relay is not a contender: it has no sessions, limits, timeouts, error replies, logging or live view. It marks the floor for a proxy built on Node\'s `net.Socket`: where this project\'s figure is close to it, what is left is Node\'s cost, not this project\'s.',
      '- Per connection, about half of the proxy\'s CPU is system calls that every proxy makes (accept, connect — on loopback the whole TCP handshake runs inside it —, the four small writes of greeting, reply and echo, shutdown, close: about 33 per connection, counted with `strace -c`); the other half is user space spread thinly over V8 and Node\'s `net.Socket` machinery (two sockets with their stream state and events per connection), not over this project\'s code. A 64-byte round trip is two reads and two writes in the proxy, the minimum; its time is mostly the kernel waking each process in turn. Profile with `bash bench/profile.sh conn` (or `down1`, `up1`, `rtt`, `udp32`).',
      '- Memory per idle connection includes the growth of the V8 heap while the connections were opened (the young generation grows to its maximum under the allocation burst), not just what each session keeps.',
      '- Other processes on the machine add noise; min–max shows how much. Rates vary more than CPU per connection and memory per connection.',
      '- Connections: every connection leaves sockets in TIME_WAIT for a minute; after about 130,000 of them (the kernel\'s limit here) every connect and close costs more, for every proxy alike, so later connection rounds run slower than the first. The direct baseline (20,000 connections/s) is not run for this metric, since it alone would fill that table.',
    ].join('\n'),
  );
  md.push('');
  md.push('## How it is measured');
  md.push('');
  md.push(
    [
      '- **Targets** (one process): a TCP source that writes 1 MiB chunks until the peer closes, a TCP sink, a TCP echo (listening on 127.0.0.1–127.0.0.4, to spread connection 4-tuples) and a UDP echo.',
      '- **Throughput**: 1 or 8 tunnels (SOCKS5 greeting, CONNECT, then data); download counts bytes read by the client; upload counts bytes the client\'s `write()` calls handed to the kernel in the window, after a warm-up that fills every buffer on the way.',
      '- **Connections/s**: 64 concurrent loops, each: connect, greeting, CONNECT (waiting for each reply), send 1 byte, wait for its echo, close. Proxy CPU per connection = the proxy\'s utime+stime (from `/proc/PID/stat`, children included) during the window ÷ connections completed in it. Before the rounds, every proxy gets one unmeasured run of this load: Node compiles a code path to machine code only after many passes through it, and the compiler\'s threads count as the proxy\'s CPU while it does.',
      '- **Round trips**: one tunnel to the echo, 64 bytes out, wait for the 64 bytes back, repeat; p50/p99 from every round trip in the window.',
      `- **Idle connections**: a freshly started proxy; ${input.idleCount.toLocaleString('en-US')} tunnels opened (128 at a time), each confirmed by a 1-byte echo, then held idle; growth of the proxy's RSS (sum over its processes, as \`ps\` counts it) and PSS (shared pages split) ÷ connections. Every process runs with its fd limit raised to the hard limit (\`prlimit\`, at most 65,536); where that is below 20,100 (a container without CAP_SYS_RESOURCE), the count is what fits, since the proxy holds two sockets per connection.`,
      '- **UDP**: UDP ASSOCIATE, then 64-byte datagrams (plus the 10-byte SOCKS header) through the relay to the UDP echo; 1 in flight (round trips) or 32 in flight (packets/s); a window stalled for 20 ms is refilled (counted as an error).',
      '- microsocks has no UDP ASSOCIATE ("none"). Dante runs with a config written by the benchmark: `internal: 127.0.0.1`, `external: 127.0.0.2` (loopback too: Dante binds each outbound socket before connecting, and with `external: 127.0.0.1` it ran out of ports under connection churn), no authentication, pass rules for 127.0.0.0/8 only.',
    ].join('\n'),
  );
  md.push('');
  return { markdown: md.join('\n'), svg: chart(input, rows, med) };
}

// ------------------------------------------------------------------------------ HTTP CONNECT

/**
 * The HTTP CONNECT section: this project's HTTP door beside tinyproxy and proxy-chain, with this
 * project's SOCKS5 download from the same run. Between markers, so that a run of these rows alone
 * (`--only hdown1,hconn`) replaces it in docs/benchmarks.md and leaves the rest as it was.
 */
export function renderHttp(input: Input): string {
  const { runs, contenders, na, env } = input;
  const names = contenders.filter((c) => c.name === 'direct' || c.httpConnect).map((c) => c.name);
  const label = (n: string): string => contenders.find((c) => c.name === n)?.label ?? n;
  const peers = names.filter((n) => n !== 'direct' && n !== 'ours' && n !== 'ourssocks');
  const cell = (row: Row, name: string): Stat | undefined => {
    const rs = runs[row.metric]?.[name]?.filter((r) => r.ok);
    return rs ? stat(rs.map((r) => row.get(r) ?? NaN)) : undefined;
  };
  const med = (row: Row, name: string): number | undefined => cell(row, name)?.median;
  const md: string[] = [HTTP_SECTION_START, '## HTTP CONNECT (issue 12)', ''];
  md.push(
    'The same load through HTTP CONNECT (`CONNECT 127.0.0.1:PORT HTTP/1.1`, waiting for the 200, then data) into this project\'s ' +
      'HTTP door on its one port, Debian\'s [tinyproxy](https://packages.debian.org/bookworm/tinyproxy) (C, a thread per client) and the ' +
      'npm [proxy-chain](https://www.npmjs.com/package/proxy-chain) server (Node, `http.Server` based), each with a loopback-only, ' +
      'no-authentication configuration written by the benchmark. "this project, SOCKS5 (same rows)" is the same load through this ' +
      "project's SOCKS5 door (greeting, CONNECT) on the same running server, in the same rounds: what the HTTP door is held to.",
  );
  md.push('');
  md.push(`- Command: \`${env.command}\`; ${env.date}; commit ${env.commit}; ${env.rounds} rounds${env.quick ? ' (**quick mode**: indicative only)' : ''}`);
  md.push('');
  md.push(`| metric | ${names.map(label).join(' | ')} |`);
  md.push(`|---|${names.map(() => '---:').join('|')}|`);
  for (const row of HTTP_ROWS) {
    if (!runs[row.metric]) continue;
    const cells = names.map((n) => {
      const s = cell(row, n);
      if (!s) return row.proxyOnly && n === 'direct' ? '' : na[row.metric]?.[n] ?? 'failed';
      const d = row.digits;
      return s.n > 1 ? `${fmt(s.median, d)} (${fmt(s.min, d)}–${fmt(s.max, d)})` : fmt(s.median, d);
    });
    md.push(`| ${row.label}, ${row.unit}${row.lowerIsBetter ? ' (lower is better)' : ''} | ${cells.join(' | ')} |`);
  }
  md.push('');
  const notes: string[] = [];
  for (const id of HTTP_METRICS) {
    for (const n of names) {
      const rs = runs[id]?.[n] ?? [];
      const bad = rs.filter((r) => !r.ok || r.error);
      if (bad.length > 0) notes.push(`- ${id}, ${label(n)}: ${bad.length} of ${rs.length} runs — ${bad.map((r) => r.error ?? 'failed').join('; ')}`);
    }
  }
  if (notes.length > 0) md.push('Runs with failures:', '', ...notes, '');
  if (names.includes('ours')) {
    const [down, , cpu] = HTTP_ROWS as [Row, Row, Row];
    const x = (a: number | undefined, b: number | undefined): number | undefined => (a !== undefined && b !== undefined && b !== 0 ? a / b : undefined);
    const best = (row: Row, pick: (...v: number[]) => number): number | undefined => {
      const vs = peers.map((p) => med(row, p)).filter((v): v is number => v !== undefined);
      return vs.length > 0 ? pick(...vs) : undefined;
    };
    md.push('| target | achieved | met |');
    md.push('|---|---:|:---:|');
    const check = (what: string, v: number | undefined, ok: (v: number) => boolean): void => {
      md.push(`| ${what} | ${v === undefined || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(2)}x`} | ${v === undefined || !Number.isFinite(v) ? '—' : ok(v) ? 'yes' : '**no**'} |`);
    };
    check('HTTP CONNECT 1-stream download ≥ 1.25x the faster peer', x(med(down, 'ours'), best(down, Math.max)), (v) => v >= 1.25);
    check("HTTP CONNECT 1-stream download ≥ 0.9x this project's SOCKS5 figure (same rows)", x(med(down, 'ours'), med(down, 'ourssocks')), (v) => v >= 0.9);
    check('HTTP CONNECT proxy CPU per connection ≤ 0.8x the cheaper peer', x(med(cpu, 'ours'), best(cpu, Math.min)), (v) => v <= 0.8);
    md.push('');
  }
  md.push(HTTP_SECTION_END);
  return md.join('\n');
}

/** `doc` with its HTTP CONNECT section replaced by `section` (appended when it has none). */
export function spliceHttpSection(doc: string, section: string): string {
  return spliceSection(doc, HTTP_SECTION_START, HTTP_SECTION_END, section);
}

/** `doc` with the part from `start` to `end` (markers included) replaced by `section`, or `section` appended. */
export function spliceSection(doc: string, start: string, end: string, section: string): string {
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  if (a >= 0 && b > a) return doc.slice(0, a) + section + doc.slice(b + end.length);
  return `${doc.replace(/\n*$/, '')}\n\n${section}\n`;
}

// ------------------------------------------------------------------------------ chart

const COLORS: Record<string, string> = { ours: '#2563eb', microsocks: '#ea580c', dante: '#16a34a' };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function chart(input: Input, rows: Row[], med: (row: Row, name: string) => number | undefined): string {
  const proxies = input.contenders.filter((c) => c.name !== 'direct' && c.socks5 !== false);
  const ratioRows = rows.filter((r) => !r.lowerIsBetter && !r.proxyOnly && med(r, 'direct') !== undefined);
  const costRows = rows.filter((r) => r.proxyOnly && !r.label.startsWith('PSS'));
  const W = 860;
  const labelW = 270;
  const barH = 12;
  const gap = 10;
  const groupH = proxies.length * barH + gap;
  const out: string[] = [];
  let y = 0;
  const text = (x: number, yy: number, s: string, extra = ''): void => {
    out.push(`<text x="${x}" y="${yy}" ${extra}>${esc(s)}</text>`);
  };

  y += 28;
  text(10, y, 'Ratio to direct loopback (higher is better)', 'font-weight="bold" font-size="15"');
  y += 12;
  const maxRatio = Math.max(1, ...ratioRows.flatMap((r) => proxies.map((p) => (med(r, p.name) ?? 0) / (med(r, 'direct') ?? Infinity))));
  const scale = (W - labelW - 80) / maxRatio;
  const top1 = y;
  for (const row of ratioRows) {
    text(10, y + (proxies.length * barH) / 2 + 4, row.label);
    proxies.forEach((p, i) => {
      const v = med(row, p.name);
      const d = med(row, 'direct');
      const yy = y + i * barH;
      if (v === undefined || d === undefined || d === 0) {
        const why = input.na[row.metric]?.[p.name] ?? 'n/a';
        text(labelW + 4, yy + barH - 2, why, `font-size="10" fill="${COLORS[p.name] ?? '#555'}"`);
        return;
      }
      const r = v / d;
      out.push(`<rect x="${labelW}" y="${yy}" width="${Math.max(1, r * scale).toFixed(1)}" height="${barH - 2}" fill="${COLORS[p.name] ?? '#888'}"/>`);
      text(labelW + r * scale + 4, yy + barH - 2, `${r.toFixed(2)}x`, 'font-size="10"');
    });
    y += groupH;
  }
  // 1.0 and 0.5 guide lines
  for (const g of [0.5, 1]) {
    const x = labelW + g * scale;
    out.push(`<line x1="${x}" y1="${top1 - 4}" x2="${x}" y2="${y - gap + 2}" stroke="#999" stroke-dasharray="3,3"/>`);
    text(x - 8, y + 6, `${g}x`, 'font-size="10" fill="#666"');
  }
  y += 30;
  text(10, y, 'Cost per connection (lower is better)', 'font-weight="bold" font-size="15"');
  y += 12;
  for (const row of costRows) {
    const vals = proxies.map((p) => med(row, p.name));
    const max = Math.max(...vals.map((v) => v ?? 0), 1e-9);
    const sc = (W - labelW - 110) / max;
    text(10, y + (proxies.length * barH) / 2 + 4, `${row.label}, ${row.unit}`);
    proxies.forEach((p, i) => {
      const v = vals[i];
      const yy = y + i * barH;
      if (v === undefined) {
        text(labelW + 4, yy + barH - 2, 'n/a', 'font-size="10"');
        return;
      }
      out.push(`<rect x="${labelW}" y="${yy}" width="${Math.max(1, v * sc).toFixed(1)}" height="${barH - 2}" fill="${COLORS[p.name] ?? '#888'}"/>`);
      text(labelW + v * sc + 4, yy + barH - 2, `${fmt(v, row.digits)} ${row.unit}`, 'font-size="10"');
    });
    y += groupH;
  }
  y += 14;
  let lx = 10;
  for (const p of proxies) {
    out.push(`<rect x="${lx}" y="${y - 10}" width="12" height="12" fill="${COLORS[p.name] ?? '#888'}"/>`);
    text(lx + 16, y, p.label);
    lx += 30 + p.label.length * 7;
  }
  y += 14;
  text(10, y + 4, `${input.env.cpu}; Node ${input.env.node}; ${input.env.date}${input.env.quick ? ' (quick mode)' : ''}`, 'font-size="10" fill="#666"');
  y += 12;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="sans-serif" font-size="12">\n` +
    `<rect width="100%" height="100%" fill="#fff"/>\n${out.join('\n')}\n</svg>\n`
  );
}
