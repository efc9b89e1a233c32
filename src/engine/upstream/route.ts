// The upstream route for CONNECT: a Dialer that sends each destination either direct (it matches
// upstream.bypass) or through the upstream, and says which (Dialed.route). Never a silent direct
// fallback: when the upstream fails, the dial fails, with a text naming the upstream.

import { isIP } from 'node:net';
import { DialError } from '../commands/context';
import type { Destination, Dialed, Dialer, DialOptions, Endpoint } from '../types';
import { CMD } from '../wire';
import type { CompiledUpstream } from './config';
import { openTunnel, type UpstreamDeps } from './dial';
import { UpstreamError } from './errors';

/** ConnectionInfo.route of a connection that went direct although an upstream is configured. */
export const DIRECT_ROUTE = 'direct';

/** Goes direct for `upstream.bypass`, else through the upstream; `direct` also carries the hop to the upstream itself. */
export function upstreamDialer(upstream: CompiledUpstream, direct: Dialer): Dialer {
  return {
    async dial(target: Destination, options: DialOptions): Promise<Dialed> {
      if (bypasses(upstream, target)) return { ...(await direct.dial(target, options)), route: DIRECT_ROUTE };
      let tunnel;
      try {
        tunnel = await openTunnel(upstream.proxy, CMD.CONNECT, target, tunnelDeps(direct, options));
      } catch (err) {
        throw asDialError(err);
      }
      return { socket: tunnel.socket, remote: { host: target.host, port: target.port }, route: upstream.name };
    },
  };
}

/** Does `target` go direct (it matches a bypass pattern: the name or address as the client gave it, no lookup)? */
export function bypasses(upstream: CompiledUpstream, target: Endpoint, user?: string): boolean {
  return upstream.bypass.size > 0 && upstream.bypass.matches(target.host, target.port, user);
}

/** The hop to the upstream goes through the direct dialer (every address of its name, Happy Eyeballs). */
export function tunnelDeps(direct: Dialer, options: DialOptions): UpstreamDeps {
  return {
    connect: async (host, port, timeoutMs) => {
      const type = isIP(host) === 4 ? 'ipv4' : isIP(host) === 6 ? 'ipv6' : 'domain';
      const d = await direct.dial({ type, host, port }, { ...options, timeoutMs });
      return d.socket;
    },
    resolve: (host) => options.resolver.resolve(host),
    timeoutMs: options.timeoutMs,
  };
}

export function asDialError(err: unknown): DialError {
  if (err instanceof UpstreamError) return new DialError(err.kind, err.message, err.upstreamReply);
  if (err instanceof DialError) return err;
  return new DialError('general', err instanceof Error ? err.message : String(err));
}
