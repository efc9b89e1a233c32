// Headless CLI: the same engine as the extension, from a terminal.
//   node dist/cli.js [--host 127.0.0.1] [--port 1080] [--user NAME --password PASS]...
//
// To add an option: one entry in OPTIONS (its help text is generated from it), then read it in
// serverOptions() below.

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import {
  compileRules,
  DEFAULT_OPTIONS,
  compileUpstream,
  listenVerdict,
  requestName,
  PROTOCOL_NAMES,
  Socks5Server,
  StartError,
  formatHostPort,
  type ClosedConnectionInfo,
  type Logger,
  type RulesOptions,
  type ServerOptions,
  summaryLine,
  tableText,
  TrafficTracker,
} from './engine';

declare const __VERSION__: string | undefined;
/** The command's name: package.json's `bin` name, set by esbuild.mjs. */
declare const __CLI_NAME__: string | undefined;

const NAME = typeof __CLI_NAME__ === 'string' ? __CLI_NAME__ : 'cli';
const T = DEFAULT_OPTIONS.timeouts;
const s = (ms: number): number => ms / 1000;

interface Option {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** The value's placeholder in the help (string options). */
  arg?: string;
  help: string;
}

/** Every option, in help order. Keys are the long names. */
const OPTIONS = {
  host: { type: 'string', arg: 'HOST', help: `IP address to listen on (default ${DEFAULT_OPTIONS.host})` },
  port: { type: 'string', arg: 'PORT', help: `port to listen on, 0 = any free port (default ${DEFAULT_OPTIONS.port})` },
  user: { type: 'string', multiple: true, arg: 'NAME', help: 'require username/password auth; repeat for more users' },
  password: { type: 'string', multiple: true, arg: 'PASS', help: 'password for the preceding --user (or set SOCKS5_PASSWORD)' },
  'no-connect': { type: 'boolean', help: 'disable CONNECT' },
  'no-bind': { type: 'boolean', help: 'disable BIND' },
  'no-udp': { type: 'boolean', help: 'disable UDP ASSOCIATE' },
  'no-socks5': { type: 'boolean', help: 'do not serve SOCKS5 on the port' },
  'no-socks4': { type: 'boolean', help: 'do not serve SOCKS4/4a (refused anyway while any --user is set)' },
  'no-http': { type: 'boolean', help: 'do not serve the HTTP proxy, PAC file and status page' },
  'handshake-timeout': { type: 'string', arg: 'S', help: `seconds for greeting + auth + request, 0 = no limit (default ${s(T.handshakeMs)})` },
  'connect-timeout': { type: 'string', arg: 'S', help: `seconds for an outbound connect, 0 = no limit (default ${s(T.connectMs)})` },
  'idle-timeout': { type: 'string', arg: 'S', help: `close after S seconds without traffic, 0 = never (default ${s(T.idleMs)})` },
  'bind-timeout': { type: 'string', arg: 'S', help: `seconds a BIND waits for its peer, 0 = no limit (default ${s(T.bindMs)})` },
  'max-connections': { type: 'string', arg: 'N', help: `concurrent sessions (default ${DEFAULT_OPTIONS.maxConnections})` },
  'max-pending-binds': { type: 'string', arg: 'N', help: 'BINDs waiting for their peer at once (default max-connections / 4)' },
  'max-udp-associations': { type: 'string', arg: 'N', help: 'UDP associations at once (default max-connections / 4)' },
  'max-handshakes': {
    type: 'string',
    arg: 'N',
    help: 'connections still in their handshake at once; under load the oldest are cut (default max-connections / 2)',
  },
  'allow-unauthenticated-remote': { type: 'boolean', help: 'allow a non-loopback host without any --user' },
  'allow-client': { type: 'string', multiple: true, arg: 'CIDR', help: 'only clients from this IP or CIDR range may connect; repeatable' },
  allow: { type: 'string', multiple: true, arg: 'PATTERN', help: 'allow destinations matching PATTERN; repeatable' },
  deny: { type: 'string', multiple: true, arg: 'PATTERN', help: 'deny destinations matching PATTERN; repeatable (see Rules below)' },
  'block-private': { type: 'boolean', help: "deny private, loopback, link-local and this machine's own addresses" },
  upstream: {
    type: 'string',
    arg: 'URL',
    help: 'send outbound traffic through this proxy: socks5://[user@]host:port, socks5h://… (it resolves names) or http://… (CONNECT only); its password in SOCKS5_UPSTREAM_PASSWORD',
  },
  'upstream-bypass': { type: 'string', multiple: true, arg: 'PATTERN', help: 'destinations that go direct, e.g. .corp.example, 10.0.0.0/8, host:443 (repeatable)' },
  'stats-interval': { type: 'string', arg: 'S', help: 'print a traffic summary line to stderr every S seconds' },
  verbose: { type: 'boolean', short: 'v', help: 'log every step of every connection (debug)' },
  quiet: { type: 'boolean', short: 'q', help: 'log warnings and errors only (no line per connection)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
  version: { type: 'boolean', help: 'print the version' },
} as const satisfies Record<string, Option>;

function helpText(): string {
  const rows = Object.entries(OPTIONS as Record<string, Option>).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.arg ? ` ${o.arg}` : ''}`;
    return flag.length <= 21 ? `  ${flag.padEnd(21)}  ${o.help}` : `  ${flag}\n  ${''.padEnd(21)}  ${o.help}`;
  });
  return `Usage: ${NAME} [options]

Runs a SOCKS5 proxy (RFC 1928 CONNECT, BIND, UDP ASSOCIATE; RFC 1929 username/password), with an
HTTP proxy and SOCKS4/4a on the same port.

Options:
${rows.join('\n')}

Rules: --allow and --deny are checked in the order given, the first match wins; no match: allowed.
  PATTERN is HOST[:PORTS] [user:NAME]: *, example.com, *.example.com (names below it),
  .example.com (it and below), 10.0.0.0/8, [fd00::/8]:443, *:8000-8999, '* user:guest'.
  A name is checked as asked and on every address it resolves to (denied if any is).
  --block-private is checked before them (use it when the proxy is reachable from the network).

Prints one line to stdout once listening: "SOCKS5 proxy listening on HOST:PORT".
Logs go to stderr: one line per connection as it closes (client, destination, bytes, outcome).
SIGINT/SIGTERM stop the proxy and exit 0. SIGUSR1 prints the traffic per destination (and per
user, with auth) since the start to stderr.`;
}

/** One line on stderr (whatever the message holds, e.g. a user name with a newline), then exit. */
function fail(message: string, code = 2): never {
  process.stderr.write(`${NAME}: ${message.replace(/\s*[\r\n]+\s*/g, ' ')}\n`);
  process.exit(code);
}

/**
 * `--port -1` as `--port=-1`: parseArgs takes a value starting with `-` only in that form (else
 * "ambiguous argument"), and a negative number deserves the option's own range message.
 */
function joinNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    const opt = name !== undefined ? (OPTIONS as Record<string, Option>)[name] : undefined;
    const next = argv[i + 1];
    if (opt?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else if (a === '--') {
      out.push(...argv.slice(i));
      break;
    } else {
      out.push(a);
    }
  }
  return out;
}

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  try {
    return parseArgs({ args: joinNegativeValues(argv), strict: true, allowPositionals: false, tokens: true, options: OPTIONS });
  } catch (err) {
    fail(`${(err as Error).message} (try --help)`);
  }
}

function seconds(name: keyof typeof OPTIONS, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) fail(`--${name} must be a number of seconds ≥ 0 (0 = no limit), got "${v}"`);
  return Math.round(n * 1000);
}

function count(name: keyof typeof OPTIONS, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 1) fail(`--${name} must be a whole number ≥ 1, got "${v}"`);
  return n;
}

/** --stats-interval in ms (0: no summary lines). */
function statsInterval(v: string | undefined): number {
  if (v === undefined) return 0;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 86_400) fail(`--stats-interval must be a number of seconds > 0, got "${v}"`);
  return Math.max(100, Math.round(n * 1000));
}

/**
 * Traffic figures: a summary line every `everyMs` (if > 0) and the tables on SIGUSR1. The tracker
 * follows the server's 'close' events and reads the sessions' counters only when it prints.
 */
function trafficReports(server: Socks5Server, everyMs: number): { started(): void; stop(): void } {
  const traffic = new TrafficTracker();
  traffic.attach(server);
  const write = (text: string): void => {
    const at = new Date().toISOString();
    process.stderr.write(text.split('\n').map((l) => `${at} stats ${l}\n`).join(''));
  };
  const tables = (): void => {
    traffic.tick({ record: false });
    const since = new Date(traffic.since).toISOString();
    const dest = traffic.destinations.top(50);
    write(dest.length > 0 ? tableText(`traffic by destination since ${since}:`, dest, 'destination') : `traffic by destination since ${since}: none yet`);
    const byUser = traffic.users.top(50);
    if (byUser.length > 0) write(tableText(`traffic by user since ${since}:`, byUser, 'user'));
  };
  // A SIGUSR1 listener also keeps Node from opening its inspector on that signal.
  if (process.platform !== 'win32') process.on('SIGUSR1', tables);
  let timer: NodeJS.Timeout | undefined;
  return {
    started() {
      traffic.tick();
      if (everyMs > 0) timer = setInterval(() => write(summaryLine(traffic.tick(), traffic.totals(), traffic.counts())), everyMs);
    },
    stop() {
      clearInterval(timer);
    },
  };
}

function port(v: string | undefined): number {
  if (v === undefined) return DEFAULT_OPTIONS.port;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) fail(`--port must be 0..65535, got "${v}"`);
  return n;
}

/** An IP address, or a name this machine resolves (e.g. localhost); brackets as in `[::1]` are dropped. */
async function host(v: string | undefined): Promise<string> {
  if (v === undefined) return DEFAULT_OPTIONS.host;
  const h = v.trim().replace(/^\[(.*)\]$/, '$1');
  if (isIP(h) !== 0) return h;
  const resolves = h.length > 0 && !/^[\d.]+$/.test(h) && (await lookup(h).then(() => true, () => false));
  if (!resolves) fail(`invalid host "${v}": give an IP address to listen on, e.g. 127.0.0.1, ::1, or 0.0.0.0 / :: for every interface`);
  return h;
}

/** Each --user paired with the --password that follows it (or SOCKS5_PASSWORD). */
function users(tokens: ReturnType<typeof parse>['tokens']): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  const add = (name: string, password: string | undefined): void => {
    const pw = password ?? process.env.SOCKS5_PASSWORD;
    if (name.length < 1 || Buffer.byteLength(name) > 255) fail(`user name "${name}" must be 1-255 bytes`);
    if (out.has(name)) fail(`user "${name}" is given twice (one --user per name)`);
    if (!pw) fail(`no password for user "${name}": give --password after --user, or set SOCKS5_PASSWORD`);
    if (Buffer.byteLength(pw) > 255) fail(`password for "${name}" is longer than 255 bytes (RFC 1929)`);
    out.set(name, pw);
  };
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    if (t.name === 'user') {
      if (current !== undefined) add(current, undefined);
      current = t.value!;
    } else if (t.name === 'password') {
      if (current === undefined) fail('--password must follow a --user');
      add(current, t.value);
      current = undefined;
    }
  }
  if (current !== undefined) add(current, undefined);
  return out;
}

/** --allow-client, --allow/--deny (in the order given, across both flags: first match wins), --block-private. */
function rules(v: Values, tokens: ReturnType<typeof parse>['tokens']): RulesOptions {
  const destinations: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'option' && (t.name === 'allow' || t.name === 'deny')) destinations.push(`${t.name} ${t.value}`);
  }
  const r: RulesOptions = { clients: v['allow-client'] ?? [], destinations, blockPrivate: v['block-private'] === true };
  const compiled = compileRules(r);
  // `rule 3: …` counts --allow and --deny together; `client 2: …` counts --allow-client.
  if (!compiled.ok) fail(compiled.errors.join('; '));
  return r;
}

/** 0 debug, 1 info (default), 2 warnings and errors. */
function level(v: Values): number {
  if (v.verbose && v.quiet) fail('--verbose and --quiet cannot be used together');
  return v.verbose ? 0 : v.quiet ? 2 : 1;
}

/**
 * The engine's lines the CLI writes itself: its close lines (closeLine() below names the
 * destination too, and ends in a duration) and, when stdout and stderr are the same terminal, its
 * listening line (already on stdout).
 */
const ENGINE_CLOSE_LINE = new RegExp(`^#\\d+ \\S+ (?:(?:${Object.values(PROTOCOL_NAMES).join('|')}) )?closed: .* \\(↑\\d+ B ↓\\d+ B\\)$`);
const ENGINE_LISTENING_LINE = /^SOCKS5 proxy listening on /;

function makeLogger(lvl: number): Logger {
  const sameTerminal = process.stdout.isTTY && process.stderr.isTTY;
  const out = (l: number, tag: string) => (msg: string) => {
    if (l < lvl || ENGINE_CLOSE_LINE.test(msg) || (sameTerminal && ENGINE_LISTENING_LINE.test(msg))) return;
    process.stderr.write(`${new Date().toISOString()} ${tag} ${msg}\n`);
  };
  return { debugEnabled: lvl === 0, debug: out(0, 'debug'), info: out(1, 'info '), warn: out(2, 'warn '), error: out(3, 'error') };
}

/** `#3 127.0.0.1:50412 SOCKS5 CONNECT example.com:443 closed: closed by client (↑517 B ↓48213 B, 2.4 s)` */
function closeLine(c: ClosedConnectionInfo): string {
  const what = [
    c.user !== undefined ? `user "${c.user}"` : undefined,
    c.protocol ? PROTOCOL_NAMES[c.protocol] : undefined,
    requestName(c),
    c.destination ? formatHostPort(c.destination.host, c.destination.port) : undefined,
  ].filter((x) => x !== undefined);
  if (c.route !== undefined) what.push(c.route === 'direct' ? 'direct' : `via ${c.route}`);
  const secs = ((c.endedAt - c.startedAt) / 1000).toFixed(1);
  return `#${c.id} ${formatHostPort(c.client.host, c.client.port)}${what.length ? ` ${what.join(' ')}` : ''} closed: ${c.outcome.message} (↑${c.bytesUp} B ↓${c.bytesDown} B, ${secs} s)`;
}

async function serverOptions(v: Values, tokens: ReturnType<typeof parse>['tokens'], logger: Logger): Promise<Partial<ServerOptions>> {
  const listenPort = port(v.port);
  const listenHost = await host(v.host);
  const userMap = users(tokens);
  if (listenVerdict(listenHost, userMap.size, v['allow-unauthenticated-remote'] === true) === 'refused') {
    fail(
      `refusing to listen on ${listenHost} without authentication: anyone who can reach it could use this machine's network; ` +
        'add --user NAME --password PASS, or pass --allow-unauthenticated-remote',
    );
  }
  const timeouts = {
    handshakeMs: seconds('handshake-timeout', v['handshake-timeout']),
    connectMs: seconds('connect-timeout', v['connect-timeout']),
    idleMs: seconds('idle-timeout', v['idle-timeout']),
    bindMs: seconds('bind-timeout', v['bind-timeout']),
  };
  const caps = {
    maxConnections: count('max-connections', v['max-connections']),
    maxPendingBinds: count('max-pending-binds', v['max-pending-binds']),
    maxUdpAssociations: count('max-udp-associations', v['max-udp-associations']),
    maxHandshakes: count('max-handshakes', v['max-handshakes']),
  };
  return {
    host: listenHost,
    port: listenPort,
    users: userMap,
    ...upstream(v),
    logger,
    commands: { connect: !v['no-connect'], bind: !v['no-bind'], udpAssociate: !v['no-udp'] },
    protocols: { socks5: !v['no-socks5'], socks4: !v['no-socks4'], http: !v['no-http'] },
    rules: rules(v, tokens),
    timeouts: defined(timeouts),
    ...defined(caps),
  };
}

/** --upstream (its password from SOCKS5_UPSTREAM_PASSWORD) and --upstream-bypass, checked as the engine checks them. */
function upstream(v: Values): Pick<ServerOptions, 'upstream'> {
  const bypass = v['upstream-bypass'] ?? [];
  if (v.upstream === undefined) {
    if (bypass.length > 0) fail('--upstream-bypass needs --upstream');
    return {};
  }
  const password = process.env.SOCKS5_UPSTREAM_PASSWORD;
  const options = { url: v.upstream, bypass, ...(password ? { password } : {}) };
  const r = compileUpstream(options);
  if (!r.ok) fail(`--upstream: ${r.errors.join('; ')}`);
  return { upstream: options };
}

/** `o` without its undefined entries (the engine's defaults apply to those). */
function defined<O extends object>(o: O): { [K in keyof O]: Exclude<O[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as { [K in keyof O]: Exclude<O[K], undefined> };
}

async function main(): Promise<void> {
  const { values: v, tokens } = parse(process.argv.slice(2));
  if (v.help) {
    process.stdout.write(helpText() + '\n');
    return;
  }
  if (v.version) {
    process.stdout.write(`${typeof __VERSION__ === 'string' ? __VERSION__ : 'dev'}\n`);
    return;
  }
  const lvl = level(v);
  const logger = makeLogger(lvl);
  const options = await serverOptions(v, tokens, logger);
  const statsMs = statsInterval(v['stats-interval']);
  const server = new Socks5Server(options);
  const stats = trafficReports(server, statsMs);
  // Through server.logger: it escapes what a client chose (a user name, a domain name).
  // Handshakes cut under load are logged by the engine in summary, not one line each.
  if (lvl <= 1) server.on('close', (c) => c.outcome.shed || server.logger.info(closeLine(c)));
  if (listenVerdict(options.host!, options.users!.size, true) === 'open') {
    logger.warn(`listening on ${options.host} WITHOUT authentication (--allow-unauthenticated-remote)`);
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    stats.stop();
    logger.info(`${signal}: stopping`);
    const force = setTimeout(() => process.exit(0), 3000);
    force.unref();
    server.stop().then(() => process.exit(0), () => process.exit(0));
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  try {
    const addr = await server.start();
    process.stdout.write(`SOCKS5 proxy listening on ${formatHostPort(addr.host, addr.port)}\n`);
    stats.started();
  } catch (err) {
    fail(err instanceof StartError ? err.message : String(err), 1);
  }
}

void main();
