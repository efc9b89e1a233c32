// Who may connect (a client allow-list) and where they may go (ordered allow/deny rules, first match
// wins, default allow, plus the block-private preset). Pure: no sockets; the engine asks.
//
// Rule syntax (one string per rule: a settings array item, or one --allow/--deny flag):
//   allow|deny PATTERN        PATTERN as in pattern.ts: HOST[:PORTS] [user:NAMES]
//   allow *.example.com:443
//   deny 10.0.0.0/8
//   deny * user:bob
//
// A destination is checked on the name the client asked for and on every address it resolves to:
// each (name, address) pair goes through the rules in order and the first rule whose pattern
// matches (a name pattern by the name, an address pattern by the address) decides that pair. The
// destination is denied when any pair is denied (no DNS-rebinding bypass, and Happy Eyeballs cannot
// fall back to a denied address). Block-private comes before the rules: an allow rule cannot open a
// private address while it is on.

import { parseCidr, parseIp, cidrContains, type Cidr, type Ip } from './ip';
import { appliesTo, isAddressPattern, matchesPattern, parsePattern, targetOf, type Parsed, type Pattern, type Target } from './pattern';
import { PrivateNetworks } from './private';

export type Action = 'allow' | 'deny';

export interface Rule {
  /** 1-based position in the list it came from. */
  index: number;
  action: Action;
  pattern: Pattern;
  /** `deny *.corp.example` (normalized spacing). */
  text: string;
}

/** `allow PATTERN` / `deny PATTERN` → a rule (index 0: the caller numbers it). */
export function parseRule(line: string): Parsed<Rule> {
  const m = /^\s*(\S+)\s*(.*)$/s.exec(line);
  const word = (m?.[1] ?? '').toLowerCase();
  if (word !== 'allow' && word !== 'deny') {
    return { ok: false, error: `"${line.trim()}" must start with allow or deny` };
  }
  const p = parsePattern(m![2]);
  if (!p.ok) return { ok: false, error: m![2].trim() === '' ? `"${line.trim()}" needs a destination (use * for any)` : p.error };
  return { ok: true, value: { index: 0, action: word, pattern: p.value, text: `${word} ${p.value.text}` } };
}

/**
 * Every line, numbered from 1 (blank lines keep their number and are skipped). Errors name the
 * rule: `rule 3: "alow *" must start with allow or deny`.
 */
export function parseRules(lines: readonly string[]): { rules: Rule[]; errors: string[] } {
  const rules: Rule[] = [];
  const errors: string[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const r = parseRule(line);
    if (r.ok) rules.push({ ...r.value, index: i + 1 });
    else errors.push(`rule ${i + 1}: ${r.error}`);
  });
  return { rules, errors };
}

export type Verdict =
  | { allowed: true }
  | {
      allowed: false;
      /** `rule 3: deny *.corp.example` or `block-private: 10.0.0.0/8 (private, RFC 1918)`. */
      reason: string;
      rule?: Rule;
      /** The resolved address that was denied, when the name itself was not. */
      address?: string;
    };

const ALLOWED: Verdict = Object.freeze({ allowed: true });

export interface DestinationPolicyOptions {
  rules?: readonly Rule[];
  blockPrivate?: boolean;
  /** The proxy's listener address(es), denied by block-private like the machine's interface addresses. */
  listenerAddresses?: () => readonly string[];
  /** For tests: the machine's interface addresses. */
  interfaceAddresses?: () => readonly string[];
}

/** Where clients may go. Immutable; build a new one to change the rules. */
export class DestinationPolicy {
  readonly rules: readonly Rule[];
  readonly blockPrivate: boolean;
  private readonly privateNets: PrivateNetworks | undefined;
  private readonly hasAddressRules: boolean;
  /** The rules that can match a destination given as an address (no name): `*` and address patterns, in order. */
  private readonly addressOnly: readonly Rule[];

  constructor(options: DestinationPolicyOptions = {}) {
    this.rules = options.rules ?? [];
    this.blockPrivate = options.blockPrivate ?? false;
    this.privateNets = this.blockPrivate
      ? new PrivateNetworks(options.listenerAddresses, options.interfaceAddresses)
      : undefined;
    this.hasAddressRules = this.rules.some((r) => isAddressPattern(r.pattern));
    this.addressOnly = this.rules.filter((r) => isAddressPattern(r.pattern) || r.pattern.host.kind === 'any');
  }

  /** False when there is nothing to check (no rules, no preset): every destination is allowed. */
  get active(): boolean {
    return this.rules.length > 0 || this.blockPrivate;
  }

  /**
   * Before any lookup, on the destination as the client gave it. An address gets its final verdict;
   * a name gets a deny when the rules deny it whatever it resolves to, 'resolve' when its addresses
   * must be checked too (checkResolved), or an allow when no address could change that.
   */
  check(host: string, port: number, user?: string): Verdict | 'resolve' {
    if (!this.active) return ALLOWED;
    const t = targetOf(host, port, user);
    if (t.ip) return this.decide(t, undefined);
    let addressRuleSeen = false;
    for (const r of this.rules) {
      if (!appliesTo(r.pattern, t)) continue;
      if (isAddressPattern(r.pattern)) {
        if (r.action === 'allow') return 'resolve'; // an address may be allowed before the name is denied
        addressRuleSeen = true;
        continue;
      }
      if (!matchesPattern(r.pattern, t)) continue;
      if (r.action === 'deny') return denied(r);
      return addressRuleSeen || this.blockPrivate ? 'resolve' : ALLOWED;
    }
    return this.hasAddressRules || this.blockPrivate ? 'resolve' : ALLOWED;
  }

  /** The addresses `host` resolved to: denied when any of them is. */
  checkResolved(host: string, addresses: readonly string[], port: number, user?: string): Verdict {
    if (!this.active) return ALLOWED;
    const t = targetOf(host, port, user);
    for (const a of addresses) {
      const ip = parseIp(a);
      if (!ip) continue;
      t.ip = ip; // one target for every address: (name, address) pairs
      const v = this.decide(t, a);
      if (!v.allowed) return v;
    }
    return ALLOWED;
  }

  /** One (name, address) pair, or an address alone. */
  private decide(t: Target, address: string | undefined): Verdict {
    if (this.privateNets && t.ip) {
      const p = this.privateNets.match(t.ip);
      if (p) return { allowed: false, reason: `block-private: ${p.range} (${p.what})`, ...(address !== undefined && { address }) };
    }
    const rules = t.name === undefined ? this.addressOnly : this.rules;
    for (let i = 0; i < rules.length; i++) {
      const p = rules[i].pattern;
      if (p.applies(t) && p.hostMatches(t)) return rules[i].action === 'allow' ? ALLOWED : denied(rules[i], address);
    }
    return ALLOWED;
  }
}

function denied(rule: Rule, address?: string): Verdict {
  return { allowed: false, reason: `rule ${rule.index}: ${rule.text}`, rule, ...(address !== undefined && { address }) };
}

/** Who may connect: IPs and CIDR ranges. Empty: everyone who can reach the listener. */
export class ClientList {
  private readonly ranges: readonly Cidr[];

  constructor(ranges: readonly Cidr[] = []) {
    this.ranges = ranges;
  }

  /** Errors name the entry: `client 2: "10.0.0.0/33": the prefix length must be 0 to 32`. */
  static parse(entries: readonly string[]): { list: ClientList; errors: string[] } {
    const ranges: Cidr[] = [];
    const errors: string[] = [];
    entries.forEach((e, i) => {
      if (e.trim() === '') return;
      const c = parseCidr(e);
      if (typeof c === 'string') errors.push(`client ${i + 1}: ${c}`);
      else ranges.push(c);
    });
    return { list: new ClientList(ranges), errors };
  }

  get size(): number {
    return this.ranges.length;
  }

  get texts(): string[] {
    return this.ranges.map((r) => r.text);
  }

  /** `address`: the client's address as the socket reports it (IPv4-mapped counts as IPv4). */
  allows(address: string | undefined): boolean {
    if (this.ranges.length === 0) return true;
    const ip: Ip | undefined = address === undefined ? undefined : parseIp(address);
    return ip !== undefined && this.ranges.some((r) => cidrContains(r, ip));
  }
}
