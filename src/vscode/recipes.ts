// Host-free (no `vscode` import): everything "reach" generates. The proxy URLs for each front
// door, the environment variables of proxy-aware terminals, the one line per tool of "Use This
// Proxy With…", how to read what `vscode.env.asExternalUri` returned (a TCP forward on the user's
// computer, or a browser host's HTTP-only URL), and the tunnel recipes that work where VS Code
// cannot forward TCP. Every line here is unit-tested (test/unit/vscode-recipes.test.ts) and the
// curl, git, pip, requests, ssh and Chromium lines are run against the CLI
// (test/integration/reach.test.ts).
import type { Endpoint } from '../engine';
import { connectableHost, fill, urlHost } from './format';

/** Translates an English message with `{0}`-style placeholders (see ./l10n). */
export type { Translate } from './l10n';
import type { Translate } from './l10n';

/** The identity translation: fills the placeholders in. */
export const englishT: Translate = fill;

/** Stands for the password in every generated line: passwords are never shown in clear. */
export const PASSWORD_PLACEHOLDER = '<password>';

/** Hosts that must never be sent to the proxy by environment-configured tools. */
export const NO_PROXY = 'localhost,127.0.0.1,::1';

/** contributes.walkthroughs[0].id in package.json (opened by socks5.openWalkthrough). */
export const WALKTHROUGH_ID = 'socks5.getStarted';

/** The page the example lines fetch. */
export const EXAMPLE_URL = 'https://example.com/';

/** Which front doors the running proxy has open. */
export interface Doors {
  /** SOCKS5 (always, unless `socks5.protocols.socks5` turns it off). */
  socks5: boolean;
  /** HTTP proxy incl. CONNECT and the PAC file (`socks5.protocols.http`, where the engine has it). */
  http: boolean;
}

/** Who logs in: the user name, and the password only where the user explicitly allowed it. */
export interface Credentials {
  user: string;
  /** Undefined: the {@link PASSWORD_PLACEHOLDER} is written instead. */
  password?: string;
}

export type Scheme = 'socks5' | 'socks5h' | 'http';

// ---------------------------------------------------------------------------------------------
// URLs

/** `host:port` for a client to dial (wildcards become loopback, IPv6 bracketed). */
export function hostPort(address: Endpoint): string {
  return `${urlHost(address.host)}:${address.port}`;
}

/**
 * `scheme://[user[:password]@]host:port`. The user name and a real password are
 * percent-encoded; without a password in `credentials`, the placeholder stands in.
 */
export function proxyUrl(scheme: Scheme, address: Endpoint, credentials?: Credentials): string {
  let userinfo = '';
  if (credentials) {
    const pass = credentials.password === undefined ? PASSWORD_PLACEHOLDER : encodeURIComponent(credentials.password);
    userinfo = `${encodeURIComponent(credentials.user)}:${pass}@`;
  }
  return `${scheme}://${userinfo}${hostPort(address)}`;
}

/** The PAC file the HTTP door serves. */
export function pacUrl(address: Endpoint): string {
  return `http://${hostPort(address)}/proxy.pac`;
}

/** The URL a tool that resolves names on the proxy should use: socks5h when SOCKS5 is open, else http. */
export function preferredUrl(address: Endpoint, doors: Doors, credentials?: Credentials): string {
  return proxyUrl(doors.socks5 ? 'socks5h' : 'http', address, credentials);
}

// ---------------------------------------------------------------------------------------------
// Environment variables (integrated terminals and the shell lines)

/**
 * The proxy variables, upper and lower case (tools disagree on which they read): ALL_PROXY
 * always; HTTP_PROXY / HTTPS_PROXY when the HTTP door is open; NO_PROXY for loopback.
 */
export function proxyEnvironment(address: Endpoint, doors: Doors, credentials?: Credentials): Array<[string, string]> {
  const all = preferredUrl(address, doors, credentials);
  const env: Array<[string, string]> = [['ALL_PROXY', all]];
  if (doors.http) {
    const http = proxyUrl('http', address, credentials);
    env.push(['HTTP_PROXY', http], ['HTTPS_PROXY', http]);
  }
  env.push(['NO_PROXY', NO_PROXY]);
  return env.flatMap(([k, v]) => [
    [k, v],
    [k.toLowerCase(), v],
  ]);
}

// ---------------------------------------------------------------------------------------------
// Shell quoting

const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** POSIX sh / bash / zsh: bare when safe, otherwise single-quoted (brackets too: zsh globs them). */
export function shQuote(s: string): string {
  return SHELL_SAFE.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** fish: single quotes, with `\` and `'` escaped. */
export function fishQuote(s: string): string {
  return SHELL_SAFE.test(s) ? s : `'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** PowerShell: always single-quoted (`'` doubled). */
export function psQuote(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

// ---------------------------------------------------------------------------------------------
// "Use This Proxy With…"

export type RecipeId =
  | 'curl'
  | 'git-repo'
  | 'git-global'
  | 'npm'
  | 'pip'
  | 'requests'
  | 'env-sh'
  | 'env-fish'
  | 'env-powershell'
  | 'ssh'
  | 'chromium'
  | 'firefox'
  | 'pac';

export interface Recipe {
  id: RecipeId;
  /** The tool, as the quick pick lists it. */
  label: string;
  /** One short line under the label: what the line does, or why it is not available. */
  detail: string;
  /** What is copied (empty when not available). */
  text: string;
  /** False when this proxy cannot serve the tool as configured (`detail` says why). */
  available: boolean;
}

/** What the lines are generated for. */
export interface RecipeTarget {
  /** The address that works where the user is (the local forward when there is one). */
  address: Endpoint;
  doors: Doors;
  /** Filled in when authentication is on; the password is always the placeholder here. */
  user?: string;
}

/**
 * One line per tool for this proxy. Passwords never appear: a line for a proxy with users names
 * the user and carries {@link PASSWORD_PLACEHOLDER}.
 */
export function recipes(target: RecipeTarget, t: Translate = englishT): Recipe[] {
  const { address, doors } = target;
  const cred: Credentials | undefined = target.user !== undefined ? { user: target.user } : undefined;
  const auth = cred !== undefined;
  const url = preferredUrl(address, doors, cred);
  const httpUrl = proxyUrl('http', address, cred);
  const hp = hostPort(address);
  const bare = connectableHost(address.host);
  const out: Recipe[] = [];
  const add = (id: RecipeId, label: string, detail: string, text: string): void => {
    out.push({ id, label, detail, text, available: true });
  };
  const missing = (id: RecipeId, label: string, detail: string): void => {
    out.push({ id, label, detail, text: '', available: false });
  };

  add('curl', 'curl', t('Fetch one URL through the proxy (names resolved by the proxy)'), `curl --proxy ${shQuote(url)} ${EXAMPLE_URL}`);

  add(
    'git-repo',
    t('git (this repository)'),
    t('HTTPS remotes of the repository you run it in'),
    `git config http.proxy ${shQuote(url)}`,
  );
  add('git-global', t('git (every repository)'), t('HTTPS remotes of every repository of your user'), `git config --global http.proxy ${shQuote(url)}`);

  if (doors.http) {
    add(
      'npm',
      'npm',
      t('npm speaks HTTP proxies only: uses the HTTP door'),
      `npm config set proxy ${shQuote(httpUrl)} && npm config set https-proxy ${shQuote(httpUrl)}`,
    );
  } else {
    missing('npm', 'npm', t('npm cannot use a SOCKS5 proxy; it needs the HTTP door (socks5.protocols.http), which is off'));
  }

  if (doors.http) {
    add('pip', 'pip', t('Install a package through the HTTP door'), `pip install --proxy ${shQuote(httpUrl)} PACKAGE`);
  } else {
    add('pip', 'pip', t('Install a package through SOCKS5 (pip needs PySocks for this: pip install pysocks)'), `pip install --proxy ${shQuote(url)} PACKAGE`);
  }

  add(
    'requests',
    t('Python requests'),
    doors.socks5 ? t('SOCKS5 needs requests[socks] (PySocks)') : t('Through the HTTP door'),
    `import requests; print(requests.get('${EXAMPLE_URL}', proxies={'http': '${url}', 'https': '${url}'}).status_code)`,
  );

  const env = proxyEnvironment(address, doors, cred);
  const envDetail = doors.http ? t('ALL_PROXY, HTTP_PROXY, HTTPS_PROXY and NO_PROXY for this shell') : t('ALL_PROXY and NO_PROXY for this shell');
  add('env-sh', t('Environment variables (bash, zsh)'), envDetail, `export ${env.map(([k, v]) => `${k}=${shQuote(v)}`).join(' ')}`);
  add('env-fish', t('Environment variables (fish)'), envDetail, env.map(([k, v]) => `set -gx ${k} ${fishQuote(v)}`).join('; '));
  add('env-powershell', t('Environment variables (PowerShell)'), envDetail, env.map(([k, v]) => `$env:${k} = ${psQuote(v)}`).join('; '));

  if (!doors.socks5) {
    missing('ssh', 'ssh', t('ssh goes through SOCKS5, which is off (socks5.protocols.socks5)'));
  } else if (auth) {
    // OpenBSD nc cannot log in to a SOCKS5 proxy; nmap's ncat can.
    add(
      'ssh',
      'ssh',
      t('ProxyCommand with ncat (nmap), which can log in; replace user@host'),
      `ssh -o ProxyCommand=${shQuote(`ncat --proxy-type socks5 --proxy ${hp} --proxy-auth ${cred.user}:${PASSWORD_PLACEHOLDER} %h %p`)} user@host`,
    );
  } else {
    add('ssh', 'ssh', t('ProxyCommand with OpenBSD netcat; replace user@host'), `ssh -o ProxyCommand=${shQuote(`nc -X 5 -x ${hp} %h %p`)} user@host`);
  }

  // Chromium resolves nothing itself with these rules (no DNS leak) except the proxy's own
  // address, which the EXCLUDE keeps reachable; <-loopback> sends the remote's localhost
  // through the proxy too. A separate profile, so a running browser does not swallow the flags.
  const chromiumProfile = '--user-data-dir="$HOME/.chromium-socks5"';
  const resolverRules = `--host-resolver-rules=${shQuote(`MAP * ~NOTFOUND, EXCLUDE ${urlHost(address.host)}`)}`;
  const bypass = `--proxy-bypass-list=${shQuote('<-loopback>')}`;
  if (doors.socks5 && !auth) {
    add(
      'chromium',
      t('Chromium / Chrome'),
      t('A separate browser profile using the proxy for every site (Chrome: same flags)'),
      `chromium ${chromiumProfile} --proxy-server=${shQuote(`socks5://${hp}`)} ${resolverRules} ${bypass}`,
    );
  } else if (doors.http) {
    add(
      'chromium',
      t('Chromium / Chrome'),
      auth ? t('Through the HTTP door (Chromium cannot log in to SOCKS5; it asks for the password)') : t('Through the HTTP door'),
      `chromium ${chromiumProfile} --proxy-server=${shQuote(`http://${hp}`)} ${bypass}`,
    );
  } else {
    missing('chromium', t('Chromium / Chrome'), t('Chromium cannot log in to a SOCKS5 proxy; it needs the HTTP door (socks5.protocols.http)'));
  }

  // Firefox: the manual settings (detail) and the same as user.js lines (copied).
  const ffHost = connectableHost(address.host);
  if (doors.socks5 && !auth) {
    add(
      'firefox',
      'Firefox',
      t('Settings → Network Settings → Manual proxy configuration: SOCKS Host {0}, Port {1}, SOCKS v5, tick "Proxy DNS when using SOCKS v5". Copies the same as user.js lines.', bare, address.port),
      userPrefs([
        ['network.proxy.type', 1],
        ['network.proxy.socks', ffHost],
        ['network.proxy.socks_port', address.port],
        ['network.proxy.socks_version', 5],
        ['network.proxy.socks_remote_dns', true],
        ['network.proxy.allow_hijacking_localhost', true],
      ]),
    );
  } else if (doors.http) {
    add(
      'firefox',
      'Firefox',
      t('Settings → Network Settings → Manual proxy configuration: HTTP Proxy {0}, Port {1}, tick "Also use this proxy for HTTPS". Copies the same as user.js lines.', bare, address.port),
      userPrefs([
        ['network.proxy.type', 1],
        ['network.proxy.http', ffHost],
        ['network.proxy.http_port', address.port],
        ['network.proxy.ssl', ffHost],
        ['network.proxy.ssl_port', address.port],
        ['network.proxy.allow_hijacking_localhost', true],
      ]),
    );
  } else {
    missing('firefox', 'Firefox', t('Firefox cannot log in to a SOCKS5 proxy; it needs the HTTP door (socks5.protocols.http)'));
  }

  if (doors.http) {
    add('pac', t('PAC URL (automatic proxy configuration)'), t('For system or browser settings that take a PAC URL'), pacUrl(address));
  } else {
    missing('pac', t('PAC URL (automatic proxy configuration)'), t('The PAC file is served by the HTTP door (socks5.protocols.http), which is off'));
  }
  return out;
}

/** Firefox user.js lines. */
function userPrefs(prefs: Array<[string, string | number | boolean]>): string {
  return prefs.map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});`).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Use from This Computer: what asExternalUri returned

/**
 * What `vscode.env.asExternalUri(http://127.0.0.1:PORT)` gave back:
 * - `tcp`: a plain `http://localhost:N/` (or `127.0.0.1`, `[::1]`) with nothing after the port:
 *   VS Code opened a TCP forward (Remote-SSH, WSL, Dev Containers, Codespaces in the desktop app)
 *   or the port is reachable as is (N is then the same port);
 * - `http-only`: a URL that carries HTTP requests only: a path under a browser host's own origin
 *   (code-server's `/proxy/PORT/` or `/absproxy/PORT/`), an https:// URL (Codespaces or another
 *   tunnel service in a browser tab) or any other host. SOCKS5 cannot travel through it.
 */
export type ForwardResult =
  | { kind: 'tcp'; local: Endpoint; external: string }
  | { kind: 'http-only'; external: string; why: 'path' | 'https' | 'other-host'; serverHost?: string };

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function classifyExternalUri(external: string): ForwardResult {
  let u: URL;
  try {
    u = new URL(external);
  } catch {
    // Not absolute: a path under the page's own origin (code-server answers `./proxy/PORT/`).
    return { kind: 'http-only', external, why: 'path' };
  }
  const host = u.hostname.toLowerCase();
  const serverHost = LOOPBACK_NAMES.has(host) || /^127\./.test(host) ? undefined : u.hostname;
  const withServer = serverHost !== undefined ? { serverHost } : {};
  if (u.protocol === 'https:') return { kind: 'http-only', external, why: 'https', ...withServer };
  if (u.protocol !== 'http:') return { kind: 'http-only', external, why: 'other-host', ...withServer };
  if (u.pathname !== '/' && u.pathname !== '') return { kind: 'http-only', external, why: 'path', ...withServer };
  if (serverHost !== undefined) return { kind: 'http-only', external, why: 'other-host', serverHost };
  // VS Code binds its forwards on 127.0.0.1; `localhost` may resolve to ::1 first in a client.
  const localHost = host === 'localhost' ? '127.0.0.1' : host.replace(/^\[|\]$/g, '');
  return { kind: 'tcp', local: { host: localHost, port: u.port === '' ? 80 : Number(u.port) }, external };
}

export interface Tunnel {
  id: 'ssh' | 'codespaces';
  label: string;
  text: string;
}

/**
 * Commands that forward the proxy's TCP port to the user's computer where VS Code can only
 * forward HTTP. `remote` is where the proxy listens on the remote; the local port is the same.
 */
export function tunnelRecipes(remote: Endpoint, where: { serverHost?: string; codespace?: string }, t: Translate = englishT): Tunnel[] {
  const host = where.serverHost ?? 'REMOTE-HOST';
  const out: Tunnel[] = [];
  if (where.codespace !== undefined) {
    out.push({
      id: 'codespaces',
      label: t('Copy gh Command'),
      text: `gh codespace ports forward ${remote.port}:${remote.port} -c ${shQuote(where.codespace)}`,
    });
  }
  out.push({
    id: 'ssh',
    label: t('Copy ssh Command'),
    text: `ssh -N -L ${remote.port}:${hostPort(remote)} ${shQuote(host)}`,
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Where the user is

/**
 * The address to show: `local` window (the proxy runs on this computer), `forwarded` (a remote
 * window with a TCP forward: the local end), `remote` (a remote window without one: the remote's
 * own address, which works on the remote host only).
 */
export interface Whereabouts {
  where: 'local' | 'forwarded' | 'remote';
  /** What a client where the user is should dial. */
  address: Endpoint;
  /** The proxy's own listener (on the remote in a remote window). */
  listener: Endpoint;
}

export function whereabouts(listener: Endpoint, remoteWindow: boolean, forward: Endpoint | undefined): Whereabouts {
  if (!remoteWindow) return { where: 'local', address: listener, listener };
  if (forward) return { where: 'forwarded', address: forward, listener };
  return { where: 'remote', address: listener, listener };
}

/** A few words saying where the shown address works. */
export function whereText(w: Whereabouts, t: Translate = englishT): string {
  switch (w.where) {
    case 'local':
      return t('on this computer');
    case 'forwarded':
      return t('on this computer, forwarded to the remote {0}', hostPort(w.listener));
    case 'remote':
      return t('on the remote host only');
  }
}
