// Upstream (chained) proxy URLs: `socks5://`, `socks5h://` and `http://`, parsed and checked once,
// and the one way such a URL is shown (never with its password).
//
// - socks5h:// passes destination names to the upstream (it resolves them); socks5:// resolves
//   them here first (through the server's resolver) and sends addresses. `socks://` is taken as
//   socks5h:// (what socks-proxy-agent and so VS Code's own proxy support do).
// - http:// is an HTTP proxy reached with CONNECT (RFC 9110 §9.3.6); plain-text to the proxy.
//   https:// (TLS to the proxy) is refused with a reason rather than silently spoken in clear.
// - The user name may be in the URL; the password comes separately (secret storage, an
//   environment variable), unless the caller allows one in the URL (VS Code's own `http.proxy`
//   may carry one: that is where the user put it).
// - Default ports: 1080 for SOCKS, 80 for http:// (the URL's own default).

import { isIP } from 'node:net';
import { formatHostPort } from '../address';

export type UpstreamScheme = 'socks5' | 'socks5h' | 'http';

export interface UpstreamProxy {
  scheme: UpstreamScheme;
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  port: number;
  username?: string;
  password?: string;
  /**
   * HTTP upstreams only: a ready `Proxy-Authorization` value sent instead of Basic credentials
   * (VS Code's `http.proxyAuthorization`). Never logged.
   */
  authorization?: string;
}

export type ParsedUpstream = { ok: true; value: UpstreamProxy } | { ok: false; reason: string };

export interface ParseUpstreamOptions {
  /** The password, kept apart from the URL. */
  password?: string;
  /** Accept `user:password@` in the URL itself (VS Code's `http.proxy`). Default false. */
  allowPasswordInUrl?: boolean;
  /** A SOCKS user needs a password (RFC 1929). Default true; false: check the URL alone (settings). */
  requirePassword?: boolean;
}

const SCHEMES: Readonly<Record<string, UpstreamScheme>> = {
  'socks5:': 'socks5',
  'socks5h:': 'socks5h',
  'socks:': 'socks5h',
  'http:': 'http',
};

export const DEFAULT_UPSTREAM_PORTS: Readonly<Record<UpstreamScheme, number>> = { socks5: 1080, socks5h: 1080, http: 80 };

/** RFC 1929 limits each of user name and password to 1..255 bytes. */
const SOCKS_CREDENTIAL_MAX = 255;

const HOST_LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/i;

/** Parses and checks an upstream URL; `reason` says what is wrong in words a user can act on. */
export function parseUpstreamUrl(text: string, options: ParseUpstreamOptions = {}): ParsedUpstream {
  const raw = text.trim();
  if (raw === '') return fail('the upstream URL is empty');
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    return fail(`"${raw}" is not a URL: write socks5://host:port, socks5h://host:port or http://host:port`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail(`"${redactUrlText(raw)}" is not a valid URL`);
  }
  const scheme = SCHEMES[url.protocol.toLowerCase()];
  if (!scheme) {
    const s = url.protocol.slice(0, -1);
    if (s === 'https') return fail('https:// upstreams (TLS to the proxy) are not supported: use http://, socks5:// or socks5h://');
    if (s === 'socks4' || s === 'socks4a') return fail(`${s}:// upstreams are not supported: use socks5:// or socks5h://`);
    return fail(`unsupported upstream scheme "${s}": use socks5://, socks5h:// or http://`);
  }
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    return fail(`the upstream URL ${redactUrlText(raw)} has a path, query or fragment: write only scheme://host:port`);
  }
  let host = url.hostname.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '') return fail(`the upstream URL ${redactUrlText(raw)} has no host`);
  if (isIP(host) === 0) {
    let name: string;
    try {
      name = decodeURIComponent(host);
    } catch {
      return fail(`the upstream host "${host}" is not a valid host name`);
    }
    const labels = (name.endsWith('.') ? name.slice(0, -1) : name).split('.');
    if (name.length > 253 || !labels.every((l) => HOST_LABEL.test(l))) return fail(`the upstream host "${name}" is not a valid host name`);
    host = name;
  }
  const port = url.port === '' ? DEFAULT_UPSTREAM_PORTS[scheme] : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return fail(`the upstream port in ${redactUrlText(raw)} is not 1..65535`);

  const value: UpstreamProxy = { scheme, host, port };
  let username: string;
  let urlPassword: string;
  try {
    username = decodeURIComponent(url.username);
    urlPassword = decodeURIComponent(url.password);
  } catch {
    return fail('the user name or password in the upstream URL is not valid percent-encoding');
  }
  if (urlPassword !== '' && !options.allowPasswordInUrl) {
    return fail('put the upstream password apart from the URL (SOCKS5: Set Upstream Password… in VS Code, SOCKS5_UPSTREAM_PASSWORD for the CLI): only the user name belongs in the URL');
  }
  if (urlPassword !== '' && username === '') return fail('the upstream URL has a password but no user name (write scheme://user@host:port)');
  // A password kept apart belongs to the URL's user: without a user it is not used.
  const password = options.password !== undefined && options.password !== '' ? options.password : urlPassword;
  if (username !== '') {
    value.username = username;
    if (password !== '') value.password = password;
  }
  if (scheme !== 'http' && value.username !== undefined) {
    if (byteLength(value.username) > SOCKS_CREDENTIAL_MAX) return fail('the upstream user name is longer than 255 bytes (RFC 1929)');
    if (value.password === undefined && options.requirePassword !== false) return fail(`no password for upstream user "${value.username}"`);
    if (value.password !== undefined && byteLength(value.password) > SOCKS_CREDENTIAL_MAX) return fail('the upstream password is longer than 255 bytes (RFC 1929)');
  }
  if (scheme === 'http' && value.username?.includes(':')) return fail('an HTTP upstream user name cannot contain ":" (Basic authentication)');
  return { ok: true, value };
}

/** `socks5h://alice@127.0.0.1:1080`: how an upstream is named in logs, tooltips and messages. Never the password. */
export function describeUpstream(u: Pick<UpstreamProxy, 'scheme' | 'host' | 'port' | 'username'>): string {
  const user = u.username !== undefined ? `${encodeURIComponent(u.username)}@` : '';
  return `${u.scheme}://${user}${formatHostPort(u.host, u.port)}`;
}

/** `alice@proxy.example:1080`: whose password it is (the secret kept apart is stored under it), or undefined without a user. */
export function upstreamIdentity(u: Pick<UpstreamProxy, 'host' | 'port' | 'username'>): string | undefined {
  return u.username === undefined ? undefined : `${u.username}@${formatHostPort(u.host, u.port)}`;
}

/** The short form for the Connections view's route: `host:port`. */
export function upstreamAddress(u: Pick<UpstreamProxy, 'host' | 'port'>): string {
  return formatHostPort(u.host, u.port);
}

/** A URL as typed, with any `:password@` taken out: for messages about a URL that did not parse. */
export function redactUrlText(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, '$1:***@');
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function fail(reason: string): ParsedUpstream {
  return { ok: false, reason };
}
