// Where the rules meet the command handlers, through the seams every front door shares (the
// CommandContext, its Resolver): nothing here knows SOCKS5, SOCKS4 or HTTP bytes.
//   - guarded(handler): before a handler runs, a destination name that is not a host name gets
//     'host-unreachable' and (for BIND) one the rules deny by itself (an address, or a name denied
//     by a name rule) gets 'not-allowed': neither is looked up.
//   - rulesDialer(dialer): the same for every outbound stream (CONNECT, HTTP), with every address
//     a name resolves to checked (checkedResolver: no DNS-rebinding bypass).
//   - peerDenied (BIND's peer) and DatagramGate (each UDP datagram).
//   - denial texts: `denied by rule 3: deny *.corp.example`, for the outcome, the log and the UI.

import { DialError, type CommandHandler } from '../commands/context';
import type { Destination, Dialed, Dialer, DialOptions, Resolver } from '../types';
import type { CompiledRules } from './config';
import { invalidHostName } from './hostname';
import type { DestinationPolicy, Verdict } from './rules';

/** `denied by rule 3: deny *.corp.example`, with `(NAME resolved to ADDRESS)` when an address was denied. */
export function deniedText(v: Extract<Verdict, { allowed: false }>, host?: string): string {
  const via = v.address !== undefined && host !== undefined && host !== v.address ? ` (${host} resolved to ${v.address})` : '';
  return `denied by ${v.reason}${via}`;
}

/** `invalid host name "a..b" (an empty label)`. The logger escapes control characters. */
export function invalidNameText(host: string, why: string): string {
  return `invalid host name "${host}" (${why})`;
}

/** The handler, behind the host-name check and the rules' verdict on the destination as given. */
export function guarded(handler: CommandHandler, checkRules: boolean): CommandHandler {
  return (ctx) => {
    const d = ctx.destination;
    if (d.type === 'domain') {
      const why = invalidHostName(d.host);
      if (why !== undefined) {
        ctx.logger.info(`${ctx.tag} refused: ${invalidNameText(d.host, why)}`);
        return ctx.fail('host-unreachable', invalidNameText(d.host, why));
      }
    }
    const rules = ctx.config.rules.destinations;
    if (checkRules && rules.active && !isUnspecified(d.host)) {
      const v = rules.check(d.host, d.port, ctx.user);
      if (v !== 'resolve' && !v.allowed) return ctx.fail('not-allowed', deniedText(v));
    }
    handler(ctx);
  };
}

/** 0.0.0.0 / :: in a BIND request: "any peer", checked when the peer arrives (see peerDenied). */
function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/**
 * `inner` with every answer checked against `rules` for `port` and `user`: a denied address rejects
 * the lookup with a 'not-allowed' DialError. `inner` itself when no rule could deny.
 */
export function checkedResolver(inner: Resolver, rules: DestinationPolicy, port: number, user: string | undefined): Resolver {
  if (!rules.active) return inner;
  return {
    async resolve(host: string): Promise<string[]> {
      const addresses = await inner.resolve(host);
      const v = rules.checkResolved(host, addresses, port, user);
      if (!v.allowed) throw new DialError('not-allowed', deniedText(v, host));
      return addresses;
    },
  };
}

/**
 * The server's dialer behind the host-name check and the rules, for every outbound stream (SOCKS
 * CONNECT, HTTP CONNECT, HTTP forwarding, whatever dialer is inside: direct or an upstream): an
 * invalid name is 'host-unreachable' and a denied destination 'not-allowed' before any lookup; a
 * name the rules must see the addresses of is resolved through checkedResolver, so no address it
 * resolves to is dialled unless all of them are allowed.
 */
export function rulesDialer(inner: Dialer, rules: DestinationPolicy): Dialer {
  return {
    dial(target: Destination, options: DialOptions): Promise<Dialed> {
      if (target.type === 'domain') {
        const why = invalidHostName(target.host);
        if (why !== undefined) return Promise.reject(new DialError('host-unreachable', invalidNameText(target.host, why)));
      }
      if (!rules.active) return inner.dial(target, options);
      const user = options.scope.user;
      const v = rules.check(target.host, target.port, user);
      if (v === 'resolve') return inner.dial(target, { ...options, resolver: checkedResolver(options.resolver, rules, target.port, user), checkAddresses: true });
      return v.allowed ? inner.dial(target, options) : Promise.reject(new DialError('not-allowed', deniedText(v)));
    },
  };
}

/** BIND: why a peer that connected from `address` is denied, or undefined. */
export function peerDenied(rules: CompiledRules, address: string, port: number, user: string | undefined): string | undefined {
  if (!rules.destinations.active) return undefined;
  const v = rules.destinations.check(address, port, user);
  return v !== 'resolve' && !v.allowed ? deniedText(v) : undefined;
}

/**
 * UDP: a verdict per destination, for every datagram. Addresses and names are remembered per
 * association (bounded), so a stream of datagrams to one destination costs one check.
 */
export class DatagramGate {
  private readonly seen = new Map<string, string | null>();
  constructor(
    private readonly rules: CompiledRules,
    private readonly user: string | undefined,
  ) {}

  get active(): boolean {
    return this.rules.destinations.active;
  }

  /**
   * Why a datagram to `host:port` (a name: after it resolved to `address`) is not allowed, or
   * undefined. Invalid host names are refused whatever the rules.
   */
  denied(host: string, port: number, address?: string): string | undefined {
    const key = `${host} ${port} ${address ?? ''}`;
    const hit = this.seen.get(key);
    if (hit !== undefined) return hit ?? undefined;
    let why: string | undefined;
    const p = this.rules.destinations;
    const v = p.check(host, port, this.user);
    if (v !== 'resolve') why = v.allowed ? undefined : deniedText(v);
    else if (address !== undefined) {
      const r = p.checkResolved(host, [address], port, this.user);
      why = r.allowed ? undefined : deniedText(r, host);
    }
    if (this.seen.size >= 256) this.seen.clear();
    this.seen.set(key, why ?? null);
    return why;
  }
}
