// `socks5.upstream.url: "vscode"`: follow the proxy VS Code itself uses. Host-free: the VS Code
// layer passes the values of `http.proxy`, `http.noProxy`, `http.proxyAuthorization` and the
// environment; this decides what they mean, the way VS Code reads them:
// - `http.proxy` set: that URL (it may carry `user:password@`: VS Code allows it there);
// - else the environment VS Code falls back to: HTTPS_PROXY, then HTTP_PROXY (either case);
// - neither: VS Code uses no proxy, so neither does this one (everything goes direct).
// `http.noProxy` (else NO_PROXY) becomes the bypass list, in NO_PROXY's sense: `example.com` and
// `.example.com` are that domain and every name below it, `*` is everything.

export interface VsCodeProxyValues {
  /** `http.proxy`. */
  proxy?: unknown;
  /** `http.noProxy`. */
  noProxy?: unknown;
  /** `http.proxyAuthorization`: a ready Proxy-Authorization value (HTTP upstreams). */
  proxyAuthorization?: unknown;
  /** The extension host's environment. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface VsCodeProxy {
  /** The upstream URL, or undefined: VS Code uses no proxy. */
  url: string | undefined;
  /** Where it came from, for messages: `http.proxy`, `HTTPS_PROXY`… */
  source: string;
  /** Bypass patterns (this project's pattern syntax). */
  bypass: string[];
  authorization?: string;
}

export function vscodeProxy(v: VsCodeProxyValues): VsCodeProxy {
  const env = v.env ?? {};
  const fromEnv = (...names: string[]): [string, string] | undefined => {
    for (const n of names) {
      for (const name of [n, n.toLowerCase()]) {
        const value = env[name]?.trim();
        if (value) return [name, value];
      }
    }
    return undefined;
  };
  let url: string | undefined;
  let source = 'http.proxy';
  if (typeof v.proxy === 'string' && v.proxy.trim() !== '') url = v.proxy.trim();
  else {
    const e = fromEnv('HTTPS_PROXY', 'HTTP_PROXY');
    if (e) [source, url] = e;
  }
  let noProxy: string[] = [];
  if (Array.isArray(v.noProxy) && v.noProxy.length > 0) noProxy = v.noProxy.filter((x): x is string => typeof x === 'string');
  else {
    const e = fromEnv('NO_PROXY');
    if (e) noProxy = e[1].split(',');
  }
  const result: VsCodeProxy = { url, source, bypass: noProxy.map(noProxyPattern).filter((p) => p !== '') };
  if (typeof v.proxyAuthorization === 'string' && v.proxyAuthorization.trim() !== '') result.authorization = v.proxyAuthorization.trim();
  return result;
}

/** One NO_PROXY entry → a bypass pattern: a bare name means the domain and below (`.name`). */
export function noProxyPattern(entry: string): string {
  const e = entry.trim();
  if (e === '' || e === '*' || e.startsWith('.') || e.startsWith('*') || e.startsWith('[')) return e;
  // An IPv4 address or range (with a port or not), or IPv6 (two or more colons): as written.
  if (/^[\d.]+(\/\d+)?(:\d+)?$/.test(e) || e.split(':').length > 2) return e;
  return `.${e}`;
}
