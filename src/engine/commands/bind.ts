// BIND (RFC 1928 §4, CMD 0x02): the client asks the proxy to accept ONE inbound connection for it
// (FTP-style callbacks). Two replies: the first names the address the proxy listens on, the second
// names the peer that connected; then the control connection relays to that peer like CONNECT.
//
// Choices where the RFC leaves room (documented in the README):
// - The listener binds the local address of the client's control connection (so the first reply is
//   an address the client can hand on), ephemeral port.
// - DST.ADDR restricts the peer: a non-zero IP → only that IP may connect; a domain name → only its
//   addresses (resolved once, before listening); 0.0.0.0 / :: → any peer. DST.PORT is not checked
//   (peers connect from ephemeral ports). Peers from another address are reset and waiting goes on.
// - No peer within timeouts.bindMs → reply 0x06 (TTL expired, as Dante does), then close.
// - The client closing (or half-closing) its control connection before a peer arrives ends the
//   session and closes the listener at once. Bytes it sends while waiting are held (up to
//   MAX_EARLY_BYTES, then it is paused) and delivered to the peer first.

import { createServer, type Socket } from 'node:net';
import { canonicalIp, formatHostPort, isUnspecifiedIp, toIPv4 } from '../address';
import { relay } from '../relay';
import { checkedResolver, peerDenied } from '../rules/gate';
import type { Endpoint } from '../types';
import { DialError, failureForError, type CommandContext } from './context';
import { bindViaUpstream } from '../upstream/bind';
import { bypasses, DIRECT_ROUTE } from '../upstream/route';

/** Bytes the client may send before its peer arrives; beyond this the client is paused. */
const MAX_EARLY_BYTES = 64 * 1024;

export function handleBind(session: CommandContext): void {
  const req = session.destination;
  const { slots, maxPendingBinds } = session.config;
  const release = slots.take('pendingBinds', maxPendingBinds);
  if (!release) {
    session.logger.warn(`${session.tag} BIND refused: ${maxPendingBinds} BINDs already waiting for a peer (maxPendingBinds)`);
    return session.fail('general', `BIND: ${maxPendingBinds} already waiting (maxPendingBinds)`);
  }
  void session.closed.then(release);
  const upstream = session.config.upstream;
  if (upstream) {
    if (!bypasses(upstream, req)) return bindViaUpstream(session, upstream, release);
    session.update({ route: DIRECT_ROUTE });
  }
  const bindMs = session.config.timeouts.bindMs;
  let timer: NodeJS.Timeout | undefined;
  if (bindMs > 0) {
    timer = setTimeout(
      () => session.fail('timeout', `BIND: no peer connected within ${formatSeconds(bindMs)}`),
      bindMs,
    );
    session.onClose(() => clearTimeout(timer));
  }
  const stopTimer = () => clearTimeout(timer);

  if (req.type === 'domain') {
    const failed = (err: unknown): void => {
      if (session.isClosed) return;
      stopTimer();
      session.fail(failureForError(err), err instanceof DialError ? `BIND: ${err.message}` : `BIND: cannot resolve ${req.host}`);
    };
    // The expected peer's addresses are checked against the rules (a name resolving into a denied range is denied).
    checkedResolver(session.config.resolver, session.config.rules.destinations, req.port, session.user).resolve(req.host).then((addresses) => {
      if (session.isClosed) return;
      if (addresses.length === 0) return failed('ENOTFOUND');
      const allowed = new Set<string>();
      for (const a of addresses) allowed.add(canonicalIp(a) ?? a);
      listen(session, allowed, stopTimer, release);
    }, failed);
    return;
  }
  const allowed = isUnspecifiedIp(req.host) ? undefined : new Set([canonicalIp(req.host) ?? req.host]);
  listen(session, allowed, stopTimer, release);
}

function listen(session: CommandContext, allowed: ReadonlySet<string> | undefined, stopTimer: () => void, release: () => void): void {
  const client = session.client;
  const raw = client.localAddress;
  if (!raw) return session.fail('general', 'BIND: control connection has no local address');
  const local = toIPv4(raw) ?? raw;

  let peerAccepted = false;
  let refused = 0;
  const listener = createServer({ allowHalfOpen: true, noDelay: true });

  listener.on('connection', (peer: Socket) => {
    peer.on('error', () => {}); // a refused peer's reset must not throw
    if (peerAccepted || session.isClosed) {
      peer.resetAndDestroy();
      return;
    }
    const from = canonicalIp(peer.remoteAddress ?? '') ?? '';
    if (allowed && !allowed.has(from)) {
      refused++;
      session.logger.info(
        `${session.tag} BIND: refused peer ${formatHostPort(peer.remoteAddress ?? '?', peer.remotePort ?? 0)} ` +
          `(expected ${[...allowed].join(' or ')}); still waiting`,
      );
      peer.resetAndDestroy();
      return;
    }
    const denied = peerDenied(session.config.rules, from, peer.remotePort ?? 0, session.user);
    if (denied !== undefined) {
      refused++;
      session.logger.info(`${session.tag} BIND: refused peer ${formatHostPort(peer.remoteAddress ?? '?', peer.remotePort ?? 0)}: ${denied}; still waiting`);
      peer.resetAndDestroy();
      return;
    }
    peerAccepted = true;
    release(); // no longer pending: the session counts against maxConnections only
    stopTimer();
    listener.close(); // exactly one connection
    established(session, peer, takeEarly());
  });

  // Bytes and FIN from the client while it waits for the peer.
  const pending = session.takePending();
  const early: Buffer[] = pending.length > 0 ? [pending] : [];
  let earlyBytes = early.reduce((n, b) => n + b.length, 0);
  const onData = (chunk: Buffer) => {
    early.push(chunk);
    earlyBytes += chunk.length;
    if (earlyBytes >= MAX_EARLY_BYTES) client.pause();
  };
  const onEnd = () => session.close({ kind: 'closed-by-client', message: 'client closed before a BIND peer connected' });
  /** Stops watching the client (the relay takes over) and returns what it sent meanwhile. */
  const takeEarly = (): Buffer => {
    client.pause();
    client.removeListener('data', onData);
    client.removeListener('end', onEnd);
    return early.length === 1 ? early[0] : Buffer.concat(early);
  };

  const onListenError = (err: Error) => {
    stopTimer();
    session.fail('general', `BIND: cannot listen on ${formatHostPort(local, 0)}: ${err.message}`);
  };
  listener.once('error', onListenError);
  listener.listen({ host: local, port: 0, exclusive: true }, () => {
    listener.removeListener('error', onListenError);
    if (session.isClosed) {
      listener.close();
      return;
    }
    session.own(listener);
    listener.on('error', (err) => session.logger.warn(`${session.tag} BIND listener: ${err.message}`));
    listener.on('close', () => {
      if (!peerAccepted && refused > 0) session.logger.debug(`${session.tag} BIND: ${refused} peer(s) refused`);
    });
    const a = listener.address();
    const bound: Endpoint = a && typeof a === 'object' ? { host: a.address, port: a.port } : { host: local, port: 0 };
    session.update({ state: 'bind-waiting', bound });
    session.succeed(bound);
    session.logger.debug(`${session.tag} BIND listening on ${formatHostPort(bound.host, bound.port)}`);
    client.on('data', onData);
    client.on('end', onEnd);
    if (earlyBytes < MAX_EARLY_BYTES) client.resume();
  });
}

function established(session: CommandContext, peer: Socket, early: Buffer): void {
  const client = session.client;
  session.own(peer);
  peer.setNoDelay(true);
  client.setNoDelay(true);
  peer.on('error', (err) => session.close({ kind: 'error', message: `BIND peer: ${err.message}` }));
  peer.on('close', (hadError) => {
    if (!hadError && !client.writableEnded) client.end();
  });
  const remote: Endpoint = { host: peer.remoteAddress ?? '?', port: peer.remotePort ?? 0 };
  session.update({ state: 'established', remote, upstream: peer });
  session.succeed(remote); // the second reply: who connected
  session.logger.debug(`${session.tag} BIND peer ${formatHostPort(remote.host, remote.port)} connected`);
  relay(session, peer, early); // what the client sent meanwhile goes first
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
