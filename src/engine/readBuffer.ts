// Reading into a buffer of our own, on a socket that already exists.
//
// Node can read a socket into a caller's buffer instead of allocating one per read (the `onread`
// option of `new net.Socket()`), but only for sockets it constructs that way: not for sockets a
// server accepted, nor for one already connected. This applies the same mechanism to such a
// socket: it sets the three fields `onread` would have set and hands the buffer to the stream
// handle (`useUserBuffer`, what `onread` calls). Node then calls `callback(n, buffer)` for every
// read (`this` is the socket; returning false stops reading until `socket.resume()`), and after
// each call `next()`, whose Buffer (if any) is read into from then on.
//
// These are Node internals: they are looked up once, by their names, on a probe socket built with
// the public `onread` option, and when anything is missing nothing is changed and false is
// returned (the caller keeps its 'data' listener). SOCKS5_NO_READ_BUFFER=1 forces that fallback.

import { Socket } from 'node:net';

interface Fields {
  buffer: symbol;
  callback: symbol;
  next: symbol;
}

let fields: Fields | null | undefined;

function lookUp(): Fields | null {
  if (process.env.SOCKS5_NO_READ_BUFFER) return null;
  try {
    const cb = (): boolean => true;
    const probe = new Socket({ onread: { buffer: Buffer.alloc(1), callback: cb } } as ConstructorParameters<typeof Socket>[0]);
    const own = probe as unknown as Record<symbol, unknown>;
    const named = (d: string): symbol | undefined => Object.getOwnPropertySymbols(probe).find((s) => s.description === d);
    const buffer = named('kBuffer');
    const callback = named('kBufferCb');
    const next = named('kBufferGen');
    probe.destroy();
    // The probe must hold exactly what onread gave it, or these are not the fields we think.
    if (!buffer || !callback || !next || own[callback] !== cb || !Buffer.isBuffer(own[buffer]) || own[next] !== null) return null;
    return { buffer, callback, next };
  } catch {
    return null;
  }
}

/** True when this Node lets readIntoBuffer work (checked once). */
export function canReadIntoBuffer(): boolean {
  fields ??= lookUp();
  return fields !== null;
}

/**
 * From the next read on, `socket` reads into `buffer` and calls `callback` instead of emitting
 * 'data'. Call it when the socket's own queue is empty (readableLength 0). Once per socket.
 * Returns false (and changes nothing) when this Node does not allow it.
 */
export function readIntoBuffer(
  socket: Socket,
  buffer: Buffer,
  callback: (this: never, n: number, buffer: Buffer) => boolean,
  next: () => Buffer | undefined,
): boolean {
  if (!canReadIntoBuffer()) return false;
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (b: Buffer) => void } })._handle;
  if (!handle || typeof handle.useUserBuffer !== 'function' || socket.destroyed) return false;
  const f = fields!;
  const own = socket as unknown as Record<symbol, unknown>;
  own[f.buffer] = buffer;
  own[f.callback] = callback;
  own[f.next] = next;
  handle.useUserBuffer(buffer);
  return true;
}
