// TCP relay between the client and the remote side (CONNECT target or BIND peer): both directions
// with backpressure, half-close carried each way, an error on either side closes both.
// Nothing here runs per chunk beyond write/pause: byte counts are read from the sockets'
// own bytesRead when someone asks (Session.snapshot), so counting costs the relay nothing.
// The listeners are shared functions (`this` is the socket; its peer and session hang off it):
// a relayed connection allocates no closures.

import type { Socket } from 'node:net';
import type { Session } from './session';

const PEER = Symbol('relayPeer');
const SESSION = Symbol('relaySession');
const SIDE = Symbol('relaySide');

type RelaySocket = Socket & { [PEER]: Socket; [SESSION]: Session; [SIDE]: 'client' | 'target' };

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
  const f = from as RelaySocket;
  f[PEER] = to;
  f[SESSION] = session;
  f[SIDE] = side;
  from.on('data', onData);
  from.on('drain', onDrain);
  // Node emits 'end' at EOF when nothing is buffered, even on a paused socket: a client that sent
  // its request and FIN together has already ended by now, and its FIN must still reach the target.
  if (from.readableEnded) onEnd.call(f);
  else from.on('end', onEnd);
}

function onData(this: RelaySocket, chunk: Buffer): void {
  const to = this[PEER];
  // write() says false whenever the chunk is over the high-water mark, even when the kernel took
  // it all at once; pausing then would cost two epoll changes and a tick per chunk for nothing.
  // Pause only when bytes are really left waiting in user space ('drain' follows them).
  if (!to.write(chunk) && to.writableLength > 0) this.pause();
}

/** This socket's buffered writes went out: let its peer read again. */
function onDrain(this: RelaySocket): void {
  this[PEER].resume();
}

function onEnd(this: RelaySocket): void {
  this[SESSION].endOutcome ??=
    this[SIDE] === 'client'
      ? { kind: 'closed-by-client', message: 'closed by client' }
      : { kind: 'closed-by-target', message: 'closed by target' };
  this[PEER].end();
}
