// The rules as plain options (what settings.json, the CLI and ServerOptions carry: strings and a
// boolean) and their compiled form (what the engine checks against). One compile for all three, so a
// rule means the same everywhere and its errors read the same.

import { ClientList, DestinationPolicy, parseRules } from './rules';

export interface RulesOptions {
  /** IPs and CIDR ranges allowed to connect. Empty: everyone who can reach the listener. */
  clients: readonly string[];
  /** `allow PATTERN` / `deny PATTERN`, in order, first match wins, default allow. */
  destinations: readonly string[];
  /** Deny private, loopback, link-local and this machine's own addresses (before the rules). */
  blockPrivate: boolean;
}

export const DEFAULT_RULES: Readonly<RulesOptions> = Object.freeze({ clients: [], destinations: [], blockPrivate: false });

export interface CompiledRules {
  readonly clients: ClientList;
  readonly destinations: DestinationPolicy;
}

/** Nothing to check: every client, every destination. */
export const NO_RULES: CompiledRules = Object.freeze({ clients: new ClientList(), destinations: new DestinationPolicy() });

/**
 * `listenerAddresses`: the proxy's own listener address(es) for block-private. Errors name the entry:
 * `client 2: …`, `rule 3: …`; with any error nothing is compiled (the caller keeps what it had).
 */
export function compileRules(
  options: Partial<RulesOptions> | undefined,
  listenerAddresses?: () => readonly string[],
): { ok: true; rules: CompiledRules } | { ok: false; errors: string[] } {
  const o = { ...DEFAULT_RULES, ...options };
  const clients = ClientList.parse(o.clients);
  const destinations = parseRules(o.destinations);
  const errors = [...clients.errors, ...destinations.errors];
  if (errors.length > 0) return { ok: false, errors };
  if (clients.list.size === 0 && destinations.rules.length === 0 && !o.blockPrivate) return { ok: true, rules: NO_RULES };
  return {
    ok: true,
    rules: {
      clients: clients.list,
      destinations: new DestinationPolicy({ rules: destinations.rules, blockPrivate: o.blockPrivate, listenerAddresses }),
    },
  };
}

/** The problems with `options`, each naming its entry; empty when they compile. */
export function rulesProblems(options: Partial<RulesOptions> | undefined): string[] {
  const r = compileRules(options);
  return r.ok ? [] : r.errors;
}
