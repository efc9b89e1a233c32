// Listen-address policy helpers: is an address reachable only from this machine? (the safe-default
// rule for unauthenticated use), and is it a wildcard (every interface)?
import { canonicalIp } from './address';

/** Trims, and strips the brackets of `[::1]`. */
function unbracket(host: string): string {
  const h = host.trim();
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/**
 * True when `host` can only be reached from this machine: 127.0.0.0/8, ::1 (however spelt), an
 * IPv4-mapped loopback (::ffff:127.x.x.x, ::ffff:7f00:1) or the name `localhost`. Wildcards
 * (0.0.0.0, ::) and any other name count as reachable from the network.
 */
export function isLoopbackHost(host: string): boolean {
  const h = unbracket(host).toLowerCase();
  if (h === 'localhost' || h === 'localhost.') return true;
  const ip = canonicalIp(h);
  return ip === '::1' || (ip !== undefined && /^127\.\d+\.\d+\.\d+$/.test(ip));
}

/** 0.0.0.0 / :: (listen on every interface). */
export function isWildcardHost(host: string): boolean {
  const ip = canonicalIp(unbracket(host));
  return ip === '0.0.0.0' || ip === '::';
}
