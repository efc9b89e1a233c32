// Helpers for the hardening suite: process guards, fd/RSS probes, bounded concurrency, a raw SOCKS5
// client that does the whole handshake, and the proxy / echo target / "never accepts" target as
// separate processes (so their fds and memory can be measured apart from the test's own).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

/** Sizes: defaults prove the point in CI; long.sh raises them. */
export function knob(name: string, def: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${v} is not a number`);
  return n;
}

// --- process guard ----------------------------------------------------------------------------

/**
 * Collects every uncaughtException / unhandledRejection while installed. The engine runs inside
 * the user's editor: one of these there takes the whole extension host down.
 */
export function guardProcess(): { errors: unknown[]; dispose(): void } {
  const errors: unknown[] = [];
  const onErr = (e: unknown) => errors.push(e);
  process.on('uncaughtException', onErr);
  process.on('unhandledRejection', onErr);
  return {
    errors,
    dispose() {
      process.removeListener('uncaughtException', onErr);
      process.removeListener('unhandledRejection', onErr);
    },
  };
}

// --- /proc probes -------------------------------------------------------------------------------

export function fdCount(pid: number | 'self' = 'self'): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The fd count once it has held still for half a second (a baseline), within `ms`. */
export async function settledFdCount(pid: number | 'self' = 'self', ms = 10_000): Promise<number> {
  const deadline = Date.now() + ms;
  let last = fdCount(pid);
  let same = 0;
  while (same < 5 && Date.now() < deadline) {
    await sleep(100);
    const n = fdCount(pid);
    same = n === last ? same + 1 : 0;
    last = n;
  }
  return last;
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number | 'self' = 'self'): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** The soft RLIMIT_NOFILE of this process (Node cannot set it: run.sh raises it with ulimit). */
export function openFileLimit(): { soft: number; hard: number } {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const n = (s: string | undefined) => (s === undefined || s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

// --- waiting ------------------------------------------------------------------------------------

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `cond` holds; throws after `ms` with `what()` in the message. */
export async function waitFor(cond: () => boolean, ms: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(10);
  }
}

/** Runs `fn(i)` for i in [0, n) with at most `concurrency` at once; the first error is rethrown after all settle. */
export async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let first: unknown;
  let failed = false;
  const worker = async () => {
    while (next < n && !failed) {
      const i = next++;
      try {
        await fn(i);
      } catch (e) {
        if (!failed) {
          failed = true;
          first = e;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  if (failed) throw first;
}

// --- a raw SOCKS5 client ------------------------------------------------------------------------

/** Reads exactly `n` bytes from a flowing socket (or fails at close / after `ms`). */
export function readBytes(socket: Socket, n: number, ms = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got: Buffer = Buffer.alloc(0);
    const done = (err?: Error) => {
      clearTimeout(t);
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      socket.removeListener('error', onError);
      socket.pause(); // nothing is lost between two reads
      if (err) reject(err);
      else {
        if (got.length > n) socket.unshift(got.subarray(n));
        resolve(got.subarray(0, n));
      }
    };
    const onData = (d: Buffer) => {
      got = got.length === 0 ? d : Buffer.concat([got, d]);
      if (got.length >= n) done();
    };
    const onClose = () => done(new Error(`closed after ${got.length}/${n} bytes: ${got.toString('hex')}`));
    const onError = (e: Error) => done(e);
    const t = setTimeout(() => done(new Error(`timed out after ${ms} ms reading ${n} bytes (got ${got.length})`)), ms);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onError);
    socket.resume();
  });
}

export function tcpConnect(port: number, host = '127.0.0.1', ms = 10_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host, allowHalfOpen: true });
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`connect to ${host}:${port} timed out after ${ms} ms`));
    }, ms);
    s.once('connect', () => {
      clearTimeout(t);
      s.removeAllListeners('error');
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

export interface Creds {
  user: string;
  pass: string;
}

/** Greeting (+ auth) + CONNECT to 127.0.0.1:targetPort; resolves with the REP byte and the socket. */
export async function socksConnect(
  proxyPort: number,
  targetPort: number,
  creds?: Creds,
  targetHost = '127.0.0.1',
  ms = 10_000,
): Promise<{ socket: Socket; rep: number }> {
  const socket = await tcpConnect(proxyPort, '127.0.0.1', ms);
  try {
    socket.write(Buffer.from(creds ? [5, 1, 2] : [5, 1, 0]));
    const sel = await readBytes(socket, 2, ms);
    if (sel[0] !== 5 || sel[1] !== (creds ? 2 : 0)) throw new Error(`method selection ${sel.toString('hex')}`);
    if (creds) {
      const u = Buffer.from(creds.user);
      const p = Buffer.from(creds.pass);
      socket.write(Buffer.concat([Buffer.from([1, u.length]), u, Buffer.from([p.length]), p]));
      const st = await readBytes(socket, 2, ms);
      if (st[1] !== 0) return { socket, rep: -1 };
    }
    socket.write(Buffer.from([5, 1, 0, 1, ...targetHost.split('.').map(Number), targetPort >> 8, targetPort & 0xff]));
    const head = await readBytes(socket, 10, ms);
    return { socket, rep: head[1] };
  } catch (e) {
    socket.destroy();
    throw e;
  }
}

/** ATYP + DST.ADDR + DST.PORT for an IPv4 address. */
export function ipv4Address(ip: string, port: number): number[] {
  return [1, ...ip.split('.').map(Number), port >> 8, port & 0xff];
}

/** Reads one full reply (any ATYP) from the socket: [REP, host, port]. */
export async function readReply(socket: Socket, ms = 10_000): Promise<{ rep: number; host: string; port: number }> {
  const head = await readBytes(socket, 5, ms);
  const atyp = head[3];
  const rest = atyp === 1 ? 3 + 2 : atyp === 4 ? 15 + 2 : atyp === 3 ? head[4] + 2 : 0;
  const tail = rest > 0 ? await readBytes(socket, rest, ms) : Buffer.alloc(0);
  const all = Buffer.concat([head, tail]);
  const port = all.readUInt16BE(all.length - 2);
  const host =
    atyp === 1
      ? [...all.subarray(4, 8)].join('.')
      : atyp === 4
        ? Array.from({ length: 8 }, (_, i) => all.readUInt16BE(4 + 2 * i).toString(16)).join(':')
        : all.subarray(5, 5 + head[4]).toString();
  return { rep: head[1], host, port };
}

/** Greeting + a BIND or UDP ASSOCIATE request; resolves with the control socket and the first reply. */
export async function socksCommand(
  proxyPort: number,
  cmd: 2 | 3,
  address: number[],
  ms = 10_000,
): Promise<{ socket: Socket; rep: number; host: string; port: number }> {
  const socket = await tcpConnect(proxyPort, '127.0.0.1', ms);
  try {
    socket.write(Buffer.from([5, 1, 0, 5, cmd, 0, ...address]));
    const sel = await readBytes(socket, 2, ms);
    if (sel[1] !== 0) throw new Error(`method selection ${sel.toString('hex')}`);
    return { socket, ...(await readReply(socket, ms)) };
  } catch (e) {
    socket.destroy();
    throw e;
  }
}

/** RSV RSV FRAG=0 ATYP=1 ADDR PORT, then DATA. */
export function udpFrame(ip: string, port: number, data: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from([0, 0, 0, ...ipv4Address(ip, port)]), Buffer.from(data)]);
}

/** A full CONNECT through the proxy to an echo server, and one round trip of `payload`. */
export async function echoThrough(proxyPort: number, echoPort: number, creds?: Creds, payload = 'ping'): Promise<void> {
  const { socket, rep } = await socksConnect(proxyPort, echoPort, creds);
  try {
    if (rep !== 0) throw new Error(`CONNECT through the proxy answered REP ${rep}`);
    socket.write(payload);
    const back = await readBytes(socket, Buffer.byteLength(payload));
    if (back.toString() !== payload) throw new Error(`echo returned ${JSON.stringify(back.toString())}`);
  } finally {
    socket.destroy();
  }
}

/**
 * Resolves when the socket has closed (or rejects after `ms`). Meanwhile it behaves like a normal
 * client: reads and discards, and answers the server's FIN with its own.
 */
export function closedWithin(socket: Socket, ms: number): Promise<void> {
  if (socket.closed) return Promise.resolve();
  if (socket.readableEnded) socket.end();
  else socket.once('end', () => socket.end());
  socket.resume();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
    socket.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

// --- child processes ----------------------------------------------------------------------------

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

let cliPath: string | undefined;

/** Bundles src/cli.ts (the engine and CLI as shipped) once per test process. */
export async function buildCli(): Promise<string> {
  if (cliPath) return cliPath;
  // The esbuild CLI, one shot: its JS API leaves a service process that keeps the test alive.
  const out = join(mkdtempSync(join(tmpdir(), 'socks5-hardening-')), 'cli.js');
  const esbuild = join(ROOT, 'node_modules', '.bin', 'esbuild');
  const args = [join(ROOT, 'src', 'cli.ts'), '--bundle', '--platform=node', '--format=cjs', `--outfile=${out}`, '--log-level=error'];
  await new Promise<void>((resolve, reject) =>
    execFile(esbuild, args, { timeout: 60_000 }, (err, _o, stderr) => (err ? reject(new Error(`esbuild: ${err.message} ${stderr}`)) : resolve())),
  );
  cliPath = out;
  return out;
}

export interface Child {
  child: ChildProcess;
  pid: number;
  port: number;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `ms`; resolves with the exit code. */
  stop(ms?: number): Promise<number | null>;
}

/** Spawns a process that prints a line matching `ready` (whose group 1 is a port) once serving. */
async function spawnReady(cmd: string, args: string[], ready: RegExp, ms = 15_000): Promise<Child> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => {
    err += d;
    if (err.length > 4 * 1024 * 1024) err = err.slice(-1024 * 1024); // keep the tail of a chatty log
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => (children.delete(child), r(code))));
  const deadline = Date.now() + ms;
  let m: RegExpExecArray | null = null;
  while (!(m = ready.exec(out))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${cmd} ${args.join(' ')} did not become ready; stdout=${JSON.stringify(out)} stderr=${JSON.stringify(err.slice(-2000))}`);
    }
    await sleep(20);
  }
  const c: Child = {
    child,
    pid: child.pid!,
    port: Number(m[1]),
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(wait = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), wait);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
  return c;
}

/** The CLI as a separate process on 127.0.0.1, any free port. */
export async function spawnProxy(args: string[] = []): Promise<Child> {
  const cli = await buildCli();
  return spawnReady(process.execPath, [cli, '--port', '0', ...args], /^SOCKS5 proxy listening on 127\.0\.0\.1:(\d+)$/m);
}

const ECHO_SRC = `
const net = require('node:net');
const s = net.createServer({ allowHalfOpen: true }, (c) => { c.on('error', () => {}); c.pipe(c); });
s.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => console.log('echo on ' + s.address().port));
process.on('SIGTERM', () => process.exit(0));
`;

/** A TCP echo server in its own process (so the test process keeps its fds for clients). */
export function spawnEcho(): Promise<Child> {
  return spawnReady(process.execPath, ['-e', ECHO_SRC], /^echo on (\d+)$/m);
}

// The target that never accepts is shared with the integration tests.
export { neverAccepting } from '../support/net';
