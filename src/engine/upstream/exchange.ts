// The client side of a proxy handshake: write a message, read the answer, with bounds. Shared by
// the SOCKS5 and HTTP CONNECT clients of ./socks5 and ./httpConnect.

import type { Socket } from 'node:net';
import type { Parse } from '../protocol/parse';

/**
 * Reads from `socket` until `parse` finds one complete message, then stops reading (the socket is
 * left paused) and puts any bytes after the message back at the front of the socket's queue: they
 * belong to whoever reads next (the next reply, or the relay).
 * Rejects with the parser's reason, or when the socket errs, ends or closes first. `parse` bounds
 * what it accepts (a SOCKS5 reply is at most 262 bytes, HTTP headers at most MAX_HTTP_HEADER).
 * No timer here: the caller's deadline destroys the socket.
 */
export function readMessage<T>(socket: Socket, parse: (buf: Buffer) => Parse<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const cleanup = () => {
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onEnd);
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const r = parse(buf);
      if (r.status === 'more') return;
      cleanup();
      socket.pause();
      if (r.status === 'error') return reject(new ProtocolError(r.reason));
      if (r.length < buf.length) socket.unshift(buf.subarray(r.length));
      resolve(r.value);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onEnd = () => {
      cleanup();
      reject(new ProtocolError(buf.length === 0 ? 'closed the connection without an answer' : 'closed the connection in the middle of its answer'));
    };
    // `on`, not `once`: cleanup() removes them (no wrapper per listener).
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.resume();
  });
}

/** The upstream said something that is not the protocol (or stopped mid-answer). */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}
