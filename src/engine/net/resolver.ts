// Name resolution, one seam for CONNECT, BIND and UDP ASSOCIATE: the OS resolver by default, any
// Resolver given in ServerOptions (custom DNS, rules, tests) instead. UDP, which may meet a name in
// every datagram, asks through a cache in front of the same resolver.

import { lookup, lookupService } from 'node:dns';
import { isIP } from 'node:net';
import type { Resolver, ServerOptions } from '../types';

/** The OS resolver: every address of `host`, both families, in the resolver's order. */
export const systemResolver: Resolver = {
  resolve(host: string): Promise<string[]> {
    return new Promise((resolve, reject) =>
      lookup(host, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses.map((a) => a.address)))),
    );
  },
  /** getnameinfo: the hosts file, then DNS (PTR), as every other program on this machine sees it. */
  reverse(ip: string): Promise<string[]> {
    return new Promise((resolve, reject) => lookupService(ip, 0, (err, hostname) => (err ? reject(err) : resolve([hostname]))));
  },
};

/** The resolver a server uses: `resolver`, else `resolve` as one, else the OS resolver. */
export function resolverFor(options: Pick<ServerOptions, 'resolve' | 'resolver'>): Resolver {
  if (options.resolver) return options.resolver;
  const fn = options.resolve;
  return fn ? { resolve: (host) => fn(host), reverse: (ip) => systemResolver.reverse!(ip) } : systemResolver;
}

export interface Resolved {
  address: string;
  family: 4 | 6;
}

/**
 * A small cache in front of a Resolver, for UDP: a hot name is resolved once per `ttlMs`, not per
 * datagram; its first address is used. Failures are remembered for `negativeTtlMs`. Concurrent
 * misses for one name share one lookup (at most `maxWaiters` datagrams wait for it; more are
 * dropped). Bounded size: the oldest entry goes first.
 */
export class DnsCache {
  private readonly entries = new Map<string, { value: Resolved | null; expires: number }>();
  private readonly inflight = new Map<string, Array<(r: Resolved | null) => void>>();

  constructor(
    private readonly resolver: Resolver = systemResolver,
    private readonly ttlMs = 30_000,
    private readonly negativeTtlMs = 5_000,
    private readonly maxEntries = 512,
    private readonly maxWaiters = 64,
  ) {}

  /** A fresh cached answer (null = known not to resolve), or undefined: call resolve(). */
  get(name: string): Resolved | null | undefined {
    const e = this.entries.get(name);
    if (e === undefined) return undefined;
    if (e.expires > Date.now()) return e.value;
    this.entries.delete(name);
    return undefined;
  }

  /** Resolves `name` (one lookup for concurrent callers); `cb(null)` when it does not resolve. */
  resolve(name: string, cb: (r: Resolved | null) => void): void {
    const waiting = this.inflight.get(name);
    if (waiting) {
      if (waiting.length < this.maxWaiters) waiting.push(cb);
      else cb(null);
      return;
    }
    this.inflight.set(name, [cb]);
    const settle = (value: Resolved | null): void => {
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(name, { value, expires: Date.now() + (value ? this.ttlMs : this.negativeTtlMs) });
      const callbacks = this.inflight.get(name) ?? [];
      this.inflight.delete(name);
      for (const f of callbacks) f(value);
    };
    let pending: Promise<string[]>;
    try {
      pending = this.resolver.resolve(name);
    } catch {
      return settle(null);
    }
    pending.then(
      (addresses) => {
        const address = addresses[0];
        const family = address === undefined ? 0 : isIP(address);
        settle(family === 0 ? null : { address: address, family: family === 6 ? 6 : 4 });
      },
      () => settle(null),
    );
  }

  get size(): number {
    return this.entries.size;
  }
}
