// The upstream option as the engine takes it (ServerOptions.upstream), checked and compiled once
// per configuration: the parsed URL, its name for logs, the bypass list.

import { compilePatterns, type PatternList } from '../rules';
import { describeUpstream, parseUpstreamUrl, type UpstreamProxy } from './url';

export interface UpstreamOptions {
  /** `socks5://`, `socks5h://` or `http://` URL; the user name may be in it. */
  url: string;
  /** The password for the URL's user (kept out of the URL). */
  password?: string;
  /** Destinations that go direct: the pattern syntax of the rules (`*.corp.example`, `10.0.0.0/8`, `host:443`). */
  bypass?: readonly string[];
  /** HTTP upstreams: a ready Proxy-Authorization value instead of Basic credentials. */
  authorization?: string;
  /** Accept `user:password@` in the URL (VS Code's own http.proxy may carry one). */
  allowPasswordInUrl?: boolean;
}

export interface CompiledUpstream {
  proxy: UpstreamProxy;
  /** `socks5h://alice@127.0.0.1:1080`: for log lines and the Connections view. Never the password. */
  name: string;
  bypass: PatternList;
  /** Carries BIND and UDP ASSOCIATE (a SOCKS5 upstream); an HTTP upstream carries CONNECT only. */
  carriesBindAndUdp: boolean;
}

export type CompiledUpstreamResult = { ok: true; value: CompiledUpstream } | { ok: false; errors: string[] };

export function compileUpstream(o: UpstreamOptions): CompiledUpstreamResult {
  const errors: string[] = [];
  const parsed = parseUpstreamUrl(o.url, {
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.allowPasswordInUrl ? { allowPasswordInUrl: true } : {}),
  });
  if (!parsed.ok) errors.push(parsed.reason);
  const { list, errors: patternErrors } = compilePatterns(o.bypass ?? [], 'bypass pattern');
  errors.push(...patternErrors);
  if (!parsed.ok || errors.length > 0) return { ok: false, errors };
  const proxy = parsed.value;
  // Only an HTTP upstream has a Proxy-Authorization header (VS Code too ignores it for SOCKS).
  if (o.authorization !== undefined && o.authorization !== '' && proxy.scheme === 'http') proxy.authorization = o.authorization;
  return { ok: true, value: { proxy, name: describeUpstream(proxy), bypass: list, carriesBindAndUdp: proxy.scheme !== 'http' } };
}
