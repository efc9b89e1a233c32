// UDP ASSOCIATE through a SOCKS5 upstream: this proxy keeps its own relay for the client (the
// client's address checks, port pinning, counters and bypass stay here), and opens an
// association of its own at the upstream. A client datagram whose destination goes through the
// upstream is sent on to the upstream's relay as it is (the same RFC 1928 §7 header: the upstream
// reads the destination from it); with socks5:// a destination name is resolved here first and
// the header rewritten with the address. What the upstream's relay sends back already carries the
// header naming the remote sender: it goes to the client as it is.
// The association at the upstream lives as long as its control connection: when the upstream
// closes it, the client's association ends too.

import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { isIPv6, type Socket } from 'node:net';
import { canonicalIp, isUnspecifiedIp } from '../address';
import type { CommandContext } from '../commands/context';
import { CMD, encodeUdpHeader, parseUdpHeader, type UdpHeader } from '../protocol/socks5/wire';
import type { Endpoint } from '../types';
import type { CompiledUpstream, UpstreamRoute } from './config';
import { openTunnel } from './dial';
import { UpstreamError } from './errors';
import { tunnelDeps } from './route';

export interface UpstreamUdp {
  /** The upstream's relay, as datagrams are sent to it. */
  readonly relay: Endpoint;
  /** Sends a client datagram (header included) on to the upstream's relay; false when it could not be sent. */
  forward(datagram: Buffer, header: UdpHeader, resolved?: string): boolean;
}

/**
 * Opens the association at the upstream. `deliver` gets each datagram from the upstream's relay
 * (header included) and the length of its DATA. Rejects with an UpstreamError.
 */
export async function associateUpstream(
  ctx: CommandContext,
  upstream: UpstreamRoute,
  deliver: (datagram: Buffer, dataLength: number) => void,
): Promise<UpstreamUdp> {
  const { timeouts, resolver } = ctx.config;
  // DST 0.0.0.0:0: this proxy does not know yet which port it will send from (RFC 1928 §6).
  const tunnel = await openTunnel(upstream.proxy, CMD.UDP_ASSOCIATE, { host: '0.0.0.0', port: 0 }, tunnelDeps(upstream.hop, { timeoutMs: timeouts.connectMs, resolver, scope: ctx }));
  const control = tunnel.socket;
  if (ctx.isClosed) {
    control.destroy();
    throw new UpstreamError('closed while associating', 'general');
  }
  ctx.own(control);
  const relay = relayAddress(tunnel.reply!, control);
  const relayIp = canonicalIp(relay.host) ?? relay.host;
  const socket: UdpSocket = createSocket(isIPv6(relay.host) ? { type: 'udp6', ipv6Only: true } : { type: 'udp4' });
  ctx.own(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, () => {
      socket.removeListener('error', reject);
      resolve();
    });
  });
  socket.on('error', (err) => ctx.logger.debug(`${ctx.tag} UDP via upstream ${upstream.name}: ${err.message}`));
  socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    // Only the upstream's relay speaks for the remote side; anything else is dropped.
    if (rinfo.port !== relay.port || (canonicalIp(rinfo.address) ?? rinfo.address) !== relayIp) return;
    const h = parseUdpHeader(msg);
    if (!h.ok || h.value.frag !== 0) return;
    deliver(msg, msg.length - h.value.dataOffset);
  });
  watchControl(ctx, control, upstream);
  return {
    relay,
    forward(datagram, header, resolved) {
      const out = resolved === undefined ? datagram : Buffer.concat([encodeUdpHeader(resolved, header.port), datagram.subarray(header.dataOffset)]);
      try {
        socket.send(out, relay.port, relay.host);
        return true;
      } catch {
        return false;
      }
    },
  };
}

/** The upstream's BND, or (unspecified: "where you reached me") the address of its control connection. */
function relayAddress(reply: Endpoint, control: Socket): Endpoint {
  if (!isUnspecifiedIp(reply.host)) return { host: reply.host, port: reply.port };
  return { host: control.remoteAddress ?? '127.0.0.1', port: reply.port };
}

function watchControl(ctx: CommandContext, control: Socket, upstream: CompiledUpstream): void {
  control.on('data', () => {}); // nothing more is expected on it; read and drop
  const ended = (why: string) => ctx.close({ kind: 'closed-by-target', message: `upstream ${upstream.name} ${why}` });
  control.on('end', () => ended('ended the UDP association'));
  control.on('error', (err) => ended(`UDP association failed: ${err.message}`));
  control.resume();
}
