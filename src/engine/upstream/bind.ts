// BIND through a SOCKS5 upstream: the upstream listens for the peer, not this machine. Its first
// reply (where it listens) is passed on as this proxy's first reply, its second (the peer that
// connected) as the second, then the control connection relays to the upstream's. The upstream's
// failure replies are passed on as they are; an HTTP upstream cannot carry BIND (refused with
// "command not supported" and a log line).
// Like a local BIND: the client's bytes while it waits are held (up to MAX_EARLY_BYTES, then it is
// paused) and sent first; the client closing ends the session; no peer within timeouts.bindMs is
// a timeout.

import type { Socket } from 'node:net';
import { formatHostPort, isUnspecifiedIp } from '../address';
import { DialError, type CommandContext } from '../commands/context';
import { relay } from '../relay';
import type { Endpoint } from '../types';
import { CMD } from '../protocol/socks5/wire';
import type { CompiledUpstream, UpstreamRoute } from './config';
import { handshakeBytes, openTunnel } from './dial';
import { tunnelDeps } from './route';
import { nextReply } from './socks5';

const MAX_EARLY_BYTES = 64 * 1024;

/** Refuses a BIND or UDP ASSOCIATE an HTTP upstream cannot carry; true when it did. */
export function refuseUncarried(ctx: CommandContext, upstream: CompiledUpstream, what: string): boolean {
  if (upstream.carriesBindAndUdp) return false;
  const why = `${what} cannot go through the HTTP upstream ${upstream.name}: an HTTP proxy carries CONNECT only`;
  ctx.logger.warn(`${ctx.tag} ${why}`);
  ctx.fail('unsupported-command', why);
  return true;
}

export function bindViaUpstream(ctx: CommandContext, upstream: UpstreamRoute, release: () => void): void {
  if (refuseUncarried(ctx, upstream, 'BIND')) return;
  const { timeouts, resolver } = ctx.config;
  const expected: Endpoint = { host: ctx.destination.host, port: ctx.destination.port };
  ctx.update({ route: upstream.name });
  openTunnel(upstream.proxy, CMD.BIND, expected, tunnelDeps(upstream.hop, { timeoutMs: timeouts.connectMs, resolver, scope: ctx })).then(
    (tunnel) => {
      if (ctx.isClosed) return void tunnel.socket.destroy();
      ctx.own(tunnel.socket);
      waitForPeer(ctx, upstream, tunnel.socket, expected, listeningAt(tunnel.reply!, tunnel.socket), release);
    },
    (err: unknown) => upstreamFailed(ctx, 'BIND', err),
  );
}

/** The upstream's BND.ADDR, or (0.0.0.0 / ::: "the address you reached me at") its address. */
function listeningAt(reply: Endpoint, socket: Socket): Endpoint {
  if (!isUnspecifiedIp(reply.host)) return { host: reply.host, port: reply.port };
  return { host: socket.remoteAddress ?? reply.host, port: reply.port };
}

function waitForPeer(ctx: CommandContext, upstream: CompiledUpstream, socket: Socket, expected: Endpoint, bound: Endpoint, release: () => void): void {
  const client = ctx.client;
  ctx.update({ state: 'bind-waiting', bound });
  ctx.succeed(bound);
  ctx.logger.debug(`${ctx.tag} BIND: upstream ${upstream.name} listens on ${formatHostPort(bound.host, bound.port)}`);

  const bindMs = ctx.config.timeouts.bindMs;
  let timer: NodeJS.Timeout | undefined;
  if (bindMs > 0) {
    timer = setTimeout(() => ctx.fail('timeout', `BIND: no peer connected to upstream ${upstream.name} within ${bindMs / 1000} s`), bindMs);
    ctx.onClose(() => clearTimeout(timer));
  }

  const pending = ctx.takePending();
  const early: Buffer[] = pending.length > 0 ? [pending] : [];
  let earlyBytes = pending.length;
  const onData = (chunk: Buffer) => {
    early.push(chunk);
    earlyBytes += chunk.length;
    if (earlyBytes >= MAX_EARLY_BYTES) client.pause();
  };
  const onEnd = () => ctx.close({ kind: 'closed-by-client', message: 'client closed before a BIND peer connected' });
  client.on('data', onData);
  client.on('end', onEnd);
  if (earlyBytes < MAX_EARLY_BYTES) client.resume();

  nextReply(socket, upstream.proxy, expected).then(
    (second) => {
      clearTimeout(timer);
      client.pause();
      client.removeListener('data', onData);
      client.removeListener('end', onEnd);
      if (ctx.isClosed) return;
      release(); // no longer pending
      const remote: Endpoint = { host: second.host, port: second.port };
      const upstreamHandshakeBytes = handshakeBytes(socket);
      socket.setNoDelay(true);
      client.setNoDelay(true);
      socket.on('error', (err) => ctx.close({ kind: 'error', message: `upstream ${upstream.name}: ${err.message}` }));
      socket.on('close', (hadError) => {
        if (!hadError && !client.writableEnded) client.end();
      });
      ctx.update({ state: 'established', remote, upstream: socket, upstreamHandshakeBytes });
      ctx.succeed(remote);
      ctx.logger.debug(`${ctx.tag} BIND peer ${formatHostPort(remote.host, remote.port)} connected to upstream ${upstream.name}`);
      relay(ctx, socket, early.length === 1 ? early[0] : Buffer.concat(early));
    },
    (err: unknown) => {
      clearTimeout(timer);
      upstreamFailed(ctx, 'BIND', err);
    },
  );
}

/**
 * A BIND or UDP ASSOCIATE the upstream failed: its own reply passed on; an upstream that could not
 * be reached or spoke nonsense also gets a warning line (it is the configuration, not the destination).
 */
export function upstreamFailed(ctx: CommandContext, what: string, err: unknown): void {
  if (ctx.isClosed) return;
  const e = err instanceof DialError ? err : new DialError('general', err instanceof Error ? err.message : String(err));
  if (e.upstreamReply === undefined) ctx.logger.warn(`${ctx.tag} ${what}: ${e.message}`);
  ctx.fail(e.kind, `${what}: ${e.message}`, e.upstreamReply);
}
