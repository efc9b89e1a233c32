// TCP relay between the client and the remote side (CONNECT target or BIND peer): both directions
// with backpressure, half-close carried each way, an error on either side closes both.
// Nothing here runs per chunk beyond write/pause: byte counts are read from the sockets'
// own bytesRead when someone asks (Session.snapshot), so counting costs the relay nothing.

import type { Socket } from 'node:net';
import type { Session } from './session';

/** Starts relaying. `session.pending` (bytes the client sent after its request) goes first. */
export function relay(session: Session, remote: Socket): void {
  const client = session.client;
  if (session.pending.length > 0) {
    remote.write(session.pending);
    session.pending = Buffer.alloc(0);
  }
  pipe(session, client, remote, 'client');
  pipe(session, remote, client, 'target');
  const idle = session.config.timeouts.idleMs;
  if (idle > 0) {
    // Node resets a socket's timer on reads and on writes: the client socket sees both directions.
    client.setTimeout(idle, () =>
      session.close({ kind: 'idle-timeout', message: `idle for ${Math.round(idle / 1000)} s` }),
    );
  }
  client.resume();
}

function pipe(session: Session, from: Socket, to: Socket, side: 'client' | 'target'): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  const onEnd = () => {
    session.endOutcome ??=
      side === 'client'
        ? { kind: 'closed-by-client', message: 'closed by client' }
        : { kind: 'closed-by-target', message: 'closed by target' };
    to.end();
  };
  // Node emits 'end' at EOF when nothing is buffered, even on a paused socket: a client that sent
  // its request and FIN together has already ended by now, and its FIN must still reach the target.
  if (from.readableEnded) onEnd();
  else from.on('end', onEnd);
}
