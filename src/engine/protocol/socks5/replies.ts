// SOCKS5 replies (RFC 1928 §6) for the protocol-neutral failure kinds, and their short text.

import { FAILURE_TEXT } from '../../commands/context';
import type { FailureKind } from '../../types';
import { REP, REPLY_NAMES } from './wire';

export const REP_FOR_FAILURE: Readonly<Record<FailureKind, number>> = Object.freeze({
  general: REP.GENERAL_FAILURE,
  'not-allowed': REP.NOT_ALLOWED,
  'network-unreachable': REP.NETWORK_UNREACHABLE,
  'host-unreachable': REP.HOST_UNREACHABLE,
  refused: REP.CONNECTION_REFUSED,
  timeout: REP.TTL_EXPIRED,
  'unsupported-command': REP.COMMAND_NOT_SUPPORTED,
  'unsupported-address': REP.ADDRESS_TYPE_NOT_SUPPORTED,
});

const SHORT: Readonly<Record<number, string>> = Object.fromEntries(
  (Object.keys(REP_FOR_FAILURE) as FailureKind[]).map((k) => [REP_FOR_FAILURE[k], FAILURE_TEXT[k]]),
);

/** `refused (0x05)`-style text for a reply code. */
export function replyText(rep: number): string {
  const name = SHORT[rep] ?? REPLY_NAMES[rep] ?? 'unknown reply';
  return `${name} (0x${rep.toString(16).padStart(2, '0')})`;
}
