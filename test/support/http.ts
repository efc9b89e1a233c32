// Test helpers for the HTTP door: an origin server that records what it was sent, a loopback TLS
// server with a self-signed certificate made by openssl, and a raw HTTP response reader.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listen, type RawClient } from './net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  /** The origin server's connection it came on (a number per connection). */
  conn: number;
}

/**
 * An origin server: `/` answers `hello`, `/echo` echoes the request body, `/chunked` answers in
 * chunks without Content-Length, `/big?n=N` N bytes, `/status/N` status N. Records every request.
 */
export async function originServer(): Promise<{ server: HttpServer; port: number; seen: SeenRequest[] }> {
  const seen: SeenRequest[] = [];
  let conns = 0;
  const server = createHttpServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body, conn: (req.socket as unknown as { n: number }).n });
      const url = new URL(req.url!, 'http://x');
      if (url.pathname === '/echo') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
        res.end(body);
      } else if (url.pathname === '/chunked') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('one,');
        setTimeout(() => res.end('two'), 20);
      } else if (url.pathname === '/big') {
        const n = Number(url.searchParams.get('n') ?? 1_000_000);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
        res.end(Buffer.alloc(n, 0x61));
      } else if (url.pathname.startsWith('/status/')) {
        const code = Number(url.pathname.slice(8));
        const text = `status ${code}\n`;
        res.writeHead(code, code === 304 || code === 204 ? {} : { 'content-type': 'text/plain', 'content-length': text.length });
        res.end(code === 304 || code === 204 ? undefined : text);
      } else if (url.pathname === '/headers') {
        res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive, X-Hop', 'x-hop': 'secret', 'keep-alive': 'timeout=5' });
        res.end(JSON.stringify(req.headers));
      } else {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('hello\n');
      }
    });
  });
  server.on('connection', (s) => ((s as unknown as { n: number }).n = ++conns));
  server.keepAliveTimeout = 10_000;
  return { server, port: await listen(server), seen };
}

export interface TlsFiles {
  dir: string;
  cert: string;
  key: string;
  dispose(): void;
}

/** A self-signed certificate for localhost and 127.0.0.1, made by openssl in a temp folder. */
export function selfSignedCert(): TlsFiles {
  const dir = mkdtempSync(join(tmpdir(), 'socks5-http-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore', timeout: 15_000 });
  return { dir, cert, key, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An HTTPS origin on loopback answering `body`. */
export async function tlsServer(files: TlsFiles, body = 'hello over tls\n'): Promise<{ server: HttpsServer; port: number }> {
  const server = createHttpsServer({ cert: readFileSync(files.cert), key: readFileSync(files.key) }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(body);
  });
  return { server, port: await listen(server) };
}

export interface RawResponse {
  status: number;
  head: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** One line (without CRLF) from a raw client. */
async function readLine(c: RawClient): Promise<string> {
  let line = '';
  while (!line.endsWith('\r\n')) {
    const more = await c.read(1);
    if (more.length === 0) throw new Error(`connection ended in a line: ${JSON.stringify(line)}`);
    line += more.toString('latin1');
  }
  return line.slice(0, -2);
}

/**
 * Reads one response from a raw client: its head, and its body (Content-Length or chunked, the
 * chunking taken off; none for HEAD, 1xx, 204, 304).
 */
export async function readResponse(c: RawClient, opts: { head?: boolean } = {}): Promise<RawResponse> {
  let head = '';
  for (;;) {
    const line = await readLine(c);
    head += `${line}\r\n`;
    if (line === '') break;
  }
  const lines = head.trimEnd().split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  const none = opts.head || status === 204 || status === 304 || status < 200;
  if (!none && /chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts: Buffer[] = [];
    for (;;) {
      const size = parseInt(await readLine(c), 16);
      if (size === 0) break;
      parts.push(await c.read(size));
      await readLine(c);
    }
    while ((await readLine(c)) !== '');
    return { status, head, headers, body: Buffer.concat(parts) };
  }
  const n = none ? 0 : Number(headers['content-length'] ?? 0);
  const body = n > 0 ? await c.read(n) : Buffer.alloc(0);
  return { status, head, headers, body };
}
