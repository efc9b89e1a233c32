// Loopback-only servers and clients used by the end-to-end scenarios: an HTTP server with a normal
// page and a slow, long download; a UDP echo server; a port holder; curl and python3-socks runs.
// Everything here stops by itself (bounded) and is closed by the tests' teardown.
import * as dgram from 'node:dgram';
import * as http from 'node:http';
import * as net from 'node:net';
import { runProcess } from './harness';

export interface SlowDownload {
  /** Bytes written so far. */
  sent: number;
  /** Set when the response ended because the client side went away before the last chunk. */
  aborted: boolean;
  finished: boolean;
}

export interface TestHttpServer {
  port: number;
  /** A random token that the page at `/` contains: proves the content came from this server. */
  token: string;
  /** Requests seen, in order (method + url). */
  requests: string[];
  slow: SlowDownload[];
  close(): Promise<void>;
}

/** Size of each chunk of `/slow` and the pause between chunks: a download of ~80 KiB/s. */
export const SLOW_CHUNK = 8 * 1024;
export const SLOW_INTERVAL_MS = 100;
/** `/slow` ends by itself after this many chunks (60 s): bounded even if nobody closes it. */
export const SLOW_CHUNKS = 600;

/**
 * `GET /` → an HTML page with the token; `GET /slow` → a slow binary download (bounded);
 * anything else → 404. Listens on 127.0.0.1 only.
 */
export async function startHttpServer(): Promise<TestHttpServer> {
  const token = `socks5-e2e-${Math.random().toString(36).slice(2, 10)}`;
  const requests: string[] = [];
  const slow: SlowDownload[] = [];
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.url === '/' || req.url === '/index.html') {
      const body = `<!doctype html><html><head><title>${token}</title></head><body><h1 id="token">${token}</h1><p>Served through the SOCKS5 proxy.</p></body></html>`;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (req.url === '/slow') {
      const d: SlowDownload = { sent: 0, aborted: false, finished: false };
      slow.push(d);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': SLOW_CHUNK * SLOW_CHUNKS });
      const chunk = Buffer.alloc(SLOW_CHUNK, 0x61);
      let n = 0;
      const timer = setInterval(() => {
        if (res.destroyed || res.writableEnded) {
          clearInterval(timer);
          timers.delete(timer);
          return;
        }
        res.write(chunk);
        d.sent += chunk.length;
        if (++n >= SLOW_CHUNKS) {
          clearInterval(timer);
          timers.delete(timer);
          d.finished = true;
          res.end();
        }
      }, SLOW_INTERVAL_MS);
      timers.add(timer);
      res.on('close', () => {
        if (!d.finished) d.aborted = true;
        clearInterval(timer);
        timers.delete(timer);
      });
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    token,
    requests,
    slow,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearInterval(t);
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface UdpEcho {
  port: number;
  /** Datagrams received (payloads as text). */
  received: string[];
  close(): Promise<void>;
}

/** A UDP server on 127.0.0.1 that sends every datagram back, prefixed with "echo:". */
export async function startUdpEcho(): Promise<UdpEcho> {
  const sock = dgram.createSocket('udp4');
  const received: string[] = [];
  sock.on('message', (msg, rinfo) => {
    received.push(msg.toString('utf8'));
    sock.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => resolve());
  });
  return {
    port: sock.address().port,
    received,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

/** Holds a TCP port on 127.0.0.1 (so that a start there fails with EADDRINUSE). */
export async function holdPort(port: number): Promise<{ close(): Promise<void> }> {
  const srv = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve());
  });
  return { close: () => new Promise<void>((resolve) => srv.close(() => resolve())) };
}

export interface CurlResult {
  code: number | null;
  body: string;
  stderr: string;
}

/** curl through the SOCKS5 proxy (host name resolved by the proxy: --socks5-hostname). */
export async function curlViaProxy(
  proxyPort: number,
  url: string,
  { user, timeoutS = 15 }: { user?: string; timeoutS?: number } = {},
): Promise<CurlResult> {
  const args = ['-sS', '--max-time', String(timeoutS), '--noproxy', '', '--socks5-hostname', `127.0.0.1:${proxyPort}`];
  if (user !== undefined) args.push('--proxy-user', user);
  args.push(url);
  const env = { ...process.env };
  for (const k of ['http_proxy', 'https_proxy', 'all_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'no_proxy', 'NO_PROXY']) delete env[k];
  const r = await runProcess('curl', 'curl', args, { timeoutMs: (timeoutS + 10) * 1000, env });
  return { code: r.code, body: r.stdout, stderr: r.stderr };
}

/** An HTTP GET through the proxy with Debian's python3-socks (PySocks), remote DNS, optional auth. */
export async function pysocksGet(
  proxyPort: number,
  host: string,
  port: number,
  path: string,
  auth?: { user: string; password: string },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = [
    'import socks, sys',
    's = socks.socksocket()',
    's.settimeout(10)',
    `s.set_proxy(socks.SOCKS5, "127.0.0.1", ${proxyPort}, rdns=True, username=${auth ? JSON.stringify(auth.user) : 'None'}, password=${auth ? JSON.stringify(auth.password) : 'None'})`,
    `s.connect((${JSON.stringify(host)}, ${port}))`,
    `s.sendall(b"GET ${path} HTTP/1.0\\r\\nHost: ${host}\\r\\n\\r\\n")`,
    'data = b""',
    'while True:',
    '    b = s.recv(65536)',
    '    if not b: break',
    '    data += b',
    'sys.stdout.write(data.decode("utf-8", "replace"))',
  ].join('\n');
  return runProcess('python3-socks', '/usr/bin/python3', ['-c', script], { timeoutMs: 20_000 });
}
