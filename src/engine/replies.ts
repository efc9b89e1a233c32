// Mapping of outbound socket errors to SOCKS5 reply codes (RFC 1928 §6), the way Dante maps them.

import { REP, REPLY_NAMES } from './wire';

/** A connect or lookup error (or its `code`) → REP. Unknown errors are a general failure (0x01). */
export function replyForError(err: unknown): number {
  const code = errorCode(err);
  switch (code) {
    case 'ENETUNREACH':
    case 'ENETDOWN':
      return REP.NETWORK_UNREACHABLE;
    case 'EHOSTUNREACH':
    case 'EHOSTDOWN':
    case 'ENOTFOUND':
    case 'ENODATA':
    case 'ESERVFAIL':
    case 'EREFUSED':
    case 'ENONAME':
      return REP.HOST_UNREACHABLE;
    case 'ECONNREFUSED':
      return REP.CONNECTION_REFUSED;
    case 'ETIMEDOUT':
    case 'ETIMEOUT':
      return REP.TTL_EXPIRED;
    default:
      // getaddrinfo failures surface as EAI_* (EAI_AGAIN, EAI_FAIL, EAI_NONAME, …)
      return code?.startsWith('EAI_') ? REP.HOST_UNREACHABLE : REP.GENERAL_FAILURE;
  }
}

export function errorCode(err: unknown): string | undefined {
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}

/** `refused (0x05)`-style text for a reply code. */
export function replyText(rep: number): string {
  const short: Record<number, string> = {
    0x01: 'general failure',
    0x02: 'not allowed',
    0x03: 'network unreachable',
    0x04: 'host unreachable',
    0x05: 'refused',
    0x06: 'timed out',
    0x07: 'command not supported',
    0x08: 'address type not supported',
  };
  const name = short[rep] ?? REPLY_NAMES[rep] ?? 'unknown reply';
  return `${name} (0x${rep.toString(16).padStart(2, '0')})`;
}
