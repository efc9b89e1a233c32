// What the HTTP proxy writes: the heads it forwards (hop-by-hop fields removed, Via added, the
// framing it sends stated once), its own answers (a status, a short text body, Content-Length,
// Connection: close where it closes), and the Basic credentials it reads.

import { isUtf8 } from 'node:buffer';
import { fieldTokens, fieldValues, type Field } from './head';
import type { Framing, RequestHead } from './request';
import type { ResponseHead } from './response';

/** The name in Via (RFC 9110 §7.6.3) and on the status page. */
export const PROXY_NAME = 'socks5-proxy';

/**
 * RFC 9110 §7.6.1: fields meant for this hop only, never forwarded (with any field the
 * Connection header names). Proxy-Authorization is this proxy's; Transfer-Encoding is restated
 * by whoever writes the next hop's framing.
 */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** `fields` without the hop-by-hop ones (and those its Connection header lists). */
export function endToEndFields(fields: readonly Field[]): Field[] {
  const listed = new Set(fieldTokens(fields, 'connection'));
  for (const t of fieldTokens(fields, 'proxy-connection')) listed.add(t);
  return fields.filter(([name]) => {
    const n = name.toLowerCase();
    return !HOP_BY_HOP.has(n) && !listed.has(n);
  });
}

function viaValue(minor: 0 | 1): string {
  return `${minor === 1 ? '1.1' : '1.0'} ${PROXY_NAME}`;
}

/** `host[:port]` for a Host header: brackets for IPv6, no port when it is the scheme's default. */
export function hostHeader(host: string, port: number, defaultPort = 80): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return port === defaultPort ? h : `${h}:${port}`;
}

function writeHead(startLine: string, fields: readonly Field[]): Buffer {
  let s = `${startLine}\r\n`;
  for (const [n, v] of fields) s += `${n}: ${v}\r\n`;
  return Buffer.from(`${s}\r\n`, 'latin1');
}

/**
 * The head sent to the origin server for an absolute-form request: origin-form target, Host from
 * the URL (RFC 9112 §3.2.2: a proxy replaces a received Host), hop-by-hop fields removed, Via
 * added, and the body's framing restated. Always HTTP/1.1 towards the server.
 */
export function forwardedRequestHead(req: RequestHead, host: string, port: number, path: string): Buffer {
  const fields: Field[] = [['Host', hostHeader(host, port)]];
  for (const f of endToEndFields(req.fields)) if (f[0].toLowerCase() !== 'host') fields.push(f);
  fields.push(['Via', viaValue(req.minor)]);
  if (req.framing.kind === 'chunked') fields.push(['Transfer-Encoding', 'chunked']);
  return writeHead(`${req.method} ${path} HTTP/1.1`, fields);
}

/** How the proxy sends a response's body on to its client. */
export type ClientFraming =
  /** As it came: no body, a Content-Length body, or a chunked body passed through to an HTTP/1.1 client. */
  | 'same'
  /** A close-delimited body, chunked for an HTTP/1.1 client (its connection can then be kept). */
  | 'chunk'
  /** A chunked body with its chunking taken off, for an HTTP/1.0 client: ends with the close. */
  | 'dechunk';

/** Which of them, for a response to a client speaking HTTP/1.`clientMinor`. */
export function clientFraming(framing: Framing, clientMinor: 0 | 1): ClientFraming {
  if (framing.kind === 'chunked') return clientMinor === 1 ? 'same' : 'dechunk';
  if (framing.kind === 'close') return clientMinor === 1 ? 'chunk' : 'same';
  return 'same';
}

/**
 * The head sent to the client for a response from the origin server. `close`: the proxy closes
 * the client's connection after this response (says Connection: close).
 */
export function forwardedResponseHead(res: ResponseHead, clientMinor: 0 | 1, how: ClientFraming, close: boolean): Buffer {
  const fields = endToEndFields(res.fields);
  fields.push(['Via', viaValue(res.minor)]);
  // Codings other than chunked (rare: `gzip` as a transfer coding) stay stated.
  const codings = fieldTokens(res.fields, 'transfer-encoding').filter((c) => c !== 'chunked');
  if (how === 'chunk' || (how === 'same' && res.framing.kind === 'chunked')) fields.push(['Transfer-Encoding', [...codings, 'chunked'].join(', ')]);
  else if (codings.length > 0) fields.push(['Transfer-Encoding', codings.join(', ')]);
  if (close) fields.push(['Connection', 'close']);
  else if (clientMinor === 0) fields.push(['Connection', 'keep-alive']);
  return writeHead(`HTTP/1.1 ${res.status} ${res.reason || reasonPhrase(res.status)}`, fields);
}

// ------------------------------------------------------------------------------- own answers

const REASONS: Readonly<Record<number, string>> = {
  100: 'Continue',
  200: 'OK',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? 'Unknown';
}

export interface AnswerOptions {
  /** Say Connection: close (the proxy closes after writing it). */
  close: boolean;
  /** More fields (Proxy-Authenticate, Allow…). */
  fields?: readonly Field[];
  contentType?: string;
  /** An answer to HEAD: the head only. */
  headOnly?: boolean;
}

/**
 * The proxy's own answer: `status`, and `body` (a short text; a line end is added) with its
 * Content-Length. Error answers name the status and say what went wrong in a line.
 */
export function answer(status: number, body: string, options: AnswerOptions): Buffer {
  const text = Buffer.from(body.endsWith('\n') ? body : `${body}\n`, 'utf8');
  const fields: Field[] = [
    ['Content-Type', options.contentType ?? 'text/plain; charset=utf-8'],
    ['Content-Length', String(text.length)],
    ...(options.fields ?? []),
  ];
  fields.push(['Connection', options.close ? 'close' : 'keep-alive']);
  const head = writeHead(`HTTP/1.1 ${status} ${reasonPhrase(status)}`, fields);
  return options.headOnly ? head : Buffer.concat([head, text]);
}

/** An error answer with the status's own phrase first: `502 Bad Gateway: <detail>`. */
export function errorAnswer(status: number, detail: string, options: AnswerOptions): Buffer {
  return answer(status, `${status} ${reasonPhrase(status)}: ${detail}`, options);
}

/** The answer to a CONNECT that got through: the tunnel starts after it. */
export const CONNECT_ESTABLISHED = Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n', 'latin1');

/** A 100 Continue interim answer. */
export const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

// ------------------------------------------------------------------------------ credentials

/** The realm in Proxy-Authenticate. */
export const REALM = PROXY_NAME;
export const PROXY_AUTHENTICATE: Field = ['Proxy-Authenticate', `Basic realm="${REALM}", charset="UTF-8"`];

/**
 * `Proxy-Authorization: Basic <base64(user:password)>` (RFC 7617) → the credentials, or undefined
 * when the field is absent, repeated, of another scheme or malformed. The password is a Buffer
 * the caller zeroes after checking it. `latin1`: set when the bytes are not UTF-8 (the user name
 * read as ISO-8859-1; the password bytes then read the same way by the caller).
 */
export function basicCredentials(fields: readonly Field[]): { username: string; password: Buffer; latin1?: string } | undefined {
  const values = fieldValues(fields, 'proxy-authorization');
  if (values.length !== 1) return undefined;
  const m = /^basic +([A-Za-z0-9+/]+={0,2})$/i.exec(values[0]);
  if (!m || m[1].length % 4 === 1) return undefined;
  const decoded = Buffer.from(m[1], 'base64');
  const colon = decoded.indexOf(0x3a);
  if (colon < 0) {
    decoded.fill(0);
    return undefined;
  }
  const username = decoded.toString('utf8', 0, colon);
  const password = Buffer.from(decoded.subarray(colon + 1));
  // Bytes that are not UTF-8: the user name as ISO-8859-1 reads them, for a second try.
  const latin1 = isUtf8(decoded) ? undefined : decoded.toString('latin1', 0, colon);
  decoded.fill(0);
  return latin1 === undefined ? { username, password } : { username, password, latin1 };
}
