// TCP relay between the client and the remote side (CONNECT target or BIND peer): both directions
// with backpressure, half-close carried each way, an error on either side closes both.
// Nothing here runs per chunk beyond write/pause: byte counts are read from the sockets'
// own bytesRead when someone asks (Session.snapshot), so counting costs the relay nothing.
// The listeners are shared functions (`this` is the socket; its peer and session hang off it):
// a relayed connection allocates no closures.
//
// How a direction reads (see ./readBuffer):
// - it starts on 'data' events (an idle connection holds no read buffer and pays for no switch);
// - from its second chunk on, it reads into one buffer shared by all connections, and what it read
//   is copied out for the write (a pending write must never hold the shared buffer): no
//   allocation of Node's 64 KiB per read, no stream machinery, no 'data' event;
// - a direction whose read fills a buffer carries bulk traffic: it moves to a large buffer of its
//   own (within a budget), written straight to the peer without a copy, and gives it back after a
//   run of small reads (the transfer is over) or when its connection closes;
// - where this Node does not allow the switch, it stays on 'data' events.

import type { Socket } from 'node:net';
import { readIntoBuffer } from './readBuffer';
import type { CommandContext } from './commands/context';

const PEER = Symbol('relayPeer');
const SESSION = Symbol('relaySession');
const SIDE = Symbol('relaySide');
const BUF = Symbol('relayBuffer');
const SWITCHED = Symbol('relaySwitched');
const CHUNKS = Symbol('relaySeenChunk');
const SMALL = Symbol('relaySmallReads');
const BUF_CLOSE = Symbol('relayBufferCloseListener');

type RelaySocket = Socket & {
  [PEER]: Socket;
  [SESSION]: CommandContext;
  [SIDE]: 'client' | 'target';
  /** The direction's own read buffer once it moved to one (bulk traffic). */
  [BUF]?: Buffer;
  /** Reading into the shared buffer or its own (false: 'data' events). */
  [SWITCHED]?: boolean;
  /** A first small chunk went by on 'data' events. */
  [CHUNKS]?: boolean;
  /** Reads in a row, into its own buffer, smaller than SMALL_READ. */
  [SMALL]?: number;
  /** The 'close' listener that gives the buffer back is in place. */
  [BUF_CLOSE]?: boolean;
};

/** The read buffer every direction shares until it shows bulk traffic (Node's own read size). */
const SHARED_SIZE = 64 * 1024;
let shared: Buffer | undefined;
const sharedBuffer = (): Buffer => (shared ??= Buffer.allocUnsafe(SHARED_SIZE));
/**
 * The size of a bulk direction's own read buffer. Large reads are what make a relay fast (half as
 * many syscalls and wake-ups per byte at every doubling, measured up to 2 MiB); 1 MiB is where
 * the memory stops paying for itself.
 */
export const RELAY_BUFFER_SIZE = 1024 * 1024;
/**
 * At most this much memory in such buffers at once (64 bulk directions); further bulk directions
 * stay on the shared buffer. Buffer pages are only resident once a read has filled them.
 */
export const RELAY_BUFFER_BUDGET = 64 * 1024 * 1024;

/** After this many reads in a row smaller than SMALL_READ, a direction gives its own buffer back. */
const SMALL_READS_TO_RELEASE = 8;
const SMALL_READ = 16 * 1024;

let buffersInUse = 0;
/** Room in the budget for one more direction's own buffer. */
const budgetLeft = (): boolean => buffersInUse < RELAY_BUFFER_BUDGET / RELAY_BUFFER_SIZE;
let switches = 0;
let sharedSwitches = 0;

/**
 * For tests and diagnostics: directions reading into their own buffer now, moves to one ever made,
 * and moves from 'data' events to the shared buffer ever made.
 */
export function relayBufferStats(): { inUse: number; switches: number; shared: number } {
  return { inUse: buffersInUse, switches, shared: sharedSwitches };
}

/** Starts relaying. `first` (by default what the client sent after its request) goes to `remote` first. */
export function relay(session: CommandContext, remote: Socket, first: Buffer = session.takePending()): void {
  const client = session.client;
  if (first.length > 0) remote.write(first);
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
  // A remote that spoke a handshake first (an upstream proxy's reply) was left paused.
  remote.resume();
}

function pipe(session: CommandContext, from: Socket, to: Socket, side: 'client' | 'target'): void {
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

/**
 * Moves a direction off 'data' events (see onData for when): into a buffer of its own when its
 * chunk already filled Node's read buffer (bulk traffic) and the budget allows, else into the
 * shared one.
 */
function switchReads(socket: RelaySocket, bulk: boolean): void {
  if (bulk && budgetLeft()) {
    const own = Buffer.allocUnsafe(RELAY_BUFFER_SIZE);
    socket[SWITCHED] = readIntoBuffer(socket, own, onRead, nextBuffer);
    if (socket[SWITCHED]) takeBuffer(socket, own);
    return;
  }
  socket[SWITCHED] = readIntoBuffer(socket, sharedBuffer(), onRead, nextBuffer);
  if (socket[SWITCHED]) sharedSwitches++;
}

/** 'data' events: before the switch, and where this Node cannot switch. */
function onData(this: RelaySocket, chunk: Buffer): void {
  // write() says false whenever the chunk is over the high-water mark, even when the kernel took
  // it all at once; pausing then would cost two epoll changes and a tick per chunk for nothing.
  // Pause only when bytes are really left waiting in user space ('drain' follows them).
  // Bytes the stream queued before the switch come first, as 'data': switch once they are out.
  if (!forward(this, chunk)) this.pause();
  else if (this[SWITCHED] === undefined && this.readableLength === 0) {
    // A direction that has carried one chunk may never carry another (a request, an answer,
    // then FIN): switch on the second chunk, or at once when the first one was bulk.
    if (chunk.length >= SHARED_SIZE) switchReads(this, true);
    else if (this[CHUNKS]) switchReads(this, false);
    else this[CHUNKS] = true;
  }
}

/** Writes to the peer; false when bytes are left waiting in user space (stop reading until 'drain'). */
function forward(from: RelaySocket, chunk: Buffer): boolean {
  const to = from[PEER];
  return to.write(chunk) || to.writableLength === 0;
}

/** The buffer the socket that just read reads into next (set by onRead, taken by Node right after). */
let next: Buffer | undefined;
function nextBuffer(): Buffer | undefined {
  const b = next;
  next = undefined;
  return b;
}

/** A read of `n` bytes into `buf` (the shared buffer, or the direction's own). false = stop reading for now. */
function onRead(this: RelaySocket, n: number, buf: Buffer): boolean {
  if (buf === shared) {
    // Copied out: the shared buffer is read into again by the next socket, whatever this write does.
    const chunk = Buffer.allocUnsafe(n);
    buf.copy(chunk, 0, 0, n);
    // A read that filled the buffer: bulk traffic. Read the rest into a buffer of its own.
    if (n === buf.length && budgetLeft()) {
      next = Buffer.allocUnsafe(RELAY_BUFFER_SIZE);
      takeBuffer(this, next);
    }
    return forward(this, chunk);
  }
  // Small reads again and again: the bulk transfer is over. Back to the shared buffer, and the
  // buffer goes back to the budget (this one is never read into again, so it is written as is).
  if (n < SMALL_READ) {
    if (++this[SMALL]! >= SMALL_READS_TO_RELEASE) {
      giveBackBuffer(this);
      next = sharedBuffer();
      return forward(this, buf.subarray(0, n));
    }
  } else this[SMALL] = 0;
  const to = this[PEER];
  const ok = to.write(buf.subarray(0, n));
  if (to.writableLength === 0) return true; // the kernel took it all: the buffer is free again
  // A write is pending and holds this buffer until it completes.
  if (!ok) return false; // 'drain' comes when it is done, and resumes this side (same buffer)
  // Pending but under the high-water mark (no 'drain' will come): read on into a fresh buffer.
  next = this[BUF] = Buffer.allocUnsafe(RELAY_BUFFER_SIZE);
  return true;
}

/**
 * `buf` is the direction's own read buffer from now on, counted against the budget until it is
 * given back (small reads, or the socket closes).
 */
function takeBuffer(socket: RelaySocket, buf: Buffer): void {
  socket[BUF] = buf;
  socket[SMALL] = 0;
  buffersInUse++;
  switches++;
  if (socket[BUF_CLOSE] === undefined) {
    socket[BUF_CLOSE] = true;
    socket.once('close', onBufferedClose);
  }
}

function giveBackBuffer(socket: RelaySocket): void {
  if (socket[BUF] === undefined) return;
  socket[BUF] = undefined;
  buffersInUse--;
}

function onBufferedClose(this: RelaySocket): void {
  giveBackBuffer(this);
}

/** This socket's buffered writes went out: let its peer read again. */
function onDrain(this: RelaySocket): void {
  this[PEER].resume();
}

function onEnd(this: RelaySocket): void {
  this[SESSION].ended(this[SIDE]);
  this[PEER].end();
}
