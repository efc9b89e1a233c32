// The shape every front door's parser returns, for the bytes received so far:
//   { status: 'done', value, length }   a complete message of `length` bytes at the start of `buf`
//   { status: 'more' }                  a valid prefix: wait for more bytes
//   { status: 'error', reason, reply? } not this protocol: close, sending `reply` first where it defines one
// so any split of a handshake across TCP segments, and any coalescing, parses the same.

export type Parse<T> =
  | { status: 'done'; value: T; length: number }
  | { status: 'more' }
  | { status: 'error'; reason: string; reply?: number };

export const MORE = Object.freeze({ status: 'more' as const });
export const done = <T>(value: T, length: number): Parse<T> => ({ status: 'done', value, length });
export const error = (reason: string, reply?: number): Parse<never> =>
  reply === undefined ? { status: 'error', reason } : { status: 'error', reason, reply };
