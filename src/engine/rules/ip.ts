// IP addresses and CIDR ranges as numbers, for the rules: one parse per address, then integer
// compares. IPv4-mapped IPv6 (::ffff:a.b.c.d, however spelt) is the IPv4 address, on both sides
// (a rule and the address it is checked against), so `deny 10.0.0.0/8` also catches ::ffff:10.0.0.1.

import { canonicalIp, writeIPv6 } from '../address';

export type Ip = { v: 4; n: number } | { v: 6; n: bigint };

export interface Cidr {
  v: 4 | 6;
  /** The network (host bits cleared). */
  base: number | bigint;
  prefix: number;
  /** The text it was written as, canonical (`10.0.0.0/8`, `fe80::/10`, `192.0.2.1`). */
  text: string;
}

const V6_BUF = Buffer.alloc(16);

/** `[::1]` → `::1`. */
export function unbracket(text: string): string {
  return text.length > 1 && text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
}

/** An IP address (IPv4, IPv6 with or without brackets or zone, IPv4-mapped) → number; anything else → undefined. */
export function parseIp(text: string): Ip | undefined {
  const c = canonicalIp(unbracket(text));
  if (c === undefined) return undefined;
  if (!c.includes(':')) {
    const p = c.split('.');
    return { v: 4, n: ((+p[0]! << 24) | (+p[1]! << 16) | (+p[2]! << 8) | +p[3]!) >>> 0 };
  }
  writeIPv6(V6_BUF, 0, c);
  return { v: 6, n: (V6_BUF.readBigUInt64BE(0) << 64n) | V6_BUF.readBigUInt64BE(8) };
}

const V4_MASKS: number[] = Array.from({ length: 33 }, (_, p) => (p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0));
const ALL128 = (1n << 128n) - 1n;
const v6Mask = (p: number): bigint => (p === 0 ? 0n : (ALL128 >> BigInt(128 - p)) << BigInt(128 - p));

export function formatIp(ip: Ip): string {
  if (ip.v === 4) return [24, 16, 8, 0].map((s) => (ip.n >>> s) & 0xff).join('.');
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(ip.n >> 64n, 0);
  b.writeBigUInt64BE(ip.n & 0xffffffffffffffffn, 8);
  return canonicalIp(
    Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 * i).toString(16)).join(':'),
  )!;
}

/**
 * `10.0.0.0/8`, `fe80::/10`, `[fc00::]/7`, `[fc00::/7]`, or one address (`/32`, `/128`).
 * Host bits may be set (`10.1.2.3/8` is 10.0.0.0/8). Returns an error text when it is not one.
 */
export function parseCidr(text: string): Cidr | string {
  let t = text.trim();
  let prefixText: string | undefined;
  const slash = t.lastIndexOf('/');
  if (slash !== -1) {
    prefixText = t.slice(slash + 1);
    t = t.slice(0, slash);
    if (t.endsWith(']') === false && t.startsWith('[') && prefixText.endsWith(']')) {
      // `[fc00::/7]`
      prefixText = prefixText.slice(0, -1);
      t = `${t}]`;
    }
  }
  const ip = parseIp(t);
  if (!ip || (t.startsWith('[') && ip.v === 4 && !t.includes(':'))) return `"${text}" is not an IP address or CIDR range`;
  // Written as IPv4-mapped IPv6 (`::ffff:10.0.0.0/104`): the IPv4 range.
  const mapped = ip.v === 4 && unbracket(t).includes(':');
  const max = ip.v === 4 && !mapped ? 32 : 128;
  let prefix = max;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || +prefixText > max) return `"${text}": the prefix length must be 0 to ${max}`;
    prefix = +prefixText;
  }
  if (mapped) {
    if (prefix < 96) return `"${text}": an IPv4-mapped range needs a prefix of 96 or more`;
    prefix -= 96;
  }
  if (ip.v === 4) {
    const base = (ip.n & V4_MASKS[prefix]!) >>> 0;
    const addr = formatIp({ v: 4, n: base });
    return { v: 4, base, prefix, text: prefix === 32 ? addr : `${addr}/${prefix}` };
  }
  const base = ip.n & v6Mask(prefix);
  const addr = formatIp({ v: 6, n: base });
  return { v: 6, base, prefix, text: prefix === 128 ? addr : `${addr}/${prefix}` };
}

export function cidrContains(c: Cidr, ip: Ip): boolean {
  if (c.v !== ip.v) return false;
  if (ip.v === 4) return ((ip.n & V4_MASKS[c.prefix]!) >>> 0) === c.base;
  return (ip.n & v6Mask(c.prefix)) === c.base;
}

/**
 * An IPv4 address carried inside an IPv6 one that reaches it: NAT64 (64:ff9b::/96), 6to4
 * (2002:AABB:CCDD::/48) and the deprecated IPv4-compatible ::a.b.c.d. Used by the private-network
 * preset so 64:ff9b::10.0.0.1 is 10.0.0.1.
 */
export function embeddedIPv4(ip: Ip): Ip | undefined {
  if (ip.v !== 6) return undefined;
  const n = ip.n;
  const low32 = Number(n & 0xffffffffn);
  if (n >> 32n === 0x0064ff9b0000000000000000n) return { v: 4, n: low32 };
  if (n >> 112n === 0x2002n) return { v: 4, n: Number((n >> 80n) & 0xffffffffn) };
  if (n >> 32n === 0n && low32 > 1) return { v: 4, n: low32 }; // ::a.b.c.d, not :: or ::1
  return undefined;
}
