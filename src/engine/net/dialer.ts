// The direct dialer: resolve, then connect with a deadline, racing the addresses (Happy Eyeballs,
// RFC 8305, simplified). CONNECT asks ServerOptions.dialer, which is this unless rules or an
// upstream proxy replace or wrap it.

import { isIP, Socket } from 'node:net';
import { formatHostPort } from '../address';
import { DialError, errorCode, failureForError } from '../commands/context';
import type { Destination, Dialed, Dialer, DialOptions } from '../types';

/** After this long without an answer from one address, the next address is tried beside it. */
const STAGGER_MS = 250;

export const directDialer: Dialer = {
  dial(target: Destination, options: DialOptions): Promise<Dialed> {
    return new Promise((resolve, reject) => dialDirect(target, options, resolve, reject));
  },
};

function dialDirect(target: Destination, options: DialOptions, resolve: (d: Dialed) => void, reject: (e: Error) => void): void {
  const { timeoutMs, scope } = options;
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  let finishedByTimeout = false;
  let resolveFailed = false;

  const finish = (err: unknown, socket?: Socket, address = ''): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    if (socket) return resolve({ socket, remote: { host: address, port: target.port } });
    if (resolveFailed && !finishedByTimeout) {
      // Whatever getaddrinfo said (ENOTFOUND, EAI_AGAIN, EINVAL for a name it cannot even encode…).
      if (err instanceof DialError) return reject(err);
      return reject(new DialError('host-unreachable', `cannot resolve ${target.host} (${errorCode(err) ?? 'error'})`));
    }
    if (finishedByTimeout) return reject(new DialError('timeout', (err as Error).message));
    reject(new DialError(failureForError(err), describe(err, target)));
  };

  if (timeoutMs > 0) {
    timer = setTimeout(() => {
      finishedByTimeout = true;
      for (const a of attempts) a.destroy();
      clearTimeout(stagger);
      finish(new Error(`connect timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    // A connection closed while connecting (client gone, stop()) must not leave its timer behind.
    scope.onClose(() => clearTimeout(timer));
  }

  // Every address is tried; when one has not answered within STAGGER_MS the next starts beside it,
  // so a family that silently drops packets (a broken IPv6 route) costs a moment, not the whole
  // connect timeout. The first to connect wins.
  const attempts = new Set<Socket>();
  let next = 0;
  let lastErr: unknown;
  let stagger: NodeJS.Timeout | undefined;
  const launch = (addresses: string[]): void => {
    clearTimeout(stagger);
    if (finished || scope.isClosed || next >= addresses.length) return;
    const socket = new Socket({ allowHalfOpen: true });
    attempts.add(socket);
    scope.own(socket);
    const onError = (err: Error) => {
      attempts.delete(socket);
      socket.destroy();
      lastErr = err;
      if (next < addresses.length) launch(addresses);
      else if (attempts.size === 0) finish(lastErr);
    };
    socket.once('error', onError);
    const address = addresses[next++];
    socket.connect({ host: address, port: target.port }, () => {
      socket.removeListener('error', onError);
      clearTimeout(stagger);
      attempts.delete(socket);
      for (const other of attempts) other.destroy();
      attempts.clear();
      finish(undefined, socket, address);
    });
    if (next < addresses.length) stagger = setTimeout(launch, STAGGER_MS, addresses);
  };

  if (isIP(target.host)) {
    launch([target.host]);
  } else {
    options.resolver.resolve(target.host).then(
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

function describe(err: unknown, target: Destination): string {
  const code = errorCode(err);
  if (code === 'ENOTFOUND' || code?.startsWith('EAI_')) return `cannot resolve ${target.host} (${code})`;
  if (code === 'ECONNREFUSED') return `${formatHostPort(target.host, target.port)} refused the connection`;
  return err instanceof Error ? err.message : String(err);
}
