// The defaults and the safety rule every host of the engine applies (the extension's settings, the
// CLI): written here once.
//
// The rule: a listener other machines can reach never runs without authentication unless the
// user said so explicitly (socks5.allowUnauthenticatedRemote, --allow-unauthenticated-remote),
// and then it runs with a warning.

import { isLoopbackHost } from './loopback';
import type { ServerOptions, Timeouts } from './types';

export const DEFAULT_TIMEOUTS: Timeouts = Object.freeze({
  handshakeMs: 10_000,
  connectMs: 10_000,
  idleMs: 0,
  bindMs: 60_000,
});

export const DEFAULT_OPTIONS: Omit<ServerOptions, 'users' | 'logger'> = Object.freeze({
  host: '127.0.0.1',
  port: 1080,
  timeouts: DEFAULT_TIMEOUTS,
  maxConnections: 1024,
  commands: Object.freeze({ connect: true, bind: true, udpAssociate: true }),
  protocols: Object.freeze({ socks5: true, socks4: true, http: true }),
});

/**
 * What the rule says about listening on `host` with `users` users:
 * - 'ok': loopback only, or authentication on;
 * - 'open': reachable from the network without authentication, allowed explicitly (warn);
 * - 'refused': reachable from the network without authentication, not allowed.
 */
export type ListenVerdict = 'ok' | 'open' | 'refused';

export function listenVerdict(host: string, users: number, allowUnauthenticatedRemote: boolean): ListenVerdict {
  if (users > 0 || isLoopbackHost(host)) return 'ok';
  return allowUnauthenticatedRemote ? 'open' : 'refused';
}
