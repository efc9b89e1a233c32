// Real peer servers from Debian, started on loopback with a temp config and stopped by PID:
// Dante (danted) as a SOCKS5 server with or without username auth, tinyproxy and squid as HTTP
// proxies. Used by the tests (upstream proxies) and by the benchmark (bench/servers.ts: Dante as a
// contender). Nothing here uses a package's system service or its /etc config.
//
// Dante's `socksmethod: username` checks the system's password database: withSystemUser() creates
// a throwaway user (no home, no shell) for one test file and removes it after; users left behind
// by a run that was killed are removed by the next one (their name carries the dead PID).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PeerProcess {
  host: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** Its log so far (for failure messages). */
  log(): string;
  /** SIGTERM (SIGKILL after a grace period) to this PID; resolves once it exited. Idempotent. */
  stop(): Promise<void>;
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Until something accepts on `port` (bounded by `ms`), failing early when `child` exits. */
export async function waitForPort(port: number, child: ChildProcess, ms: number, host = '127.0.0.1'): Promise<void> {
  const until = Date.now() + ms;
  for (let i = 0; i < 1000 && Date.now() < until; i++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${child.exitCode ?? child.signalCode}) before opening port ${port}`);
    const ok = await new Promise<boolean>((r) => {
      const s = connect({ host, port }, () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not open within ${ms} ms`);
}

/** SIGTERM, then SIGKILL after a grace period; resolves once the process has exited. */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const SETUP_HINT = 'run test/e2e/setup.sh as root, which installs it';

// ------------------------------------------------------------------------------------------- Dante

export const DANTED = existsSync('/usr/sbin/danted') ? '/usr/sbin/danted' : 'danted';
export const hasDante = (): boolean => existsSync('/usr/sbin/danted') || has('danted');

export interface DanteConfig {
  port: number;
  logFile: string;
  /**
   * The address Dante binds its outbound sockets to (and BIND listeners on). The benchmark gives it
   * 127.0.0.2: its connection-rate runs leave TIME_WAIT sockets on 127.0.0.1 holding the ports
   * Dante would bind.
   */
  external?: string;
  /** `username`: RFC 1929 against the system's users (see withSystemUser). Default none. */
  socksmethod?: 'none' | 'username';
  /** Who wrote it, for the config's first line. */
  writer: string;
  /** Log each connection and its end (the tests read them; the benchmark does not pay for them). */
  logConnections?: boolean;
}

/** A loopback-only danted.conf: clients and destinations in 127.0.0.0/8, every command. */
export function danteConfig(c: DanteConfig): string {
  return [
    `# Written by ${c.writer}: loopback only.`,
    `logoutput: ${c.logFile}`,
    `internal: 127.0.0.1 port = ${c.port}`,
    `external: ${c.external ?? '127.0.0.1'}`,
    'clientmethod: none',
    `socksmethod: ${c.socksmethod ?? 'none'}`,
    // root: to read the shadow database for `username`; it drops to nobody for everything else.
    'user.privileged: root',
    'user.unprivileged: nobody',
    'client pass { from: 127.0.0.0/8 to: 127.0.0.0/8 }',
    // The same rule covers BIND replies and UDP replies: their peers are on loopback too.
    `socks pass { from: 127.0.0.0/8 to: 127.0.0.0/8${c.logConnections ? ' log: connect disconnect error' : ''} }`,
    '',
  ].join('\n');
}

export interface StartDanteOptions {
  dir?: string;
  port?: number;
  external?: string;
  socksmethod?: 'none' | 'username';
  writer?: string;
  /** Default true: connections in the log (see DanteConfig). */
  logConnections?: boolean;
  /** Default: danted.log in `dir`. */
  logFile?: string;
  /** Wraps the command (the benchmark raises the fd limit with prlimit). */
  wrap?: (cmd: string, args: string[]) => [string, string[]];
}

export async function startDante(o: StartDanteOptions = {}): Promise<PeerProcess> {
  if (!hasDante()) throw new Error(`danted is not installed (Debian dante-server): ${SETUP_HINT}`);
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'dante-'));
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o1777); // danted's unprivileged user keeps lock files here (TMPDIR)
  const port = o.port ?? (await freePort());
  const logFile = o.logFile ?? join(dir, 'danted.log');
  const conf = join(dir, 'danted.conf');
  const config: DanteConfig = { port, logFile, writer: o.writer ?? 'test/support/peers.ts', socksmethod: o.socksmethod ?? 'none', logConnections: o.logConnections ?? true };
  if (o.external) config.external = o.external;
  writeFileSync(conf, danteConfig(config));
  const args = ['-f', conf, '-p', join(dir, 'danted.pid')];
  const [cmd, argv] = o.wrap ? o.wrap(DANTED, args) : [DANTED, args];
  return startPeer('danted', cmd, argv, port, logFile, { env: { ...process.env, TMPDIR: dir }, graceMs: 5000, startMs: 10_000, cleanup: o.dir ? undefined : dir });
}

// --------------------------------------------------------------------------------------- tinyproxy

export const hasTinyproxy = (): boolean => has('tinyproxy');

export interface StartTinyproxyOptions {
  /** It then requires that user (407 otherwise). */
  basicAuth?: { user: string; password: string };
  dir?: string;
  /** Default 64. The benchmark's 64 concurrent connection loops overlap: it raises this. */
  maxClients?: number;
  /** Default Info (the tests read it); the benchmark logs warnings only. */
  logLevel?: 'Info' | 'Warning';
  /** Default: tinyproxy.log in `dir`. */
  logFile?: string;
  writer?: string;
  wrap?: (cmd: string, args: string[]) => [string, string[]];
}

/** tinyproxy on loopback, every CONNECT port allowed (no ConnectPort line). */
export async function startTinyproxy(o: StartTinyproxyOptions = {}): Promise<PeerProcess> {
  if (!hasTinyproxy()) throw new Error(`tinyproxy is not installed: ${SETUP_HINT}`);
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'tinyproxy-'));
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o1777);
  const port = await freePort();
  const logFile = o.logFile ?? join(dir, 'tinyproxy.log');
  const conf = join(dir, 'tinyproxy.conf');
  writeFileSync(
    conf,
    [
      `# Written by ${o.writer ?? 'test/support/peers.ts'}: loopback only. No ConnectPort line: CONNECT to any port.`,
      `Port ${port}`,
      'Listen 127.0.0.1',
      'Timeout 600',
      `MaxClients ${o.maxClients ?? 64}`,
      'Allow 127.0.0.1',
      `LogFile "${logFile}"`,
      `LogLevel ${o.logLevel ?? 'Info'}`,
      `PidFile "${join(dir, 'tinyproxy.pid')}"`,
      'User nobody',
      'Group nogroup',
      'DisableViaHeader Yes',
      ...(o.basicAuth ? [`BasicAuth ${o.basicAuth.user} ${o.basicAuth.password}`] : []),
      '',
    ].join('\n'),
  );
  const args = ['-d', '-c', conf];
  const [cmd, argv] = o.wrap ? o.wrap('tinyproxy', args) : ['tinyproxy', args];
  return startPeer('tinyproxy', cmd, argv, port, logFile, { cleanup: o.dir ? undefined : dir, graceMs: 5000 });
}

// ------------------------------------------------------------------------------------------- squid

export const SQUID = existsSync('/usr/sbin/squid') ? '/usr/sbin/squid' : 'squid';
export const hasSquid = (): boolean => existsSync('/usr/sbin/squid') || has('squid');

/** squid on loopback, no cache, CONNECT to any port from 127.0.0.1. */
export async function startSquid(): Promise<PeerProcess> {
  if (!hasSquid()) throw new Error(`squid is not installed: ${SETUP_HINT}`);
  const dir = mkdtempSync(join(tmpdir(), 'squid-'));
  chmodSync(dir, 0o1777);
  const port = await freePort();
  const logFile = join(dir, 'cache.log');
  const conf = join(dir, 'squid.conf');
  writeFileSync(
    conf,
    [
      '# Written by test/support/peers.ts: loopback only, no cache.',
      `http_port 127.0.0.1:${port}`,
      'acl local src 127.0.0.1/32',
      'http_access allow local',
      'http_access deny all',
      'cache deny all',
      'cache_mem 8 MB',
      'visible_hostname localhost',
      `pid_filename ${join(dir, 'squid.pid')}`,
      `access_log stdio:${join(dir, 'access.log')}`,
      `cache_log ${logFile}`,
      `coredump_dir ${dir}`,
      'cache_effective_user proxy',
      'shutdown_lifetime 0 seconds',
      'dns_v4_first on',
      '',
    ].join('\n'),
  );
  // -N: no daemon (so the PID is squid's), -d 1: errors to stderr too.
  return startPeer('squid', SQUID, ['-N', '-d', '1', '-f', conf], port, logFile, { startMs: 20_000, cleanup: dir });
}

// ---------------------------------------------------------------------------- this project's CLI

/** dist/cli.js (built by `npm run build`). */
export const CLI = join(__dirname, '..', '..', 'dist', 'cli.js');

/** This project's CLI on loopback (`--host 127.0.0.1` unless given): its port from the listening line. */
export async function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<PeerProcess> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build`);
  const argv = args.includes('--host') ? args : ['--host', '127.0.0.1', ...args];
  const child = spawn(process.execPath, [CLI, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 256 * 1024) stderr += d.toString();
  });
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= stopChild(child));
  const until = Date.now() + 10_000;
  for (let i = 0; i < 1000 && Date.now() < until; i++) {
    const m = /SOCKS5 proxy listening on (\S+):(\d+)/.exec(stdout);
    if (m) return { host: '127.0.0.1', port: Number(m[2]), pid: child.pid!, child, log: () => stderr, stop };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await stop();
  throw new Error(`the CLI did not start: stdout=${JSON.stringify(stdout)} stderr=${JSON.stringify(stderr)}`);
}

// ------------------------------------------------------------------------------------- processes

async function startPeer(
  what: string,
  cmd: string,
  args: string[],
  port: number,
  logFile: string,
  o: { env?: NodeJS.ProcessEnv; graceMs?: number; startMs?: number; cleanup?: string | undefined },
): Promise<PeerProcess> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: o.env ?? process.env });
  let output = '';
  const keep = (d: Buffer) => {
    if (output.length < 64 * 1024) output += d.toString();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const side = createWriteStream(`${logFile}.stderr`, { flags: 'a' });
  child.stderr.pipe(side);
  const log = () => {
    let file = '';
    try {
      file = readFileSync(logFile, 'utf8');
    } catch {
      /* not written yet */
    }
    return `${file}${output}`.slice(-8000);
  };
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= stopChild(child, o.graceMs ?? 3000).then(() => {
      side.end();
      if (o.cleanup) rmSync(o.cleanup, { recursive: true, force: true });
    }));
  try {
    await waitForPort(port, child, o.startMs ?? 10_000);
  } catch (err) {
    const text = log();
    await stop();
    throw new Error(`${what} did not start: ${(err as Error).message}\n${text}`);
  }
  return { host: '127.0.0.1', port, pid: child.pid!, child, log, stop };
}

// ---------------------------------------------------------------------------------- system users

const USER_PREFIX = 's5up-';

export interface SystemUser {
  name: string;
  password: string;
  remove(): void;
}

/**
 * A throwaway system user (no home, no login shell) with a random password, for Dante's
 * `socksmethod: username`. Needs root. remove() deletes it; users left by runs whose process is
 * gone are deleted first.
 */
export function withSystemUser(): SystemUser {
  if (process.getuid?.() !== 0) throw new Error('creating a throwaway system user for Dante needs root');
  removeStaleUsers();
  const name = `${USER_PREFIX}${process.pid}-${randomBytes(2).toString('hex')}`;
  const password = randomBytes(12).toString('base64url');
  const shell = existsSync('/usr/sbin/nologin') ? '/usr/sbin/nologin' : '/bin/false';
  sh('useradd', ['-M', '-N', '-d', '/nonexistent', '-s', shell, name]);
  const set = spawnSync('chpasswd', [], { input: `${name}:${password}\n`, encoding: 'utf8' });
  if (set.status !== 0) {
    sh('userdel', [name]);
    throw new Error(`chpasswd failed: ${set.stderr}`);
  }
  let removed = false;
  return {
    name,
    password,
    remove() {
      if (removed) return;
      removed = true;
      sh('userdel', [name]);
    },
  };
}

function removeStaleUsers(): void {
  let passwd = '';
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return;
  }
  for (const line of passwd.split('\n')) {
    const m = new RegExp(`^(${USER_PREFIX}(\\d+)-[0-9a-f]+):`).exec(line);
    if (!m) continue;
    const pid = Number(m[2]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive) spawnSync('userdel', [m[1]], { stdio: 'ignore' });
  }
}

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
}
