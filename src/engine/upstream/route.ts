// The upstream route for CONNECT: a Dialer that sends each destination either direct (it matches
// upstream.bypass) or through the upstream, and says which (Dialed.route). Never a silent direct
// fallback: when the upstream fails, the dial fails, with a text naming the upstream.

import { isIP } from 'node:net';
import { DialError, failureForError } from '../commands/context';
import type { Destination, Dialed, Dialer, DialOptions, Endpoint } from '../types';
import { CMD } from '../protocol/socks5/wire';
import type { CompiledUpstream } from './config';
import { openTunnel, type UpstreamDeps } from './dial';

/** ConnectionInfo.route of a connection that went direct although an upstream is configured. */
export const DIRECT_ROUTE = 'direct';

/** Goes direct for `upstream.bypass`, else through the upstream; `direct` also carries the hop to the upstream itself. */
export function upstreamDialer(upstream: CompiledUpstream, direct: Dialer): Dialer {
  return {
    async dial(target: Destination, options: DialOptions): Promise<Dialed> {
      if (bypasses(upstream, target)) return { ...(await direct.dial(target, options)), route: DIRECT_ROUTE };
      let tunnel;
      try {
        // The upstream would resolve the name: the rules see its addresses here first (no rebinding past them).
        if (options.checkAddresses && target.type === 'domain' && upstream.proxy.scheme !== 'socks5') await options.resolver.resolve(target.host);
        tunnel = await openTunnel(upstream.proxy, CMD.CONNECT, target, tunnelDeps(direct, options));
      } catch (err) {
        throw asDialError(err);
      }
      return { socket: tunnel.socket, remote: { host: target.host, port: target.port }, route: upstream.name, handshakeBytes: tunnel.handshakeBytes };
    },
  };
}

/** Does `target` go direct (it matches a bypass pattern: the name or address as the client gave it, no lookup)? */
export function bypasses(upstream: CompiledUpstream, target: Endpoint): boolean {
  return upstream.bypass.size > 0 && upstream.bypass.matches(target.host, target.port);
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
  if (err instanceof DialError) return err; // UpstreamError included
  return new DialError(failureForError(err), err instanceof Error ? err.message : String(err));
}
