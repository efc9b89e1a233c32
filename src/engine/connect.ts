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
  let finished = false;

  const finish = (err: unknown, socket?: Socket, address = ''): void => {
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
    established(session, socket, address, req.port);
  };

  let finishedByTimeout = false;
  let resolveFailed = false;
  if (connectMs > 0) {
    timer = setTimeout(() => {
      finishedByTimeout = true;
      for (const a of attempts) a.destroy();
      clearTimeout(stagger);
      finish(Object.assign(new Error(`connect timed out after ${connectMs} ms`), { code: 'ETIMEDOUT' }));
    }, connectMs);
    // A session closed while connecting (client gone, stop()) must not leave its timer behind.
    session.onClose(() => clearTimeout(timer));
  }

  // Every address is tried; when one has not answered within STAGGER_MS the next starts beside it
  // (Happy Eyeballs, RFC 8305, simplified), so a family that silently drops packets (a broken
  // IPv6 route) costs a moment, not the whole connect timeout. The first to connect wins.
  const attempts = new Set<Socket>();
  let next = 0;
  let lastErr: unknown;
  let stagger: NodeJS.Timeout | undefined;
  const launch = (addresses: string[]): void => {
    clearTimeout(stagger);
    if (finished || session.isClosed || next >= addresses.length) return;
    const socket = new Socket({ allowHalfOpen: true });
    attempts.add(socket);
    session.own(socket);
    const onError = (err: Error) => {
      attempts.delete(socket);
      socket.destroy();
      lastErr = err;
      if (next < addresses.length) launch(addresses);
      else if (attempts.size === 0) finish(lastErr);
    };
    socket.once('error', onError);
    const address = addresses[next++]!;
    socket.connect({ host: address, port: req.port }, () => {
      socket.removeListener('error', onError);
      clearTimeout(stagger);
      attempts.delete(socket);
      for (const other of attempts) other.destroy();
      attempts.clear();
      finish(undefined, socket, address);
    });
    if (next < addresses.length) stagger = setTimeout(launch, STAGGER_MS, addresses);
  };

  if (isIP(req.host)) {
    launch([req.host]);
  } else {
    session.config.resolve(req.host).then(
      (addresses) => {
        if (addresses.length === 0) {
          resolveFailed = true;
          return finish(Object.assign(new Error('no addresses'), { code: 'ENOTFOUND' }));
        }
        launch(addresses);
      },
      (err: unknown) => {
        resolveFailed = true;
        finish(err);
      },
    );
  }
}

/** After this long without an answer from one address, the next address is tried beside it. */
const STAGGER_MS = 250;

/** The OS resolver: every address of `host`, both families, in the resolver's order. */
export function lookupAll(host: string): Promise<string[]> {
  return new Promise((resolve, reject) =>
    lookup(host, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses.map((a) => a.address)))),
  );
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

/** `address` and `port`: where `remote` connected (known here: no getpeername for them). */
function established(session: Session, remote: Socket, address: string, port: number): void {
  remote.setNoDelay(true);
  session.client.setNoDelay(true);
  (remote as TargetSocket)[SESSION] = session;
  remote.on('error', onTargetError);
  remote.on('close', onTargetClose);
  const bound = { host: remote.localAddress ?? '0.0.0.0', port: remote.localPort ?? 0 };
  session.update({
    state: 'established',
    remote: { host: address, port },
    bound,
    upstream: remote,
  });
  session.replySuccess(bound);
  if (session.logger.debugEnabled) session.logger.debug(`${session.tag} CONNECT established to ${formatHostPort(address, port)}`);
  relay(session, remote);
}

function describe(err: unknown, req: Request): string {
  const code = errorCode(err);
  if (code === 'ENOTFOUND' || code?.startsWith('EAI_')) return `cannot resolve ${req.host} (${code})`;
  if (code === 'ECONNREFUSED') return `${formatHostPort(req.host, req.port)} refused the connection`;
  if (code === 'ETIMEDOUT') return (err as Error).message;
  return err instanceof Error ? err.message : String(err);
}
