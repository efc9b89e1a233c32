// How an upstream hop fails: a DialError (the failure kind the client's protocol maps to its own
// reply, and the upstream's own SOCKS5 reply when it sent one, passed on as it is), plus the HTTP
// status when an HTTP upstream refused.

import { DialError } from '../commands/context';
import { REP_FOR_FAILURE } from '../protocol/socks5/replies';
import type { FailureKind } from '../types';

export class UpstreamError extends DialError {
  constructor(
    message: string,
    kind: FailureKind,
    /** The upstream's own SOCKS5 REP (0x01..0x08), when it sent one. */
    upstreamReply?: number,
    /** The upstream's HTTP status, when an HTTP upstream refused the CONNECT. */
    readonly httpStatus?: number,
  ) {
    super(kind, message, upstreamReply);
    this.name = 'UpstreamError';
  }
}

/** RFC 1928 §6 REP → failure kind (the inverse of the SOCKS5 door's map; unknown codes: general). */
const KIND_FOR_REP: ReadonlyMap<number, FailureKind> = new Map(
  (Object.entries(REP_FOR_FAILURE) as Array<[FailureKind, number]>).map(([kind, rep]) => [rep, kind]),
);

export function kindForSocksReply(rep: number): FailureKind {
  return KIND_FOR_REP.get(rep) ?? 'general';
}
