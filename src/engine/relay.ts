// TCP relay between the client and the remote side (CONNECT target or BIND peer): both directions
// with backpressure, half-close carried each way, an error on either side closes both.
// Nothing here runs per chunk beyond write/pause: byte counts are read from the sockets'
// own bytesRead when someone asks (Session.snapshot), so counting costs the relay nothing.
// The listeners are shared functions (`this` is the socket; its peer and session hang off it):
// a relayed connection allocates no closures.
//
// Two read paths, per direction:
// - 'data' events (every connection starts here): Node allocates a buffer per read and frees it
//   with the chunk, so an idle connection holds no read buffer at all;
// - a reused read buffer (see ./readBuffer): once a direction shows bulk traffic (a read that filled
//   Node's whole 64 KiB buffer), it switches to reading into its own buffer, written straight to
//   the peer: no allocation, no stream machinery, no garbage per chunk.

import type { Socket } from 'node:net';
import { readIntoBuffer } from './readBuffer';
import type { Session } from './session';

const PEER = Symbol('relayPeer');
const SESSION = Symbol('relaySession');
const SIDE = Symbol('relaySide');
const BUF = Symbol('relayBuffer');

type RelaySocket = Socket & {
  [PEER]: Socket;
  [SESSION]: Session;
  [SIDE]: 'client' | 'target';
  /** The direction's own read buffer once it switched (undefined: 'data' events). */
  [BUF]?: Buffer;
};

/** A read of at least this much (all Node asks the kernel for) means bulk traffic: switch. */
const BULK_READ = 64 * 1024;
/**
 * The size of a bulk direction's own read buffer. Large reads are what make a relay fast (half as
 * many syscalls and wake-ups per byte at every doubling, measured up to 2 MiB); 1 MiB is where
 * the memory stops paying for itself.
 */
export const RELAY_BUFFER_SIZE = 1024 * 1024;
/**
 * At most this much memory in such buffers at once (64 bulk directions); further bulk directions
 * keep Node's own 64 KiB reads. Buffer pages are only resident once a read has filled them.
 */
export const RELAY_BUFFER_BUDGET = 64 * 1024 * 1024;

let buffersInUse = 0;
let switches = 0;

/** For tests and diagnostics: directions reading into their own buffer now, and switches ever made. */
export function relayBufferStats(): { inUse: number; switches: number } {
  return { inUse: buffersInUse, switches };
}

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
  // Bulk traffic, and nothing left in the stream's own queue: read into a buffer of our own.
  else if (chunk.length >= BULK_READ && this[BUF] === undefined && this.readableLength === 0) switchToBuffer(this);
}

function switchToBuffer(socket: RelaySocket): void {
  if (buffersInUse >= RELAY_BUFFER_BUDGET / RELAY_BUFFER_SIZE) return;
  const buf = Buffer.allocUnsafe(RELAY_BUFFER_SIZE);
  if (!readIntoBuffer(socket, buf, onBufferRead as never, nextBuffer)) return;
  socket[BUF] = buf;
  buffersInUse++;
  switches++;
  socket.once('close', releaseBuffer);
}

function releaseBuffer(this: RelaySocket): void {
  buffersInUse--;
}

/** The buffer the socket that just read reads into next (set by onBufferRead, read by Node right after). */
let next: Buffer | undefined;
function nextBuffer(): Buffer | undefined {
  const b = next;
  next = undefined;
  return b;
}

/** A read into the direction's own buffer: `n` bytes at its start. false = stop reading for now. */
function onBufferRead(this: RelaySocket, n: number, buf: Buffer): boolean {
  const to = this[PEER];
  const ok = to.write(buf.subarray(0, n));
  if (to.writableLength === 0) return true; // the kernel took it all: the buffer is free again
  // A write is pending and holds this buffer until it completes.
  if (!ok) return false; // 'drain' comes when it is done, and resumes this side (same buffer)
  // Pending but under the high-water mark (no 'drain' will come): read on into a fresh buffer.
  next = this[BUF] = Buffer.allocUnsafe(RELAY_BUFFER_SIZE);
  return true;
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
