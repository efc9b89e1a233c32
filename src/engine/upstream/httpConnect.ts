// The client side of an HTTP proxy's CONNECT (RFC 9110 §9.3.6), for an http:// upstream: one
// request, Basic credentials (RFC 7617) or a ready Proxy-Authorization value, and the response's
// status line and headers read with bounds. A 2xx opens the tunnel; anything else is an
// UpstreamError whose kind says what the status means for the client.

import { isIPv6 } from 'node:net';
import type { Endpoint } from '../types';
import { formatHostPort } from '../address';
import type { Parse } from '../protocol/parse';
import type { FailureKind } from '../types';
import { UpstreamError } from './errors';
import { readMessage } from './exchange';
import { describeUpstream, type UpstreamProxy } from './url';
import type { Socket } from 'node:net';

/** The status line and headers of a response: at most this many bytes. */
export const MAX_HTTP_HEADER = 16 * 1024;
/** …and at most this many header lines. */
const MAX_HTTP_HEADER_LINES = 100;

/** What may stand in a CONNECT authority: a host name or an IP address, nothing that could end the line. */
const AUTHORITY_HOST = /^[a-z0-9._:-]+$/i;

export interface HttpResponseHead {
  status: number;
  reason: string;
  headers: Array<[name: string, value: string]>;
}

/** CONNECT host:port; resolves once the upstream answered 2xx (the socket is then a tunnel). */
export async function httpConnect(socket: Socket, proxy: UpstreamProxy, target: Endpoint): Promise<HttpResponseHead> {
  const name = describeUpstream(proxy);
  if (!AUTHORITY_HOST.test(target.host)) {
    throw new UpstreamError(`the name ${JSON.stringify(target.host)} cannot be sent to an HTTP upstream`, 'host-unreachable');
  }
  const authority = isIPv6(target.host) ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
  socket.write(connectRequest(authority, proxy));
  const head = await readMessage(socket, parseResponseHead);
  if (head.status >= 200 && head.status < 300) return head;
  const where = formatHostPort(target.host, target.port);
  throw new UpstreamError(
    `upstream ${name} answered ${head.status}${head.reason ? ` ${head.reason}` : ''} to CONNECT ${where}` +
      (head.status === 407 ? (proxy.username === undefined ? ' (it requires a user and password)' : ' (it rejected the user and password)') : ''),
    kindForHttpStatus(head.status),
    undefined,
    head.status,
  );
}

/** The request, with the credentials (never logged). */
export function connectRequest(authority: string, proxy: UpstreamProxy): string {
  let auth = '';
  if (proxy.authorization !== undefined) auth = `Proxy-Authorization: ${proxy.authorization.replace(/[\r\n]/g, '')}\r\n`;
  else if (proxy.username !== undefined) {
    const basic = Buffer.from(`${proxy.username}:${proxy.password ?? ''}`, 'utf8').toString('base64');
    auth = `Proxy-Authorization: Basic ${basic}\r\n`;
  }
  return `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`;
}

/**
 * 403 is the upstream's policy (not allowed); 504 its timeout; 407 (our credentials), 502/503
 * (it could not reach the target, or will not say why) and everything else: a general failure.
 */
export function kindForHttpStatus(status: number): FailureKind {
  if (status === 403) return 'not-allowed';
  if (status === 504) return 'timeout';
  return 'general';
}

/** Status line + headers up to the empty line (CRLF, or bare LF as RFC 9112 §2.2 allows). */
export function parseResponseHead(buf: Buffer): Parse<HttpResponseHead> {
  const limit = Math.min(buf.length, MAX_HTTP_HEADER);
  let end = -1;
  let bodyStart = -1;
  for (let i = 0; i < limit; i++) {
    if (buf[i] !== 0x0a) continue;
    if (buf[i + 1] === 0x0a) {
      end = i;
      bodyStart = i + 2;
      break;
    }
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) {
      end = i;
      bodyStart = i + 3;
      break;
    }
  }
  if (end === -1) {
    if (buf.length >= MAX_HTTP_HEADER) return { status: 'error', reason: `response headers longer than ${MAX_HTTP_HEADER} bytes` };
    // Not HTTP at all: say so at once instead of waiting for 16 KiB.
    if (buf.length >= 5 && buf.toString('latin1', 0, 5) !== 'HTTP/') return { status: 'error', reason: 'not an HTTP proxy (the answer does not start with HTTP/)' };
    return { status: 'more' };
  }
  const lines = buf.toString('latin1', 0, end).split(/\r?\n/);
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0].replace(/\r$/, ''));
  if (!m) return { status: 'error', reason: `not an HTTP proxy (status line ${JSON.stringify(lines[0].slice(0, 80))})` };
  if (lines.length - 1 > MAX_HTTP_HEADER_LINES) return { status: 'error', reason: `more than ${MAX_HTTP_HEADER_LINES} response header lines` };
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return { status: 'done', value: { status: Number(m[1]), reason: (m[2] ?? '').trim(), headers }, length: bodyStart };
}
