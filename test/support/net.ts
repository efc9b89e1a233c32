// Test helpers: real loopback servers and a raw SOCKS5 byte-level client. No mocks.
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, connect, type AddressInfo, type NetConnectOpts, type Server, type Socket } from 'node:net';
import { execFile, spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { SocksClient, type SocksRemoteHost } from 'socks';
import { Socks5Server, type ServerOptions } from '../../src/engine';
import { parseReply, type Reply } from '../../src/engine/protocol/socks5/wire';

/** Hard upper bound for any single wait in tests. */
export const WAIT_MS = 5000;

/** `p`, or a rejection naming `what` after `ms`. */
export function within<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

/** Opens a TCP connection and closes it: the error code it got (e.g. ECONNREFUSED), or undefined when it connected. */
export async function connectErrorCode(options: NetConnectOpts, what = 'a connection attempt'): Promise<string | undefined> {
  const s = connect(options);
  try {
    const err = await within(
      new Promise<NodeJS.ErrnoException | undefined>((r) => {
        s.once('error', r);
        s.once('connect', () => r(undefined));
      }),
      what,
    );
    return err?.code;
  } finally {
    s.destroy();
  }
}

export async function startProxy(options: Partial<ServerOptions> = {}): Promise<{ server: Socks5Server; port: number }> {
  const server = new Socks5Server({ host: '127.0.0.1', port: 0, ...options });
  const addr = await server.start();
  return { server, port: addr.port };
}

const tracked = new WeakMap<Server | HttpServer, Set<Socket>>();

export async function listen(server: Server | HttpServer, host = '127.0.0.1'): Promise<number> {
  // Track connections so close() can end them: a failing test must fail, not hang on a half-open socket.
  const conns = new Set<Socket>();
  tracked.set(server, conns);
  server.on('connection', (s: Socket) => {
    conns.add(s);
    s.once('close', () => conns.delete(s));
  });
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** A TCP echo server. */
export async function echoServer(host = '127.0.0.1'): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  return { server, port: await listen(server, host) };
}

/** An HTTP server answering `body` on every path. */
export async function httpServer(body = 'hello through socks5\n', host = '127.0.0.1'): Promise<{ server: HttpServer; port: number }> {
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(body);
  });
  return { server, port: await listen(server, host) };
}

export function close(server: Server | HttpServer): Promise<void> {
  return new Promise((r) => {
    (server as HttpServer).closeAllConnections?.();
    for (const c of tracked.get(server) ?? []) c.destroy();
    server.close(() => r());
  });
}

/**
 * A port nothing listens on. Port 1 (tcpmux), checked: a port below the ephemeral range, so the
 * proxy's own outbound socket can never self-connect to it (a freed ephemeral port can).
 */
export async function closedPort(): Promise<number> {
  if ((await connectErrorCode({ host: '127.0.0.1', port: 1 })) !== 'ECONNREFUSED') throw new Error('port 1 on 127.0.0.1 is not refusing connections on this machine');
  return 1;
}

/**
 * The next `n` bytes (at least) from a flowing socket, left flowing; fails if it closes first or
 * after `ms`. Removes its listeners however it ends (a socket read many times gains none).
 */
export function readN(s: Socket, n: number, ms = WAIT_MS): Promise<Buffer> {
  const got: Buffer[] = [];
  let len = 0;
  let onData: (d: Buffer) => void = () => {};
  let onClose: () => void = () => {};
  return within(
    new Promise<Buffer>((resolve, reject) => {
      onData = (d: Buffer) => {
        got.push(d);
        len += d.length;
        if (len >= n) resolve(Buffer.concat(got));
      };
      onClose = () => reject(new Error(`closed after ${len} of ${n} bytes`));
      s.on('data', onData);
      s.once('close', onClose);
    }),
    `${n} bytes`,
    ms,
  ).finally(() => {
    s.removeListener('data', onData);
    s.removeListener('close', onClose);
  });
}

/** A raw TCP client that collects everything it receives. */
export class RawClient {
  readonly socket: Socket;
  private received: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  ended = false;
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.received = Buffer.concat([this.received, d]);
      this.wake();
    });
    socket.on('end', () => {
      // Like most real clients: when the server is done, close our side too.
      if (!socket.writableEnded) socket.end();
      this.ended = true;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static async open(port: number, host = '127.0.0.1'): Promise<RawClient> {
    const s = connect({ port, host, allowHalfOpen: true });
    await once(s, 'connect');
    return new RawClient(s);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  write(bytes: number[] | Buffer): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /** Waits until `n` bytes arrived (or the socket ended), then takes them. */
  async read(n: number, ms = WAIT_MS): Promise<Buffer> {
    await this.until(() => this.received.length >= n || this.ended || this.closed, ms, `${n} bytes`);
    const out = this.received.subarray(0, n);
    this.received = this.received.subarray(out.length);
    return Buffer.from(out);
  }

  /** Everything until the peer closes. */
  async readToEnd(ms = WAIT_MS): Promise<Buffer> {
    await this.until(() => this.ended || this.closed, ms, 'end of stream');
    const out = this.received;
    this.received = Buffer.alloc(0);
    return out;
  }

  async waitClosed(ms = WAIT_MS): Promise<void> {
    await this.until(() => this.ended || this.closed, ms, 'close');
  }

  private until(cond: () => boolean, ms: number, what: string): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      const check = () => {
        if (cond()) {
          clearTimeout(t);
          resolve();
        } else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Reads one complete SOCKS5 reply (IPv4 or IPv6 BND). */
export async function readReply(c: RawClient, ms = WAIT_MS): Promise<Reply> {
  const head = await c.read(4, ms);
  assert.equal(head.length, 4, 'a reply, not a closed connection');
  const rest = await c.read(head[3] === 0x04 ? 18 : 6, ms);
  const r = parseReply(Buffer.concat([head, rest]));
  assert.equal(r.status, 'done');
  return (r as { value: Reply }).value;
}

/** Greeting (no auth) + CONNECT request bytes for an IPv4 target. */
export function connectRequest(ip: string, port: number, cmd = 0x01): number[] {
  return [0x05, cmd, 0x00, 0x01, ...ip.split('.').map(Number), port >> 8, port & 0xff];
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command with a hard timeout; never rejects. */
export function run(cmd: string, args: string[], timeoutMs = 15000, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, env: env ?? process.env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? ((err as unknown as { code: number }).code) : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Polls `cond` every 10 ms until true; throws after `ms`. */
export async function eventually(cond: () => boolean, ms = WAIT_MS, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A TCP listener on HOST:PORT (0 = any) that never calls accept(), backlog 0, its queue then
 * filled: further SYNs to it are dropped, so a connect neither succeeds nor fails — it hangs (the
 * "target that never accepts"). Node accepts every connection itself, hence Debian's Python.
 * Bounded; throws if this kernel keeps accepting. dispose() releases the sockets and the process.
 */
export async function neverAccepting(host = '127.0.0.1', port = 0): Promise<{ port: number; dispose: () => Promise<void> }> {
  const src = [
    'import socket, sys',
    's = socket.socket()',
    `s.bind((${JSON.stringify(host)}, ${port}))`,
    's.listen(0)',
    'print(s.getsockname()[1], flush=True)',
    'sys.stdin.read()',
  ].join('\n');
  const py = spawn('/usr/bin/python3', ['-c', src], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => py.once('exit', () => r()));
  const fillers: Socket[] = [];
  const dispose = async (): Promise<void> => {
    for (const f of fillers) f.destroy();
    py.stdin.end();
    const t = setTimeout(() => py.kill('SIGKILL'), WAIT_MS);
    await exited;
    clearTimeout(t);
  };
  const line = await Promise.race([
    once(py.stdout, 'data').then(([d]) => String(d)),
    new Promise<undefined>((r) => setTimeout(() => r(undefined), WAIT_MS)),
  ]);
  if (line === undefined) {
    await dispose();
    throw new Error('python did not start listening');
  }
  const bound = Number(line.trim());
  for (let i = 0; i < 8; i++) {
    const f = connect({ host, port: bound });
    f.on('error', () => {});
    fillers.push(f);
    const connected = await Promise.race([once(f, 'connect').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 300))]);
    if (!connected) return { port: bound, dispose };
  }
  await dispose();
  throw new Error('the backlog-0 listener kept accepting: cannot make a connect hang on this kernel');
}

export interface SocksEvent {
  socket: Socket;
  remoteHost?: SocksRemoteHost;
}

/**
 * A BIND through the proxy with the `socks` npm client (SOCKS `type` 4 or 5): resolves `bound`
 * with the first reply (where the proxy listens) and `established` with the second (the peer).
 */
export function socksClientBind(port: number, type: 4 | 5, destination = { host: '0.0.0.0', port: 0 }): { bound: Promise<SocksEvent>; established: Promise<SocksEvent> } {
  const client = new SocksClient({ proxy: { host: '127.0.0.1', port, type }, command: 'bind', destination, timeout: WAIT_MS });
  const bound = within(once(client, 'bound') as Promise<[SocksEvent]>, 'bound').then(([e]) => e);
  const established = within(once(client, 'established') as Promise<[SocksEvent]>, 'established').then(([e]) => e);
  client.connect();
  return { bound, established };
}
