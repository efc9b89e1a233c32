// IP addresses and CIDR ranges as numbers, for the rules: one parse per address, then integer
// compares (IPv4: one uint32; IPv6: four, never BigInt: the rules run for every connection and every
// datagram). IPv4-mapped IPv6 (::ffff:a.b.c.d, however spelt) is the IPv4 address, on both sides (a
// rule and the address it is checked against), so `deny 10.0.0.0/8` also catches ::ffff:10.0.0.1.

import { isIPv4, isIPv6 } from 'node:net';
import { canonicalIp } from '../address';

/** IPv4: `n` is the address; IPv6: `w` its four 32-bit words, most significant first. */
export type Ip = { v: 4; n: number } | { v: 6; w: readonly [number, number, number, number] };

export interface Cidr {
  v: 4 | 6;
  prefix: number;
  /** The network (host bits cleared) and the mask: IPv4 one word, IPv6 four. */
  base: readonly number[];
  mask: readonly number[];
  /** Canonical text: `10.0.0.0/8`, `fe80::/10`, or the address alone for /32 and /128. */
  text: string;
}

/** `[::1]` → `::1`. */
export function unbracket(text: string): string {
  return text.length > 1 && text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
}

function v4Number(text: string): number {
  let n = 0;
  let part = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      n = (n << 8) | part;
      part = 0;
    } else part = part * 10 + (c - 48);
  }
  return ((n << 8) | part) >>> 0;
}

/** The 8 groups of a valid IPv6 text (`::` expanded, an IPv4 tail as two groups) as four words. */
function v6Words(text: string): [number, number, number, number] {
  let head = text;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    const v4 = v4Number(text.slice(lastColon + 1));
    tail = [v4 >>> 16, v4 & 0xffff];
    head = text.slice(0, lastColon + 1); // `::ffff:` before the tail
    if (!head.endsWith('::')) head = head.slice(0, -1);
  }
  const dbl = head.indexOf('::');
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  let groups: number[];
  if (dbl === -1) groups = [...parse(head), ...tail];
  else {
    const l = parse(head.slice(0, dbl));
    const r = [...parse(head.slice(dbl + 2)), ...tail];
    groups = [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  }
  return [
    ((groups[0] << 16) | groups[1]) >>> 0,
    ((groups[2] << 16) | groups[3]) >>> 0,
    ((groups[4] << 16) | groups[5]) >>> 0,
    ((groups[6] << 16) | groups[7]) >>> 0,
  ];
}

/** An IP address (IPv4, IPv6 with or without brackets or zone, IPv4-mapped) → numbers; anything else → undefined. */
export function parseIp(text: string): Ip | undefined {
  let t = text.charCodeAt(0) === 91 ? unbracket(text) : text; // '['
  if (t.indexOf(':') === -1) return isIPv4(t) ? { v: 4, n: v4Number(t) } : undefined;
  const zone = t.indexOf('%');
  if (zone !== -1) t = t.slice(0, zone);
  if (!isIPv6(t)) return undefined;
  const w = v6Words(t);
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return { v: 4, n: w[3] };
  return { v: 6, w };
}

const V4_MASKS: number[] = Array.from({ length: 33 }, (_, p) => (p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0));

function v6Mask(prefix: number): number[] {
  return [0, 1, 2, 3].map((i) => V4_MASKS[Math.max(0, Math.min(32, prefix - 32 * i))]);
}

export function formatIp(ip: Ip): string {
  if (ip.v === 4) return [24, 16, 8, 0].map((s) => (ip.n >>> s) & 0xff).join('.');
  const groups = ip.w.flatMap((x) => [(x >>> 16).toString(16), (x & 0xffff).toString(16)]);
  return canonicalIp(groups.join(':'))!;
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
    if (!t.endsWith(']') && t.startsWith('[') && prefixText.endsWith(']')) {
      // `[fc00::/7]`
      prefixText = prefixText.slice(0, -1);
      t = `${t}]`;
    }
  }
  const ip = parseIp(t);
  if (!ip || (t.startsWith('[') && !t.includes(':'))) return `"${text}" is not an IP address or CIDR range`;
  // Written as IPv4-mapped IPv6 (`::ffff:10.0.0.0/104`): the IPv4 range.
  const mapped = ip.v === 4 && t.includes(':');
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
    const mask = V4_MASKS[prefix];
    const base = (ip.n & mask) >>> 0;
    const addr = formatIp({ v: 4, n: base });
    return { v: 4, base: [base], mask: [mask], prefix, text: prefix === 32 ? addr : `${addr}/${prefix}` };
  }
  const mask = v6Mask(prefix);
  const base = ip.w.map((x, i) => (x & mask[i]) >>> 0) as [number, number, number, number];
  const addr = formatIp({ v: 6, w: base });
  return { v: 6, base, mask, prefix, text: prefix === 128 ? addr : `${addr}/${prefix}` };
}

export function cidrContains(c: Cidr, ip: Ip): boolean {
  if (ip.v === 4) return c.v === 4 && ((ip.n & c.mask[0]) >>> 0) === c.base[0];
  if (c.v !== 6) return false;
  const w = ip.w;
  const m = c.mask;
  const b = c.base;
  return (
    ((w[0] & m[0]) >>> 0) === b[0] && ((w[1] & m[1]) >>> 0) === b[1] && ((w[2] & m[2]) >>> 0) === b[2] && ((w[3] & m[3]) >>> 0) === b[3]
  );
}

export function sameIp(a: Ip, b: Ip): boolean {
  if (a.v === 4) return b.v === 4 && a.n === b.n;
  return b.v === 6 && a.w[0] === b.w[0] && a.w[1] === b.w[1] && a.w[2] === b.w[2] && a.w[3] === b.w[3];
}

/**
 * An IPv4 address carried inside an IPv6 one that reaches it: NAT64 (64:ff9b::/96), 6to4
 * (2002:AABB:CCDD::/48) and the deprecated IPv4-compatible ::a.b.c.d. Used by the private-network
 * preset so 64:ff9b::10.0.0.1 is 10.0.0.1.
 */
export function embeddedIPv4(ip: Ip): Ip | undefined {
  if (ip.v !== 6) return undefined;
  const [a, b, c, d] = ip.w;
  if (a === 0x0064ff9b && b === 0 && c === 0) return { v: 4, n: d };
  if (a >>> 16 === 0x2002) return { v: 4, n: (((a & 0xffff) << 16) | (b >>> 16)) >>> 0 };
  if (a === 0 && b === 0 && c === 0 && d > 1) return { v: 4, n: d }; // ::a.b.c.d, not :: or ::1
  return undefined;
}
