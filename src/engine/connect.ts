// CONNECT (RFC 1928 §4, CMD 0x01): resolve, connect with a deadline, reply with the outbound
// socket's real local address, relay.

import { lookup } from 'node:dns';
import { isIP, Socket } from 'node:net';
import { relay } from './relay';
import { errorCode, replyForError } from './replies';
import type { Session } from './session';
import { formatHostPort, REP, type Request } from './wire';

export function handleConnect(session: Session, req: Request): void {
  session.update({ state: 'connecting' });
  const connectMs = session.config.timeouts.connectMs;
  let timer: NodeJS.Timeout | undefined;
  let attempt: Socket | undefined;
  let finished = false;

  const finish = (err: unknown, socket?: Socket): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    if (session.isClosed) {
      socket?.destroy();
      return;
    }
    if (!socket) {
      if (resolveFailed && !finishedByTimeout) {
        // Whatever getaddrinfo said (ENOTFOUND, EAI_AGAIN, EINVAL for a name it cannot even encode…).
        session.fail(REP.HOST_UNREACHABLE, `cannot resolve ${req.host} (${errorCode(err) ?? 'error'})`);
        return;
      }
      const detail = describe(err, req);
      session.fail(finishedByTimeout ? REP.TTL_EXPIRED : replyForError(err), detail);
      return;
    }
    established(session, socket);
  };

  let finishedByTimeout = false;
  let resolveFailed = false;
  if (connectMs > 0) {
    timer = setTimeout(() => {
      finishedByTimeout = true;
      attempt?.destroy();
      finish(Object.assign(new Error(`connect timed out after ${connectMs} ms`), { code: 'ETIMEDOUT' }));
    }, connectMs);
    // A session closed while connecting (client gone, stop()) must not leave its timer behind.
    void session.closed.then(() => clearTimeout(timer));
  }

  const tryAddresses = (addresses: string[], i: number, lastErr: unknown): void => {
    if (finished) return;
    if (i >= addresses.length) return finish(lastErr);
    const socket = new Socket({ allowHalfOpen: true });
    attempt = socket;
    session.own(socket);
    const onError = (err: Error) => {
      socket.destroy();
      tryAddresses(addresses, i + 1, err);
    };
    socket.once('error', onError);
    socket.connect({ host: addresses[i]!, port: req.port }, () => {
      socket.removeListener('error', onError);
      finish(undefined, socket);
    });
  };

  if (isIP(req.host)) {
    tryAddresses([req.host], 0, undefined);
  } else {
    lookup(req.host, { all: true }, (err, addresses) => {
      if (err) {
        resolveFailed = true;
        return finish(err);
      }
      if (addresses.length === 0) return finish(Object.assign(new Error('no addresses'), { code: 'ENOTFOUND' }));
      tryAddresses(
        addresses.map((a) => a.address),
        0,
        undefined,
      );
    });
  }
}

const SESSION = Symbol('connectSession');
type TargetSocket = Socket & { [SESSION]: Session };

// The target socket's listeners, shared by every session (`this` is the socket).
function onTargetError(this: TargetSocket, err: Error): void {
  this[SESSION].close({ kind: 'error', message: `target: ${err.message}` });
}
function onTargetClose(this: TargetSocket, hadError: boolean): void {
  const client = this[SESSION].client;
  if (!hadError && !client.writableEnded) client.end();
}

function established(session: Session, remote: Socket): void {
  remote.setNoDelay(true);
  session.client.setNoDelay(true);
  (remote as TargetSocket)[SESSION] = session;
  remote.on('error', onTargetError);
  remote.on('close', onTargetClose);
  const bound = { host: remote.localAddress ?? '0.0.0.0', port: remote.localPort ?? 0 };
  session.update({
    state: 'established',
    remote: { host: remote.remoteAddress ?? '?', port: remote.remotePort ?? 0 },
    bound,
    upstream: remote,
  });
  session.replySuccess(bound);
  session.logger.debug(
    `${session.tag} CONNECT established to ${formatHostPort(remote.remoteAddress ?? '?', remote.remotePort ?? 0)}`,
  );
  relay(session, remote);
}

function describe(err: unknown, req: Request): string {
  const code = errorCode(err);
  if (code === 'ENOTFOUND' || code?.startsWith('EAI_')) return `cannot resolve ${req.host} (${code})`;
  if (code === 'ECONNREFUSED') return `${formatHostPort(req.host, req.port)} refused the connection`;
  if (code === 'ETIMEDOUT') return (err as Error).message;
  return err instanceof Error ? err.message : String(err);
}
