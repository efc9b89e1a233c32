// How an upstream hop fails: one error type carrying the protocol-neutral failure kind the
// client's protocol maps to its own reply, and, when the upstream answered with a SOCKS5 reply,
// that reply code (passed on to a SOCKS5 client as it is).

export type UpstreamFailureKind =
  | 'general'
  | 'not-allowed'
  | 'network-unreachable'
  | 'host-unreachable'
  | 'refused'
  | 'timeout'
  | 'unsupported-command'
  | 'unsupported-address';

export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  constructor(
    message: string,
    readonly kind: UpstreamFailureKind,
    /** The upstream's own SOCKS5 REP (0x01..0x08), when it sent one. */
    readonly upstreamReply?: number,
    /** The upstream's HTTP status, when an HTTP upstream refused the CONNECT. */
    readonly httpStatus?: number,
  ) {
    super(message);
  }
}

/** RFC 1928 §6 REP → failure kind (an unknown code is a general failure). */
export function kindForSocksReply(rep: number): UpstreamFailureKind {
  return SOCKS_KINDS[rep] ?? 'general';
}

const SOCKS_KINDS: Readonly<Record<number, UpstreamFailureKind>> = {
  0x01: 'general',
  0x02: 'not-allowed',
  0x03: 'network-unreachable',
  0x04: 'host-unreachable',
  0x05: 'refused',
  0x06: 'timeout',
  0x07: 'unsupported-command',
  0x08: 'unsupported-address',
};
