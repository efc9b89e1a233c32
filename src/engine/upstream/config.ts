// The upstream option as the engine takes it (ServerOptions.upstream), checked and compiled once
// per configuration: the parsed URL, its name for logs, the bypass list.

import { compilePatterns, type PatternList } from '../rules';
import type { Dialer, UpstreamOptions } from '../types';
import { describeUpstream, parseUpstreamUrl, upstreamIdentity, type UpstreamProxy } from './url';

export interface CompiledUpstream {
  proxy: UpstreamProxy;
  /** `socks5h://alice@127.0.0.1:1080`: for log lines and the Connections view. Never the password. */
  name: string;
  bypass: PatternList;
  /** Carries BIND and UDP ASSOCIATE (a SOCKS5 upstream); an HTTP upstream carries CONNECT only. */
  carriesBindAndUdp: boolean;
}

/** What command handlers get (CommandConfig.upstream): the compiled upstream and the dialer that reaches it. */
export interface UpstreamRoute extends CompiledUpstream {
  /** The direct dialer: carries the hop to the upstream itself (rules are for destinations, not for it). */
  hop: Dialer;
}

/** The log line saying where outbound traffic goes. */
export function describeRoute(upstream: CompiledUpstream | undefined): string {
  if (!upstream) return 'outbound connections go direct (no upstream proxy)';
  const bypass = upstream.bypass.size > 0 ? `, except ${upstream.bypass.patterns.map((p) => p.text).join(', ')} (direct)` : '';
  const what = upstream.carriesBindAndUdp ? 'CONNECT, BIND and UDP go through it' : 'CONNECT goes through it (BIND and UDP are refused: an HTTP proxy carries CONNECT only)';
  return `upstream proxy ${upstream.name}: ${what}${bypass}`;
}

export type CompiledUpstreamResult = { ok: true; value: CompiledUpstream } | { ok: false; errors: string[] };

function bypassList(texts: readonly string[]): { list: PatternList; errors: string[] } {
  const { list, errors } = compilePatterns(texts, 'bypass pattern');
  // The route is chosen for the destination alone (the same for every user).
  list.patterns.forEach((p) => {
    if (p.users) errors.push(`bypass pattern "${p.text}": a bypass pattern cannot name users`);
  });
  return { list, errors };
}

/** What is wrong with a bypass list (each problem names its pattern), for the settings. */
export function bypassProblems(texts: readonly string[]): string[] {
  return bypassList(texts).errors;
}

/** What is wrong with an upstream URL on its own (its password may be set later), for the settings. */
export function upstreamUrlProblems(url: string, allowPasswordInUrl = false): string[] {
  const r = parseUpstreamUrl(url, { requirePassword: false, allowPasswordInUrl });
  return r.ok ? [] : [r.reason];
}

/** The URL's user and address (`alice@host:1080`), under which its password is kept; undefined without a user or when invalid. */
export function upstreamPasswordId(url: string): { id: string; scheme: UpstreamProxy['scheme']; hasPasswordInUrl: boolean } | undefined {
  const r = parseUpstreamUrl(url, { requirePassword: false, allowPasswordInUrl: true });
  if (!r.ok) return undefined;
  const id = upstreamIdentity(r.value);
  return id === undefined ? undefined : { id, scheme: r.value.scheme, hasPasswordInUrl: r.value.password !== undefined };
}

export function compileUpstream(o: UpstreamOptions): CompiledUpstreamResult {
  const errors: string[] = [];
  const parsed = parseUpstreamUrl(o.url, {
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.allowPasswordInUrl ? { allowPasswordInUrl: true } : {}),
  });
  if (!parsed.ok) errors.push(parsed.reason);
  const { list, errors: patternErrors } = bypassList(o.bypass ?? []);
  errors.push(...patternErrors);
  if (!parsed.ok || errors.length > 0) return { ok: false, errors };
  const proxy = parsed.value;
  // Only an HTTP upstream has a Proxy-Authorization header (VS Code too ignores it for SOCKS).
  if (o.authorization !== undefined && o.authorization !== '' && proxy.scheme === 'http') proxy.authorization = o.authorization;
  return { ok: true, value: { proxy, name: describeUpstream(proxy), bypass: list, carriesBindAndUdp: proxy.scheme !== 'http' } };
}
