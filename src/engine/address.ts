// Address helpers every protocol and command shares: one spelling per IP address, IPv6 text <->
// bytes, `host:port` for log lines. Pure functions: no sockets, no state.

import { isIPv4, isIPv6 } from 'node:net';

/** A byte as two hex digits: `0x${hex(b)}` in messages. */
export function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** `fe80::1%eth0` → `fe80::1`. Only an IPv6 address has a zone: a domain name keeps its `%`. */
export function stripZone(host: string): string {
  const i = host.indexOf('%');
  return i === -1 || !isIPv6(host.slice(0, i)) ? host : host.slice(0, i);
}

/** `1.2.3.4` or `::ffff:1.2.3.4` → `1.2.3.4`; anything else → undefined. */
export function toIPv4(host: string): string | undefined {
  if (isIPv4(host)) return host;
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return m && isIPv4(m[1]) ? m[1] : undefined;
}

/**
 * One spelling per IP address, for comparing addresses: IPv4 (and IPv4-mapped IPv6) as dotted quad,
 * IPv6 in RFC 5952 form without a zone. Not an IP address → undefined.
 */
export function canonicalIp(host: string): string | undefined {
  const v4 = toIPv4(host);
  if (v4 !== undefined) return v4;
  const h = stripZone(host);
  if (!isIPv6(h)) return undefined;
  const b = Buffer.allocUnsafe(16);
  writeIPv6(b, 0, h);
  if (b.readUInt32BE(0) === 0 && b.readUInt32BE(4) === 0 && b.readUInt32BE(8) === 0xffff) {
    return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`; // IPv4-mapped, however it was spelt
  }
  return formatIPv6(b, 0);
}

/** `0.0.0.0` / `::` (the "no address given" of a BIND or UDP ASSOCIATE request). */
export function isUnspecifiedIp(host: string): boolean {
  const c = canonicalIp(host);
  return c === '0.0.0.0' || c === '::';
}

export function writeIPv4(b: Buffer, offset: number, ip: string): void {
  const parts = ip.split('.');
  for (let i = 0; i < 4; i++) b[offset + i] = Number(parts[i]);
}

/** Writes 16 bytes of an IPv6 address (with `::` and an embedded IPv4 tail allowed). */
export function writeIPv6(b: Buffer, offset: number, ip: string): void {
  let head = ip;
  let tail4: number[] = [];
  const lastColon = ip.lastIndexOf(':');
  if (ip.includes('.', lastColon)) {
    tail4 = ip.slice(lastColon + 1).split('.').map(Number);
    head = ip.slice(0, lastColon + 1) + '0:0';
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const l = left ? left.split(':') : [];
  const r = right ? right.split(':') : [];
  const groups = right === undefined ? l : [...l, ...new Array<string>(8 - l.length - r.length).fill('0'), ...r];
  for (let i = 0; i < 8; i++) b.writeUInt16BE(parseInt(groups[i] ?? '0', 16) || 0, offset + 2 * i);
  if (tail4.length === 4) for (let i = 0; i < 4; i++) b[offset + 12 + i] = tail4[i]!;
}

/** 16 bytes → RFC 5952 text (lower case, longest run of ≥2 zero groups as `::`). */
export function formatIPv6(buf: Buffer, offset: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(buf.readUInt16BE(offset + 2 * i));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const text = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (bestStart === -1) return text(g);
  return `${text(g.slice(0, bestStart))}::${text(g.slice(bestStart + bestLen))}`;
}

/** `host:port`, IPv6 in brackets. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
