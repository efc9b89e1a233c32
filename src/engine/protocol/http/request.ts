// An HTTP/1.x request head, as a proxy reads it (RFC 9112 §3, RFC 9110 §7.1): the request line,
// its target in the forms a proxy sees (authority for CONNECT, absolute for forwarding, origin for
// requests to the proxy itself), and how long its body is (§6), with the framing a request
// smuggler would play with refused.

import { isIPv4, isIPv6 } from 'node:net';
import { fieldTokens, fieldValues, parseFields, printable, type Field } from './head';

export type HostType = 'ipv4' | 'ipv6' | 'domain';

export type Target =
  /** `CONNECT host:port` */
  | { form: 'authority'; host: string; type: HostType; port: number }
  /** `GET http://host[:port]/path?query`: `path` is what the origin server gets (origin form). */
  | { form: 'absolute'; host: string; type: HostType; port: number; path: string }
  /** `GET /path`: a request to the proxy itself. */
  | { form: 'origin'; path: string }
  /** `OPTIONS *` */
  | { form: 'asterisk' };

/** How a message's body ends. */
export type Framing =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  /** Responses only: the body runs until the server closes. */
  | { kind: 'close' };

export interface RequestHead {
  method: string;
  /** As sent, for log lines. */
  rawTarget: string;
  target: Target;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: 0 | 1;
  fields: Field[];
  framing: Framing;
  /** The client wants its connection kept after this exchange (HTTP/1.1 default, 1.0 with keep-alive). */
  keepAlive: boolean;
  /** `Expect: 100-continue` */
  expectContinue: boolean;
}

/** A request that gets an error answer; `code` is its status (400, 414, 431, 501, 505). */
export interface RequestError {
  code: number;
  reason: string;
}

const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^ ]+) HTTP\/(\d)\.(\d)$/;

/** The head's lines (from HeadReader) → a request, or the error to answer. */
export function parseRequestHead(lines: readonly string[]): RequestHead | RequestError {
  const m = REQUEST_LINE.exec(lines[0] ?? '');
  if (!m) {
    if (/^[A-Za-z]+ [^ ]+ HTTP\/\d+\.\d+$/.test(lines[0] ?? '')) return { code: 505, reason: `HTTP version not supported: "${printable(lines[0])}"` };
    return { code: 400, reason: `malformed request line "${printable(lines[0] ?? '')}"` };
  }
  const [, method, rawTarget, major, minorText] = m as unknown as [string, string, string, string, string];
  if (major !== '1') return { code: 505, reason: `HTTP/${major}.${minorText} not supported` };
  const minor = minorText === '0' ? 0 : 1;
  const fields = parseFields(lines);
  if (typeof fields === 'string') return { code: 400, reason: fields };

  const target = parseTarget(method, rawTarget);
  if ('code' in target) return target;

  // RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host; more than one, or a bad one, is a 400.
  const hosts = fieldValues(fields, 'host');
  if (hosts.length > 1) return { code: 400, reason: 'more than one Host header' };
  if (minor === 1 && hosts.length === 0) return { code: 400, reason: 'HTTP/1.1 request without a Host header' };
  if (hosts.length === 1 && hosts[0] !== '' && parseAuthority(hosts[0], 80) === undefined) return { code: 400, reason: `bad Host header "${printable(hosts[0])}"` };

  const framing = requestFraming(fields, minor);
  if ('code' in framing) return framing;
  if (method === 'CONNECT' && framing.kind !== 'none') return { code: 400, reason: 'CONNECT with a body' };

  const connection = fieldTokens(fields, 'connection');
  const proxyConnection = fieldTokens(fields, 'proxy-connection');
  const keepAlive =
    minor === 1
      ? !connection.includes('close') && !proxyConnection.includes('close')
      : connection.includes('keep-alive') || proxyConnection.includes('keep-alive');
  const expect = fieldTokens(fields, 'expect');
  return { method, rawTarget, target, minor, fields, framing, keepAlive, expectContinue: expect.includes('100-continue') };
}

/** RFC 9112 §6.1–6.3 for a request: its body's length, or a 400 (501 for a coding it cannot read). */
export function requestFraming(fields: readonly Field[], minor: 0 | 1): Framing | RequestError {
  const te = fieldValues(fields, 'transfer-encoding');
  const cl = fieldValues(fields, 'content-length');
  if (te.length > 0) {
    // Both: the classic smuggling set-up (which one does the next hop believe?). Refused.
    if (cl.length > 0) return { code: 400, reason: 'both Transfer-Encoding and Content-Length' };
    if (minor === 0) return { code: 400, reason: 'Transfer-Encoding in an HTTP/1.0 request' };
    const codings = fieldTokens(fields, 'transfer-encoding');
    // Only `chunked`, once: a request whose final coding is not chunked cannot be delimited (§6.3).
    if (codings.length === 1 && codings[0] === 'chunked') return { kind: 'chunked' };
    if (codings.length === 0 || codings[codings.length - 1] !== 'chunked') return { code: 400, reason: `Transfer-Encoding "${printable(te.join(', '))}" does not end in chunked` };
    return { code: 501, reason: `Transfer-Encoding "${printable(te.join(', '))}" not supported` };
  }
  if (cl.length === 0) return { kind: 'none' };
  const length = parseContentLength(cl);
  if (typeof length === 'string') return { code: 400, reason: length };
  return length === 0 ? { kind: 'none' } : { kind: 'length', length };
}

/**
 * One Content-Length, digits only: a second one (even an equal one, or a list in one field) is
 * refused rather than reconciled. Returns the length or the reason it is refused.
 */
export function parseContentLength(values: readonly string[]): number | string {
  if (values.length > 1 || values[0].includes(',')) return 'more than one Content-Length';
  const v = values[0];
  if (!/^\d{1,15}$/.test(v)) return `bad Content-Length "${printable(v)}"`;
  return Number(v);
}

// ----------------------------------------------------------------------------------- targets

function parseTarget(method: string, raw: string): Target | RequestError {
  if (method === 'CONNECT') {
    const a = parseAuthority(raw, undefined);
    if (!a) return { code: 400, reason: `bad CONNECT target "${printable(raw)}" (host:port expected)` };
    return { form: 'authority', ...a };
  }
  if (raw === '*') return method === 'OPTIONS' ? { form: 'asterisk' } : { code: 400, reason: `"*" target with ${method}` };
  if (raw[0] === '/') {
    if (!PATH.test(raw)) return { code: 400, reason: `bad request target "${printable(raw)}"` };
    return { form: 'origin', path: raw };
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(raw);
  if (!scheme) return { code: 400, reason: `bad request target "${printable(raw)}"` };
  if (scheme[1].toLowerCase() !== 'http') return { code: 400, reason: `only http:// URLs can be forwarded (got ${printable(scheme[1])}://; use CONNECT for https)` };
  const rest = raw.slice(scheme[0].length);
  const cut = rest.search(/[/?#]/);
  const authority = cut < 0 ? rest : rest.slice(0, cut);
  let path = cut < 0 ? '' : rest.slice(cut);
  const hash = path.indexOf('#');
  if (hash >= 0) path = path.slice(0, hash);
  if (path === '' || path[0] === '?') path = `/${path}`;
  if (!PATH.test(path)) return { code: 400, reason: `bad request target "${printable(raw)}"` };
  if (authority.includes('@')) return { code: 400, reason: 'user info in the URL' };
  const a = parseAuthority(authority, 80);
  if (!a) return { code: 400, reason: `bad host in "${printable(raw)}"` };
  return { form: 'absolute', ...a, path };
}

/** RFC 3986 path-abempty [ "?" query ]: visible ASCII only. */
const PATH = /^\/[\x21-\x7e]*$/;
const REG_NAME = /^[A-Za-z0-9\-._~!$&'()*+,;=%]{1,253}$/;

/**
 * `host:port`, `[v6]:port`, or without `:port` when `defaultPort` is given. Hosts are lowercased;
 * the port is 1–65535 (0 for none is not a port).
 */
export function parseAuthority(s: string, defaultPort: number | undefined): { host: string; type: HostType; port: number } | undefined {
  let host: string;
  let portText: string | undefined;
  if (s[0] === '[') {
    const close = s.indexOf(']');
    if (close < 0) return undefined;
    host = s.slice(1, close);
    const after = s.slice(close + 1);
    if (after !== '') {
      if (after[0] !== ':') return undefined;
      portText = after.slice(1);
    }
    if (!isIPv6(host)) return undefined;
  } else {
    const colon = s.lastIndexOf(':');
    if (colon >= 0) {
      host = s.slice(0, colon);
      portText = s.slice(colon + 1);
    } else host = s;
    if (!REG_NAME.test(host)) return undefined;
  }
  let port: number;
  if (portText === undefined || portText === '') {
    if (defaultPort === undefined) return undefined;
    port = defaultPort;
  } else {
    if (!/^\d{1,5}$/.test(portText)) return undefined;
    port = Number(portText);
    if (port < 1 || port > 65535) return undefined;
  }
  host = host.toLowerCase();
  const type: HostType = isIPv6(host) ? 'ipv6' : isIPv4(host) ? 'ipv4' : 'domain';
  return { host, type, port };
}
