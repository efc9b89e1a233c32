// FailureKind → the HTTP status the proxy answers with: the one table (SOCKS5 has REP_FOR_FAILURE,
// SOCKS4 its 0x5B).

import type { FailureKind } from '../../types';

export const STATUS_FOR_FAILURE: Readonly<Record<FailureKind, number>> = Object.freeze({
  general: 502,
  'not-allowed': 403,
  'network-unreachable': 502,
  'host-unreachable': 502,
  refused: 502,
  timeout: 504,
  // The only command the HTTP door asks for is CONNECT: this is "CONNECT is disabled" (settings).
  'unsupported-command': 403,
  'unsupported-address': 400,
});
