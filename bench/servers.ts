// The contenders: this project's server (through its CLI), microsocks, Dante, and "direct" (no proxy).
// Each is started as a child process on loopback and stopped by its PID.

import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { freePort, has, hasDante, hasTinyproxy, startDante, startTinyproxy, stopChild, waitForPort } from '../test/support/peers';
import type { Watch } from './proc';

export { freePort, stopChild };

export interface Endpoint {
  host: string;
  port: number;
}

/**
 * The fd limit every process of the benchmark gets: the hard limit, capped at 65,536. Raising the
 * hard limit itself needs CAP_SYS_RESOURCE, which containers often lack.
 */
export const NOFILE = Math.min(65536, Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim()) || 1024);

export interface Running {
  endpoint: Endpoint | null;
  watch: Watch | null;
  stop(): Promise<void>;
}

export interface Contender {
  name: string;
  label: string;
  /** Why it cannot run here (missing binary…); undefined when it can. */
  missing?: string;
  /** Has a UDP ASSOCIATE relay at all (false: the UDP rows say "none"). */
  udp: boolean;
  /** Speaks SOCKS5 (absent: true) and HTTP CONNECT (absent: false): the rows it can run. */
  socks5?: boolean;
  httpConnect?: boolean;
  start(): Promise<Running>;
}

/** `prlimit` raises the fd limit and then execs the command: the child's PID is the command's. */
export function withNofile(cmd: string, args: string[]): [string, string[]] {
  return ['prlimit', [`--nofile=${NOFILE}:${NOFILE}`, '--', cmd, ...args]];
}


export function direct(): Contender {
  return {
    name: 'direct',
    label: 'direct (no proxy)',
    udp: true,
    async start() {
      return { endpoint: null, watch: null, stop: async () => {} };
    },
  };
}

/** `extraArgs`: more CLI options (the rules row runs it with 50 --deny rules). */
export function ours(cliPath: string, logDir: string, extraArgs: readonly string[] = []): Contender {
  return {
    name: 'ours',
    label: 'this project',
    udp: true,
    httpConnect: true,
    start() {
      return startNode([cliPath, '--host', '127.0.0.1', '--port', '0', '-q', '--max-connections', '30000', ...extraArgs], join(logDir, 'ours.log'), 'our CLI');
    },
  };
}

/**
 * Runs a Node script that prints `listening on HOST:PORT` once it listens (this project's CLI,
 * bench/proxy-chain-server.mjs); resolves when it has.
 */
function startNode(args: string[], logFile: string, what: string): Promise<Running> {
  const [cmd, argv] = withNofile(process.execPath, args);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.pipe(createWriteStream(logFile, { flags: 'a' }));
  return new Promise<Running>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not print its port within 10 s`)), 10_000);
    child.once('exit', (code) => reject(new Error(`${what} exited with code ${code}`)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+):(\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout.removeAllListeners('data');
      child.stdout.resume();
      resolve({
        endpoint: { host: '127.0.0.1', port: Number(m[2]) },
        watch: { pid: child.pid!, tree: false },
        stop: () => stopChild(child),
      });
    });
  });
}

/**
 * bench/bare-relay.mjs: the least a SOCKS5 relay on Node's net module does, run as a reference for
 * the per-connection and round-trip figures only (see FLOOR_METRICS in run.ts).
 */
export function bareNode(script: string, logDir: string): Contender {
  return { ...ours(script, logDir), name: 'floor', label: 'bare Node relay (reference)', udp: false, httpConnect: false };
}

export function microsocks(logDir: string): Contender {
  const c: Contender = {
    name: 'microsocks',
    label: 'microsocks',
    udp: false,
    async start() {
      const port = await freePort();
      const [cmd, args] = withNofile('microsocks', ['-i', '127.0.0.1', '-p', String(port)]);
      const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr.pipe(createWriteStream(join(logDir, 'microsocks.log'), { flags: 'a' }));
      await waitForPort(port, child, 5000);
      return { endpoint: { host: '127.0.0.1', port }, watch: { pid: child.pid!, tree: false }, stop: () => stopChild(child) };
    },
  };
  if (!has('microsocks')) c.missing = 'microsocks is not installed (apt-get install -y microsocks, or run bench/setup.sh as root)';
  return c;
}

export function dante(workDir: string, logDir: string): Contender {
  const c: Contender = {
    name: 'dante',
    label: 'Dante',
    udp: true,
    async start() {
      const p = await startDante({
        dir: join(workDir, 'dante'),
        // Its outbound sockets on a loopback address of their own (see danteConfig).
        external: '127.0.0.2',
        logFile: join(logDir, 'dante.log'),
        writer: 'bench/run.ts',
        logConnections: false,
        wrap: withNofile,
      });
      return { endpoint: { host: p.host, port: p.port }, watch: { pid: p.pid, tree: true }, stop: () => p.stop() };
    },
  };
  if (!hasDante()) c.missing = 'danted is not installed (apt-get install -y dante-server, or run bench/setup.sh as root)';
  return c;
}

/** Debian's tinyproxy (C, a thread per client), an HTTP CONNECT peer, run in the foreground with a loopback-only config. */
export function tinyproxy(workDir: string, logDir: string): Contender {
  const c: Contender = {
    name: 'tinyproxy',
    label: 'tinyproxy',
    udp: false,
    socks5: false,
    httpConnect: true,
    async start() {
      const p = await startTinyproxy({
        dir: join(workDir, 'tinyproxy'),
        // Its default (100) would refuse the 64 concurrent connection loops' overlap.
        maxClients: 10_000,
        logLevel: 'Warning',
        logFile: join(logDir, 'tinyproxy.log'),
        writer: 'bench/run.ts',
        wrap: withNofile,
      });
      return { endpoint: { host: p.host, port: p.port }, watch: { pid: p.pid, tree: true }, stop: () => p.stop() };
    },
  };
  if (!hasTinyproxy()) c.missing = 'tinyproxy is not installed (apt-get install -y tinyproxy, or run bench/setup.sh as root)';
  return c;
}

/** The npm `proxy-chain` server (Node, a dev dependency): an HTTP CONNECT peer on Node like this project. */
export function proxyChain(script: string, logDir: string): Contender {
  return {
    name: 'proxychain',
    label: 'proxy-chain',
    udp: false,
    socks5: false,
    httpConnect: true,
    start() {
      return startNode([script], join(logDir, 'proxy-chain.log'), 'proxy-chain');
    },
  };
}
