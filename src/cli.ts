// Headless CLI: the same engine as the extension, from a terminal.
//   node dist/cli.js [--host 127.0.0.1] [--port 1080] [--user NAME --password PASS]...

import { parseArgs } from 'node:util';
import { isLoopbackHost as isLoopback, Socks5Server, StartError, formatHostPort, type Logger } from './engine';

declare const __VERSION__: string | undefined;

const HELP = `Usage: socks5-proxy [options]

Runs a SOCKS5 proxy (RFC 1928 CONNECT, BIND, UDP ASSOCIATE; RFC 1929 username/password).

Options:
  --host HOST            address to listen on (default 127.0.0.1)
  --port PORT            port to listen on, 0 = any free port (default 1080)
  --user NAME            require username/password auth; repeat for more users
  --password PASS        password for the preceding --user (or set SOCKS5_PASSWORD)
  --no-connect           disable CONNECT
  --no-bind              disable BIND
  --no-udp               disable UDP ASSOCIATE
  --handshake-timeout S  seconds for greeting + auth + request (default 10)
  --connect-timeout S    seconds for an outbound connect (default 10)
  --idle-timeout S       close after S seconds without traffic (default 0 = off)
  --bind-timeout S       seconds a BIND waits for its peer (default 60)
  --max-connections N    concurrent sessions (default 1024)
  --max-pending-binds N  BINDs waiting for their peer at once (default max-connections / 4)
  --max-udp-associations N
                         UDP associations at once (default max-connections / 4)
  --allow-unauthenticated-remote
                         allow a non-loopback host without any --user
  -v, --verbose          log every connection (debug)
  -q, --quiet            log warnings and errors only
  -h, --help             show this help
  --version              print the version

Prints one line to stdout once listening: "SOCKS5 proxy listening on HOST:PORT".
Logs go to stderr. SIGINT/SIGTERM stop the proxy and exit 0.`;

/** One line on stderr (whatever the message holds, e.g. a user name with a newline), then exit. */
function fail(message: string, code = 2): never {
  process.stderr.write(`socks5-proxy: ${message.replace(/\s*[\r\n]+\s*/g, ' ')}\n`);
  process.exit(code);
}

function seconds(name: string, v: string | undefined, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) fail(`--${name} must be a number of seconds ≥ 0, got "${v}"`);
  return Math.round(n * 1000);
}

function main(): void {
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(2),
      strict: true,
      allowPositionals: false,
      tokens: true,
      options: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '1080' },
        user: { type: 'string', multiple: true },
        password: { type: 'string', multiple: true },
        'no-connect': { type: 'boolean' },
        'no-bind': { type: 'boolean' },
        'no-udp': { type: 'boolean' },
        'handshake-timeout': { type: 'string' },
        'connect-timeout': { type: 'string' },
        'idle-timeout': { type: 'string' },
        'bind-timeout': { type: 'string' },
        'max-connections': { type: 'string' },
        'max-pending-binds': { type: 'string' },
        'max-udp-associations': { type: 'string' },
        'allow-unauthenticated-remote': { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (err) {
    fail(`${(err as Error).message} (try --help)`);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(HELP + '\n');
    return;
  }
  if (v.version) {
    process.stdout.write(`${typeof __VERSION__ === 'string' ? __VERSION__ : 'dev'}\n`);
    return;
  }

  const port = Number(v.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be an integer 0-65535, got "${v.port}"`);
  const host = v.host!.trim().replace(/^\[(.*)\]$/, '$1'); // `[::1]` as in a URL: the same address the policy check sees
  if (host.length === 0) fail('--host must not be empty');

  // Pair each --user with the --password that follows it (or SOCKS5_PASSWORD).
  const users = new Map<string, string>();
  let current: string | undefined;
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option') continue;
    if (t.name === 'user') {
      if (current !== undefined) setUser(current, undefined);
      current = t.value!;
    } else if (t.name === 'password') {
      if (current === undefined) fail('--password must follow a --user');
      setUser(current, t.value!);
      current = undefined;
    }
  }
  if (current !== undefined) setUser(current, undefined);
  function setUser(name: string, password: string | undefined): void {
    const pw = password ?? process.env.SOCKS5_PASSWORD;
    if (name.length < 1 || Buffer.byteLength(name) > 255) fail(`user name "${name}" must be 1-255 bytes`);
    if (!pw) fail(`no password for user "${name}": give --password after --user, or set SOCKS5_PASSWORD`);
    if (Buffer.byteLength(pw) > 255) fail(`password for "${name}" is longer than 255 bytes (RFC 1929)`);
    users.set(name, pw);
  }

  if (!isLoopback(host) && users.size === 0 && !v['allow-unauthenticated-remote']) {
    fail(
      `refusing to listen on ${host} without authentication: anyone who can reach it could use this machine's network; ` +
        'add --user NAME --password PASS, or pass --allow-unauthenticated-remote',
    );
  }

  const maxConnections = v['max-connections'] === undefined ? 1024 : Number(v['max-connections']);
  if (!Number.isInteger(maxConnections) || maxConnections < 1) fail('--max-connections must be an integer ≥ 1');
  const cap = (name: 'max-pending-binds' | 'max-udp-associations'): number | undefined => {
    if (v[name] === undefined) return undefined;
    const n = Number(v[name]);
    if (!Number.isInteger(n) || n < 1) fail(`--${name} must be an integer ≥ 1`);
    return n;
  };
  const maxPendingBinds = cap('max-pending-binds');
  const maxUdpAssociations = cap('max-udp-associations');

  const level = v.verbose ? 0 : v.quiet ? 2 : 1;
  const out = (lvl: number, tag: string) => (msg: string) => {
    if (lvl >= level) process.stderr.write(`${new Date().toISOString()} ${tag} ${msg}\n`);
  };
  const logger: Logger = { debugEnabled: level === 0, debug: out(0, 'debug'), info: out(1, 'info '), warn: out(2, 'warn '), error: out(3, 'error') };

  const server = new Socks5Server({
    host,
    port,
    users,
    maxConnections,
    ...(maxPendingBinds !== undefined ? { maxPendingBinds } : {}),
    ...(maxUdpAssociations !== undefined ? { maxUdpAssociations } : {}),
    logger,
    commands: { connect: !v['no-connect'], bind: !v['no-bind'], udpAssociate: !v['no-udp'] },
    timeouts: {
      handshakeMs: seconds('handshake-timeout', v['handshake-timeout'], 10_000),
      connectMs: seconds('connect-timeout', v['connect-timeout'], 10_000),
      idleMs: seconds('idle-timeout', v['idle-timeout'], 0),
      bindMs: seconds('bind-timeout', v['bind-timeout'], 60_000),
    },
  });

  if (!isLoopback(host) && users.size === 0) {
    logger.warn(`listening on ${host} WITHOUT authentication (--allow-unauthenticated-remote)`);
  }

  server.start().then(
    (addr) => {
      process.stdout.write(`SOCKS5 proxy listening on ${formatHostPort(addr.host, addr.port)}\n`);
    },
    (err: unknown) => {
      fail(err instanceof StartError ? err.message : String(err), 1);
    },
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: stopping`);
    const force = setTimeout(() => process.exit(0), 3000);
    force.unref();
    server.stop().then(() => process.exit(0), () => process.exit(0));
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main();
