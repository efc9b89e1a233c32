// CONNECT: ask the dialer for the outbound stream (the direct dialer resolves and connects with a
// deadline), report the outbound socket's real local address, relay.

import type { Socket } from 'node:net';
import { formatHostPort } from '../address';
import { relay } from '../relay';
import type { Dialed } from '../types';
import { DialError, failureForError, type CommandContext } from './context';

export function handleConnect(ctx: CommandContext): void {
  ctx.update({ state: 'connecting' });
  const { dialer, resolver, timeouts } = ctx.config;
  let dialing: Promise<Dialed>;
  try {
    dialing = dialer.dial(ctx.destination, { timeoutMs: timeouts.connectMs, resolver, scope: ctx });
  } catch (err) {
    return failed(ctx, err);
  }
  dialing.then(
    (d) => {
      if (ctx.isClosed) d.socket.destroy();
      else established(ctx, d);
    },
    (err: unknown) => failed(ctx, err),
  );
}

function failed(ctx: CommandContext, err: unknown): void {
  if (ctx.isClosed) return;
  const detail = err instanceof Error ? err.message : String(err);
  ctx.fail(failureForError(err), detail, err instanceof DialError ? err.upstreamReply : undefined);
}

const CTX = Symbol('connectContext');
type TargetSocket = Socket & { [CTX]: CommandContext };

// The target socket's listeners, shared by every session (`this` is the socket).
function onTargetError(this: TargetSocket, err: Error): void {
  this[CTX].close({ kind: 'error', message: `target: ${err.message}` });
}
function onTargetClose(this: TargetSocket, hadError: boolean): void {
  const client = this[CTX].client;
  if (!hadError && !client.writableEnded) client.end();
}

/**
 * The outbound stream is up: the success reply, then the relay (`first`: client bytes to send
 * first; by default what came after the request). Also what an HTTP CONNECT on a kept-alive
 * connection runs.
 */
export function established(ctx: CommandContext, { socket: remote, remote: reached, route, handshakeBytes }: Dialed, first?: Buffer): void {
  // A dialer may hand over a socket it did not tie to the connection (an upstream's): own it.
  ctx.own(remote);
  remote.setNoDelay(true);
  ctx.client.setNoDelay(true);
  (remote as TargetSocket)[CTX] = ctx;
  remote.on('error', onTargetError);
  remote.on('close', onTargetClose);
  const bound = { host: remote.localAddress ?? '0.0.0.0', port: remote.localPort ?? 0 };
  ctx.update({
    state: 'established',
    remote: reached,
    bound,
    upstream: remote,
    ...(route !== undefined ? { route } : {}),
    ...(handshakeBytes ? { upstreamHandshakeBytes: handshakeBytes } : {}),
  });
  ctx.succeed(bound);
  if (ctx.logger.debugEnabled) ctx.logger.debug(`${ctx.tag} CONNECT established to ${formatHostPort(reached.host, reached.port)}`);
  relay(ctx, remote, first);
}
