// The proxy's own pages, served to plain (origin-form) requests on its port without credentials:
// `GET /proxy.pac`, a proxy auto-config file that sends everything through this proxy, and `GET /`,
// a short status page. Both say nothing beyond the proxy's own address and name: no users, no
// connections, no version.

import { isIP } from 'node:net';
import { canonicalIp, toIPv4 } from '../../address';
import { isWildcardHost } from '../../loopback';
import { PROXY_NAME } from './message';
import { parseAuthority } from './request';

export const PAC_PATH = '/proxy.pac';
export const PAC_CONTENT_TYPE = 'application/x-ns-proxy-autoconfig';

/** Which doors are open (the PAC names only those). */
export interface PacDoors {
  socks5: boolean;
  socks4: boolean;
  http: boolean;
}

/** `host:port` as a PAC result names it (IPv6 in brackets). */
function pacHostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The PAC's proxy list, best first: `SOCKS5` (browsers resolve names through it), `SOCKS` (SOCKS4
 * for clients without SOCKS5), then `PROXY` (HTTP) for PAC readers that know no SOCKS at all
 * (WinHTTP, many OS-level and Java/.NET readers). Never `DIRECT`: a client told to use this proxy
 * must not silently go around it when it is down.
 */
export function pacProxyList(host: string, port: number, doors: PacDoors): string {
  const hp = pacHostPort(host, port);
  const list: string[] = [];
  if (doors.socks5) list.push(`SOCKS5 ${hp}`);
  if (doors.socks4) list.push(`SOCKS ${hp}`);
  if (doors.http) list.push(`PROXY ${hp}`);
  return list.join('; ');
}

export function pacFile(host: string, port: number, doors: PacDoors): string {
  return [
    `// Proxy auto-config from ${PROXY_NAME} at ${pacHostPort(host, port)}: everything goes through it.`,
    'function FindProxyForURL(url, host) {',
    `  return ${JSON.stringify(pacProxyList(host, port, doors))};`,
    '}',
    '',
  ].join('\n');
}

/** What the proxy knows about the connection a page is asked on. */
export interface PageContext {
  /** The Host header the client sent, if any. */
  hostHeader: string | undefined;
  /** The address the client reached (the socket's local address) and its port. */
  localAddress: string;
  localPort: number;
  /** The client's address is loopback (it can reach `localhost`). */
  clientIsLoopback: boolean;
  /** This machine's addresses (every interface's), for a listener on a wildcard address. */
  machineAddresses: readonly string[];
  /** The listener's own address (`127.0.0.1`, `0.0.0.0`, `::`, `192.0.2.5`…). */
  listenerHost: string;
}

/**
 * The address the PAC names: one the client can reach. The Host header the client used, when it
 * is one of the proxy's own addresses (an IP literal the listener answers on, or `localhost` for
 * a client on loopback), with its port (a forwarded port stays forwarded); otherwise the address
 * the client's connection reached, which is never a wildcard (`0.0.0.0` is where a listener
 * listens, not where a client connects). A name in the Host header is not echoed: the page must
 * not carry whatever a client put there.
 */
export function pageAddress(ctx: PageContext): { host: string; port: number } {
  const fallback = { host: unmapped(ctx.localAddress), port: ctx.localPort };
  if (!ctx.hostHeader) return fallback;
  const a = parseAuthority(ctx.hostHeader, ctx.localPort);
  if (!a) return fallback;
  if (a.host === 'localhost') return ctx.clientIsLoopback ? { host: a.host, port: a.port } : fallback;
  if (!isIP(a.host)) return fallback;
  const host = canonicalIp(a.host)!;
  const own = isWildcardHost(ctx.listenerHost) ? [ctx.localAddress, ...ctx.machineAddresses] : [ctx.listenerHost, ctx.localAddress];
  return !isWildcardHost(host) && own.some((o) => canonicalIp(o) === host) ? { host, port: a.port } : fallback;
}

/** `::ffff:192.0.2.5` (an IPv4 client on a dual-stack listener) → `192.0.2.5`. */
function unmapped(ip: string): string {
  return toIPv4(ip) ?? ip;
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The status page: the proxy's name and address, what it speaks, and where its PAC file is. */
export function statusPage(host: string, port: number, doors: PacDoors): string {
  const hp = escapeHtml(pacHostPort(host, port));
  const speaks = [doors.socks5 && 'SOCKS5', doors.socks4 && 'SOCKS4/4a', doors.http && 'HTTP (CONNECT and forwarding)'].filter(Boolean).join(', ');
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><title>' + PROXY_NAME + '</title></head>',
    '<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto">',
    `<h1>${PROXY_NAME}</h1>`,
    `<p>A proxy server is running at <code>${hp}</code>. It speaks ${escapeHtml(speaks)} on this one port.</p>`,
    `<p>Proxy auto-config file: <a href="http://${hp}${PAC_PATH}">http://${hp}${PAC_PATH}</a></p>`,
    '</body></html>',
    '',
  ].join('\n');
}
