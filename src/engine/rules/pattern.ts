// Destination patterns: one syntax for the rules (`socks5.rules.destinations`, --allow/--deny) and
// for the upstream's bypass list. A pattern is a host part, an optional port part and optional users:
//
//   HOST[:PORTS] [user:NAME[,NAME…]]
//
//   HOST   *                 any destination (name or address)
//          example.com       that name only (case-insensitive, a trailing dot ignored)
//          *.example.com     any name below it (a.example.com, a.b.example.com), not example.com itself
//          .example.com      example.com and any name below it
//          api-*.example.com `*` inside a label: any characters in that one label
//          10.1.2.3 / ::1    one address; IPv6 in brackets when a port follows: [::1]:443
//          10.0.0.0/8        a CIDR range; [fc00::/7]:443 (or [fc00::]/7:443) with a port
//   PORTS  443 | 8000-8999 | 80,443,8000-8999 | *   (absent: any port)
//   user:  the authenticated user names the pattern is for (absent: everyone, with or without auth)
//
// Name patterns match the name the client asked for; address patterns match an address (the one the
// client gave, or each address a name resolves to). Only `*` matches both.

import { domainToASCII } from 'node:url';
import { cidrContains, parseCidr, parseIp, type Cidr, type Ip } from './ip';

export type HostMatcher =
  | { kind: 'any' }
  | { kind: 'name'; name: string }
  /** `*.x` (apex false) or `.x` (apex true); `suffix` is `.x`. */
  | { kind: 'suffix'; suffix: string; apex: boolean }
  | { kind: 'glob'; re: RegExp }
  | { kind: 'ip'; cidr: Cidr };

export interface PortRange {
  from: number;
  to: number;
}

export interface Pattern {
  /** The pattern as written (trimmed, single spaces). */
  text: string;
  host: HostMatcher;
  /** Undefined: any port. */
  ports?: readonly PortRange[];
  /** Undefined: anyone. */
  users?: readonly string[];
  /** Compiled from the fields above: the port and user part, and the host part. */
  readonly applies: (t: Target) => boolean;
  readonly hostMatches: (t: Target) => boolean;
}

/** What a pattern is matched against: the name asked for, and/or one address, a port and the user. */
export interface Target {
  /** Normalized (see normalizeName); absent when the client gave an address. */
  name?: string;
  ip?: Ip;
  port: number;
  user?: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };
const fail = (error: string): { ok: false; error: string } => ({ ok: false, error });

const NON_ASCII = /[^\u0000-\u007f]/;

/** Lower case, no trailing dot, IDN as punycode (xn--…): the one spelling names are compared in. */
export function normalizeName(name: string): string {
  let n = name.toLowerCase();
  if (n.endsWith('.')) n = n.slice(0, -1);
  if (NON_ASCII.test(n)) n = domainToASCII(n) || n;
  return n;
}

/** The target for a destination as the client gave it: an address, or a name. */
export function targetOf(host: string, port: number, user?: string): Target {
  const ip = parseIp(host);
  // One shape for both (checkResolved sets `ip` on a name's target).
  return ip ? { name: undefined, ip, port, user } : { name: normalizeName(host), ip: undefined, port, user };
}

// Letters, digits, `-`, `_`, `*` and any non-ASCII letter (IDN), in labels separated by dots.
const NAME_CHARS = /^[a-z0-9_*\u0080-\uffff-]+$/i;

function parseHost(text: string): Parsed<HostMatcher> {
  if (text === '*' || text === '') return { ok: true, value: { kind: 'any' } };
  if (/^[\d.:[\]/a-f]+$/i.test(text) && (/^[\d./]+$/.test(text) || text.includes(':') || text.startsWith('['))) {
    const cidr = parseCidr(text);
    return typeof cidr === 'string' ? fail(cidr) : { ok: true, value: { kind: 'ip', cidr } };
  }
  const apex = text.startsWith('.') && !text.startsWith('..');
  const body = apex ? text.slice(1) : text;
  const labels = (body.endsWith('.') ? body.slice(0, -1) : body).split('.');
  for (const label of labels) {
    if (label === '') return fail(`"${text}" has an empty label`);
    if (!NAME_CHARS.test(label)) return fail(`"${text}" is not a host name, address or range`);
    if (label.length > 63) return fail(`"${text}" has a label over 63 characters`);
  }
  if (labels.every((l) => /^[\d*]+$/.test(l))) {
    return fail(`"${text}": write an address range as a CIDR (10.0.0.0/8), not with *`);
  }
  const ascii = labels.map((l) => (NON_ASCII.test(l) && !l.includes('*') ? domainToASCII(l) || l : l).toLowerCase());
  if (apex) {
    if (ascii.some((l) => l.includes('*'))) return fail(`"${text}": a leading dot already means "and every name below"; drop the *`);
    return { ok: true, value: { kind: 'suffix', suffix: `.${ascii.join('.')}`, apex: true } };
  }
  const rest = ascii.slice(1);
  if (ascii[0] === '*' && !rest.some((l) => l.includes('*'))) {
    return { ok: true, value: { kind: 'suffix', suffix: `.${rest.join('.')}`, apex: false } };
  }
  if (!ascii.some((l) => l.includes('*'))) return { ok: true, value: { kind: 'name', name: ascii.join('.') } };
  const esc = (l: string) => l.replace(/[.+?^${}()|[\]\\-]/g, '\\$&').replace(/\*/g, '[^.]*');
  const head = ascii[0] === '*' ? '(?:[^.]+\\.)+' : `${esc(ascii[0])}\\.`;
  return { ok: true, value: { kind: 'glob', re: new RegExp(`^${head}${rest.map(esc).join('\\.')}$`) } };
}

function parsePorts(text: string): Parsed<PortRange[] | undefined> {
  if (text === '*') return { ok: true, value: undefined };
  const ranges: PortRange[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
    const from = m ? +m[1] : NaN;
    const to = m?.[2] !== undefined ? +m[2] : from;
    if (!m || from > 65535 || to > 65535) return fail(`"${text}" is not a port (0-65535), a range (8000-8999) or *`);
    if (from > to) return fail(`port range "${part}" runs backwards`);
    ranges.push({ from, to });
  }
  return { ok: true, value: ranges };
}

/** Splits `HOST[:PORTS]`: an IPv6 address needs brackets to carry a port (`[::1]:443`). */
function splitHostPort(text: string): { host: string; ports?: string } {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) return { host: text };
    const after = text.slice(close + 1);
    // `[fc00::]/7:443`
    const m = /^(\/\d+)?(?::(.*))?$/.exec(after);
    if (!m) return { host: text };
    return m[2] === undefined ? { host: text.slice(0, close + 1) + (m[1] ?? '') } : { host: text.slice(0, close + 1) + (m[1] ?? ''), ports: m[2] };
  }
  const colons = text.split(':').length - 1;
  if (colons !== 1) return { host: text }; // none, or a bare IPv6 address / range
  const i = text.indexOf(':');
  return { host: text.slice(0, i), ports: text.slice(i + 1) };
}

/**
 * `HOST[:PORTS] [user:NAMES]` → a pattern, or an error saying what is wrong with it (without the
 * "rule N:" prefix: the caller knows the position). `user: alice` (with a space) is accepted too.
 */
export function parsePattern(input: string): Parsed<Pattern> {
  const tokens = input.trim().split(/\s+/).filter((t) => t !== '');
  if (tokens.length === 0) return fail('empty pattern');
  const hostPort = tokens[0];
  if (/^user:/i.test(hostPort)) return fail(`"${input.trim()}" has users but no destination (use * for any)`);
  let users: string[] | undefined;
  for (let i = 1; i < tokens.length; i++) {
    const t = tokens[i];
    const m = /^user:(.*)$/i.exec(t);
    if (!m) return fail(`unexpected "${t}" (after the destination only user:NAME may follow)`);
    let list = m[1];
    if (list === '' && i + 1 < tokens.length) list = tokens[++i]!;
    const names = list.split(',').filter((n) => n !== '');
    if (names.length === 0) return fail('user: needs a user name');
    users = [...(users ?? []), ...names];
  }
  const { host, ports } = splitHostPort(hostPort);
  const h = parseHost(host);
  if (!h.ok) return h;
  let portRanges: PortRange[] | undefined;
  if (ports !== undefined) {
    const p = parsePorts(ports);
    if (!p.ok) return p;
    portRanges = p.value;
  }
  const text = [hostPort, ...(users ? [`user:${users.join(',')}`] : [])].join(' ');
  return {
    ok: true,
    value: { text, host: h.value, ports: portRanges, users, applies: appliesTest(portRanges, users), hostMatches: hostTest(h.value) },
  };
}

/** Is this a pattern on addresses (it needs the resolved addresses of a name to decide)? */
export function isAddressPattern(p: Pattern): boolean {
  return p.host.kind === 'ip';
}

/** The host part as a test of its own (compiled once per pattern: the rules run per connection and per datagram). */
function hostTest(h: HostMatcher): (t: Target) => boolean {
  switch (h.kind) {
    case 'any':
      return () => true;
    case 'ip': {
      const c = h.cidr;
      return (t) => t.ip !== undefined && cidrContains(c, t.ip);
    }
    case 'name': {
      const name = h.name;
      return (t) => t.name === name;
    }
    case 'suffix': {
      const { suffix, apex } = h;
      const bare = suffix.slice(1);
      return (t) => t.name !== undefined && (t.name.endsWith(suffix) ? t.name.length > suffix.length : apex && t.name === bare);
    }
    case 'glob': {
      const re = h.re;
      return (t) => t.name !== undefined && re.test(t.name);
    }
  }
}

/** Port and user only (the host part aside). */
function appliesTest(ports: readonly PortRange[] | undefined, users: readonly string[] | undefined): (t: Target) => boolean {
  const one = ports?.length === 1 ? ports[0] : undefined;
  const portOk =
    ports === undefined
      ? undefined
      : one !== undefined
        ? (port: number) => port >= one.from && port <= one.to
        : (port: number) => ports.some((r) => port >= r.from && port <= r.to);
  if (users === undefined) return portOk === undefined ? () => true : (t) => portOk(t.port);
  const set = new Set(users);
  return (t) => t.user !== undefined && set.has(t.user) && (portOk === undefined || portOk(t.port));
}

/** Port and user only (the host part aside). */
export function appliesTo(p: Pattern, t: Target): boolean {
  return p.applies(t);
}

export function matchesPattern(p: Pattern, t: Target): boolean {
  return p.applies(t) && p.hostMatches(t);
}

/**
 * A list of patterns (the upstream's bypass list): does any match the destination as the client
 * gave it (a name or an address; no lookup)? Built with compilePatterns.
 */
export class PatternList {
  constructor(readonly patterns: readonly Pattern[]) {}
  get size(): number {
    return this.patterns.length;
  }
  /** The first pattern matching `host:port` (for `user`), or undefined. */
  match(host: string, port: number, user?: string): Pattern | undefined {
    if (this.patterns.length === 0) return undefined;
    const t = targetOf(host, port, user);
    return this.patterns.find((p) => matchesPattern(p, t));
  }
  matches(host: string, port: number, user?: string): boolean {
    return this.match(host, port, user) !== undefined;
  }
}

/**
 * Parses every entry (blank ones skipped). Errors name the entry by its 1-based position:
 * `pattern 2: "10.0.0.0/33": the prefix length must be 0 to 32`. The list holds the valid ones.
 */
export function compilePatterns(texts: readonly string[], noun = 'pattern'): { list: PatternList; errors: string[] } {
  const patterns: Pattern[] = [];
  const errors: string[] = [];
  texts.forEach((text, i) => {
    if (text.trim() === '') return;
    const p = parsePattern(text);
    if (p.ok) patterns.push(p.value);
    else errors.push(`${noun} ${i + 1}: ${p.error}`);
  });
  return { list: new PatternList(patterns), errors };
}
