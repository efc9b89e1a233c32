// The "block private networks" preset: for a proxy opened to the network, no client may use it to
// reach this machine, its LAN or anything else not on the public internet.

import { networkInterfaces } from 'node:os';
import { cidrContains, embeddedIPv4, formatIp, parseCidr, parseIp, sameIp, type Cidr, type Ip } from './ip';

/** What the preset denies besides the proxy's own addresses. Each with why, for the docs and the deny message. */
export const PRIVATE_RANGES: readonly { range: string; what: string }[] = [
  { range: '0.0.0.0/8', what: 'this network, incl. 0.0.0.0' },
  { range: '10.0.0.0/8', what: 'private, RFC 1918' },
  { range: '100.64.0.0/10', what: 'carrier-grade NAT, RFC 6598' },
  { range: '127.0.0.0/8', what: 'loopback' },
  { range: '169.254.0.0/16', what: 'link-local, incl. cloud metadata 169.254.169.254' },
  { range: '172.16.0.0/12', what: 'private, RFC 1918' },
  { range: '192.0.0.0/24', what: 'IETF protocol assignments' },
  { range: '192.168.0.0/16', what: 'private, RFC 1918' },
  { range: '198.18.0.0/15', what: 'benchmarking, RFC 2544' },
  { range: '224.0.0.0/4', what: 'multicast' },
  { range: '240.0.0.0/4', what: 'reserved, incl. broadcast' },
  { range: '::/128', what: 'unspecified' },
  { range: '::1/128', what: 'loopback' },
  { range: 'fc00::/7', what: 'unique local, ULA' },
  { range: 'fe80::/10', what: 'link-local' },
  { range: 'fec0::/10', what: 'site-local, deprecated' },
  { range: 'ff00::/8', what: 'multicast' },
];

const RANGES: readonly { cidr: Cidr; what: string }[] = PRIVATE_RANGES.map((r) => ({ cidr: parseCidr(r.range) as Cidr, what: r.what }));

/** The machine's own interface addresses are read again after this long (a VPN coming up adds one). */
const INTERFACES_TTL_MS = 30_000;

export interface PrivateMatch {
  /** The range or address that matched, e.g. `10.0.0.0/8` or `203.0.113.7`. */
  range: string;
  what: string;
}

/**
 * The preset as a checker. `ownAddresses` returns the proxy's listener address(es); the machine's
 * interface addresses (os.networkInterfaces()) are added and re-read every 30 s.
 */
export class PrivateNetworks {
  private own: { ip: Ip; text: string }[] = [];
  private readAt = -Infinity;

  constructor(
    private readonly listenerAddresses: () => readonly string[] = () => [],
    private readonly interfaces: () => readonly string[] = interfaceAddresses,
    private readonly now: () => number = Date.now,
  ) {}

  /** Why `ip` is private, or undefined when it is a public address. */
  match(ip: Ip): PrivateMatch | undefined {
    const candidates = [ip];
    const inner = embeddedIPv4(ip);
    if (inner) candidates.push(inner);
    for (const c of candidates) {
      for (const r of RANGES) if (cidrContains(r.cidr, c)) return { range: r.cidr.text, what: r.what };
    }
    for (const o of this.ownAddresses()) {
      if (candidates.some((c) => sameIp(c, o.ip))) return { range: o.text, what: "this machine's own address" };
    }
    return undefined;
  }

  private ownAddresses(): { ip: Ip; text: string }[] {
    const t = this.now();
    if (t - this.readAt >= INTERFACES_TTL_MS) {
      this.readAt = t;
      const seen = new Set<string>();
      this.own = [];
      for (const a of [...this.listenerAddresses(), ...this.interfaces()]) {
        const ip = parseIp(a);
        const text = ip ? formatIp(ip) : '';
        if (!ip || seen.has(text)) continue;
        seen.add(text);
        this.own.push({ ip, text });
      }
    }
    return this.own;
  }
}

export function interfaceAddresses(): string[] {
  try {
    return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  } catch {
    return []; // some sandboxes refuse the call (uv_interface_addresses)
  }
}
