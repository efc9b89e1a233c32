// Host-free (no `vscode` import): turns the raw `socks5.*` settings into engine options, or into a
// list of readable problems that name the setting. Also the safety rules (loopback detection, the
// `allowUnauthenticatedRemote` rule, users without a password) and the live-apply plan, so all of
// the decisions are unit-testable outside VS Code.
import { isIP } from 'node:net';
import type { CommandSwitches, LiveOptions, ProtocolSwitches, ServerOptions, Timeouts, UpstreamOptions, VsCodeProxy } from '../engine';
import {
  bypassProblems,
  compileUpstream,
  DEFAULT_OPTIONS,
  DEFAULT_RULES,
  isLoopbackHost,
  isWildcardHost,
  listenVerdict,
  rulesProblems,
  upstreamPasswordId,
  upstreamUrlProblems,
  type RulesOptions,
} from '../engine';
import { localized, t, untranslated, type Localized } from './l10n';

export const SECTION = 'socks5';

/** Every setting under `socks5.`, as written in package.json. */
export const SETTING_KEYS = [
  'host',
  'port',
  'autoStart',
  'auth.users',
  'commands.connect',
  'commands.bind',
  'commands.udpAssociate',
  'protocols.socks5',
  'protocols.socks4',
  'protocols.http',
  'timeouts.handshake',
  'timeouts.connect',
  'timeouts.idle',
  'timeouts.bind',
  'maxConnections',
  'allowUnauthenticatedRemote',
  'rules.clients',
  'rules.destinations',
  'rules.blockPrivate',
  'remote.forwardOnStart',
  'terminal.proxyEnvironment',
  'terminal.includeCredentials',
  'upstream.url',
  'upstream.bypass',
] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

/**
 * Security-sensitive keys: `machine`-scoped and restricted in untrusted workspaces, so a cloned
 * repository's `.vscode/settings.json` can never open the proxy to the network or start it.
 */
export const MACHINE_KEYS: readonly SettingKey[] = [
  'host',
  'port',
  'autoStart',
  'auth.users',
  'allowUnauthenticatedRemote',
  'rules.clients',
  'rules.destinations',
  'rules.blockPrivate',
  'terminal.includeCredentials',
  // Where every client's traffic goes, and what skips the upstream: never from a workspace.
  'upstream.url',
  'upstream.bypass',
];

/** socks5.upstream.url's value meaning "the proxy VS Code itself uses" (http.proxy, http.noProxy). */
export const VSCODE_UPSTREAM = 'vscode';

export interface UpstreamSettings {
  /** '' = none; VSCODE_UPSTREAM; or a socks5://, socks5h:// or http:// URL (checked). */
  url: string;
  bypass: string[];
}

/** What `workspace.getConfiguration('socks5').get(key)` returned for each key (anything at all). */
export type RawSettings = Partial<Record<SettingKey, unknown>>;

/** Validated settings, in the units of the settings UI (timeouts in seconds). */
export interface ProxySettings {
  host: string;
  port: number;
  autoStart: boolean;
  users: string[];
  commands: CommandSwitches;
  /** Front doors served on the port. */
  protocols: ProtocolSwitches;
  /** Seconds, as configured. */
  timeoutsSeconds: { handshake: number; connect: number; idle: number; bind: number };
  maxConnections: number;
  allowUnauthenticatedRemote: boolean;
  /** Client allow-list, destination rules, block-private (checked by the engine's rules module). */
  rules: RulesOptions;
  /** socks5.upstream.url ('' = none, `vscode` = VS Code's own http.proxy) and socks5.upstream.bypass. */
  upstream: UpstreamSettings;
  /** socks5.remote.forwardOnStart: forward the port to the user's computer at every start (remote windows). */
  forwardOnStart: boolean;
  /** socks5.terminal.proxyEnvironment: new integrated terminals get the proxy variables while it runs. */
  terminalEnvironment: boolean;
  /** socks5.terminal.includeCredentials: those variables may carry a user's password. */
  terminalCredentials: boolean;
}

const seconds = (ms: number): number => ms / 1000;
const defaultTimeouts = DEFAULT_OPTIONS.timeouts;

/** The engine's defaults (../engine/policy), in the settings' units, and the settings' own. */
export const DEFAULT_SETTINGS: Readonly<ProxySettings> = Object.freeze({
  host: DEFAULT_OPTIONS.host,
  port: DEFAULT_OPTIONS.port,
  autoStart: false,
  users: [],
  commands: { ...DEFAULT_OPTIONS.commands },
  protocols: { ...DEFAULT_OPTIONS.protocols },
  timeoutsSeconds: {
    handshake: seconds(defaultTimeouts.handshakeMs),
    connect: seconds(defaultTimeouts.connectMs),
    idle: seconds(defaultTimeouts.idleMs),
    bind: seconds(defaultTimeouts.bindMs),
  },
  maxConnections: DEFAULT_OPTIONS.maxConnections,
  allowUnauthenticatedRemote: false,
  rules: DEFAULT_RULES,
  upstream: Object.freeze({ url: '', bypass: [] }),
  forwardOnStart: false,
  terminalEnvironment: false,
  terminalCredentials: false,
});

/** Limits shared with package.json's `minimum` / `maximum`. */
export const LIMITS = Object.freeze({
  timeoutMaxSeconds: 86_400,
  maxConnectionsMax: 100_000,
  /** RFC 1929: UNAME and PASSWD are 1–255 octets. */
  credentialMaxBytes: 255,
});

export interface SettingProblem {
  /** Full setting id, e.g. `socks5.port`. */
  setting: string;
  /** A sentence that starts with the setting id (English, for the log). */
  message: string;
  /** The same in the display language (notifications). */
  text: string;
}

export type ValidationResult =
  | { ok: true; settings: ProxySettings; warnings: SettingProblem[] }
  | {
      ok: false;
      errors: SettingProblem[];
      warnings: SettingProblem[];
      /**
       * The settings with every invalid key replaced by its value in `fallback` (the last valid
       * configuration): what the proxy keeps using while the user fixes the value.
       */
      effective: ProxySettings;
    };

const id = (key: SettingKey): string => `${SECTION}.${key}`;
const isUnset = (v: unknown): boolean => v === undefined || v === null;

/**
 * Validates a raw settings object. Unset (undefined/null) keys take their defaults; an invalid key
 * is reported and, in `effective`, takes its value from `fallback` (default: the defaults).
 */
export function validateSettings(raw: RawSettings, fallback: ProxySettings = DEFAULT_SETTINGS): ValidationResult {
  const errors: SettingProblem[] = [];
  const warnings: SettingProblem[] = [];
  const fail = (key: SettingKey, what: string | Localized): void => {
    const l = typeof what === 'string' ? { english: what, text: what } : what;
    errors.push({ setting: id(key), message: `${id(key)} ${l.english}`, text: `${id(key)} ${l.text}` });
  };

  // host
  let host = DEFAULT_SETTINGS.host;
  if (!isUnset(raw.host)) {
    host = fallback.host;
    if (typeof raw.host !== 'string') {
      fail('host', localized('must be a string such as "127.0.0.1" (got {0})', describe(raw.host)));
    } else {
      const h = normalizeHost(raw.host);
      if (h === '') {
        fail('host', localized('must not be empty: use "127.0.0.1" for this machine only or "0.0.0.0" for every interface'));
      } else if (!isValidHost(h)) {
        fail('host', localized('must be an IPv4 or IPv6 address or a host name (got {0})', JSON.stringify(raw.host)));
      } else {
        host = h;
      }
    }
  }

  const port = integerSetting(raw.port, 'port', DEFAULT_SETTINGS.port, fallback.port, 0, 65_535, localized(' (0 = any free port)'), fail);
  const autoStart = booleanSetting(raw.autoStart, 'autoStart', DEFAULT_SETTINGS.autoStart, fallback.autoStart, fail);

  // auth.users
  let users: string[] = [];
  const rawUsers = raw['auth.users'];
  if (!isUnset(rawUsers)) {
    const before = errors.length;
    if (!Array.isArray(rawUsers)) {
      fail('auth.users', localized('must be a list of user names, e.g. ["alice"] (got {0})', describe(rawUsers)));
    } else {
      const seen = new Set<string>();
      rawUsers.forEach((u: unknown, i: number) => {
        const problem = typeof u === 'string' ? usernameProblemLocalized(u) : localized('must be a string (got {0})', describe(u));
        if (problem) {
          fail('auth.users', localized('entry {0} {1}', i + 1, problem));
        } else if (seen.has(u as string)) {
          fail('auth.users', localized('lists "{0}" more than once', u as string));
        } else {
          seen.add(u as string);
          users.push(u as string);
        }
      });
    }
    // A half-valid list is not used: the whole last valid list is (never fewer users than meant).
    if (errors.length > before) users = [...fallback.users];
  }

  const commands: CommandSwitches = {
    connect: booleanSetting(raw['commands.connect'], 'commands.connect', DEFAULT_SETTINGS.commands.connect, fallback.commands.connect, fail),
    bind: booleanSetting(raw['commands.bind'], 'commands.bind', DEFAULT_SETTINGS.commands.bind, fallback.commands.bind, fail),
    udpAssociate: booleanSetting(
      raw['commands.udpAssociate'],
      'commands.udpAssociate',
      DEFAULT_SETTINGS.commands.udpAssociate,
      fallback.commands.udpAssociate,
      fail,
    ),
  };

  const dp = DEFAULT_SETTINGS.protocols;
  const fp = fallback.protocols;
  const protocols: ProtocolSwitches = {
    socks5: booleanSetting(raw['protocols.socks5'], 'protocols.socks5', dp.socks5, fp.socks5, fail),
    socks4: booleanSetting(raw['protocols.socks4'], 'protocols.socks4', dp.socks4, fp.socks4, fail),
    http: booleanSetting(raw['protocols.http'], 'protocols.http', dp.http, fp.http, fail),
  };

  const d = DEFAULT_SETTINGS.timeoutsSeconds;
  const f = fallback.timeoutsSeconds;
  const max = LIMITS.timeoutMaxSeconds;
  const timeoutsSeconds = {
    handshake: numberSetting(raw['timeouts.handshake'], 'timeouts.handshake', d.handshake, f.handshake, 1, max, fail),
    connect: numberSetting(raw['timeouts.connect'], 'timeouts.connect', d.connect, f.connect, 1, max, fail),
    idle: numberSetting(raw['timeouts.idle'], 'timeouts.idle', d.idle, f.idle, 0, max, fail, localized(' (0 = no idle timeout)')),
    bind: numberSetting(raw['timeouts.bind'], 'timeouts.bind', d.bind, f.bind, 1, max, fail),
  };

  const maxConnections = integerSetting(
    raw.maxConnections,
    'maxConnections',
    DEFAULT_SETTINGS.maxConnections,
    fallback.maxConnections,
    1,
    LIMITS.maxConnectionsMax,
    undefined,
    fail,
  );
  const allowUnauthenticatedRemote = booleanSetting(
    raw.allowUnauthenticatedRemote,
    'allowUnauthenticatedRemote',
    DEFAULT_SETTINGS.allowUnauthenticatedRemote,
    fallback.allowUnauthenticatedRemote,
    fail,
  );

  const rules: RulesOptions = {
    clients: ruleListSetting(raw['rules.clients'], 'rules.clients', fallback.rules.clients, (clients) => rulesProblems({ clients }), fail),
    destinations: ruleListSetting(
      raw['rules.destinations'],
      'rules.destinations',
      fallback.rules.destinations,
      (destinations) => rulesProblems({ destinations }),
      fail,
    ),
    blockPrivate: booleanSetting(raw['rules.blockPrivate'], 'rules.blockPrivate', DEFAULT_RULES.blockPrivate, fallback.rules.blockPrivate, fail),
  };
  const upstream: UpstreamSettings = {
    url: upstreamUrlSetting(raw['upstream.url'], fallback.upstream.url, fail),
    bypass: ruleListSetting(raw['upstream.bypass'], 'upstream.bypass', fallback.upstream.bypass, bypassProblems, fail),
  };
  const forwardOnStart = booleanSetting(
    raw['remote.forwardOnStart'],
    'remote.forwardOnStart',
    DEFAULT_SETTINGS.forwardOnStart,
    fallback.forwardOnStart,
    fail,
  );
  const terminalEnvironment = booleanSetting(
    raw['terminal.proxyEnvironment'],
    'terminal.proxyEnvironment',
    DEFAULT_SETTINGS.terminalEnvironment,
    fallback.terminalEnvironment,
    fail,
  );
  const terminalCredentials = booleanSetting(
    raw['terminal.includeCredentials'],
    'terminal.includeCredentials',
    DEFAULT_SETTINGS.terminalCredentials,
    fallback.terminalCredentials,
    fail,
  );

  if (!commands.connect && !commands.bind && !commands.udpAssociate) {
    const all = localized('{0}, {1} and {2} are all off: every request will be refused', id('commands.connect'), id('commands.bind'), id('commands.udpAssociate'));
    warnings.push({ setting: id('commands.connect'), message: all.english, text: all.text });
  }

  if (!protocols.socks5 && !protocols.socks4 && !protocols.http) {
    const none = localized('{0}, {1} and {2} are all off: every connection will be closed', id('protocols.socks5'), id('protocols.socks4'), id('protocols.http'));
    warnings.push({ setting: id('protocols.socks5'), message: none.english, text: none.text });
  }

  const settings: ProxySettings = {
    host,
    port,
    autoStart,
    users,
    commands,
    protocols,
    timeoutsSeconds,
    maxConnections,
    allowUnauthenticatedRemote,
    rules,
    upstream,
    forwardOnStart,
    terminalEnvironment,
    terminalCredentials,
  };
  if (errors.length > 0) return { ok: false, errors, warnings, effective: settings };
  return { ok: true, warnings, settings };
}

/** One line for a notification: the first problem, and how many more there are. */
export function summarizeProblems(problems: readonly SettingProblem[]): Localized {
  if (problems.length === 0) return { english: '', text: '' };
  const { message, text } = problems[0];
  const more = problems.length - 1;
  if (more === 0) return { english: `${message}.`, text: t('{0}.', text) };
  return {
    english: `${message} (and ${more} more problem${more > 1 ? 's' : ''}).`,
    text: more === 1 ? t('{0} (and 1 more problem).', text) : t('{0} (and {1} more problems).', text, more),
  };
}

/** Seconds → the engine's milliseconds. */
export function timeoutsToMs(s: ProxySettings['timeoutsSeconds']): Timeouts {
  const ms = (v: number): number => Math.round(v * 1000);
  return { handshakeMs: ms(s.handshake), connectMs: ms(s.connect), idleMs: ms(s.idle), bindMs: ms(s.bind) };
}

// ---------------------------------------------------------------------------------------------
// Hosts

/** Trims, and strips the brackets of `[::1]`. */
export function normalizeHost(host: string): string {
  const h = host.trim();
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

export function isValidHost(host: string): boolean {
  if (isIP(host) !== 0) return true;
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name.length === 0 || name.length > 253) return false;
  // All-numeric dotted names that are not valid IPv4 (e.g. 999.1.1.1) are typos, not host names.
  if (/^[0-9.]+$/.test(name)) return false;
  return name.split('.').every((l) => LABEL.test(l));
}

// The loopback / wildcard rules live in the engine, so the CLI and the extension apply one rule.
export { isLoopbackHost, isWildcardHost };

// ---------------------------------------------------------------------------------------------
// Credentials

const CONTROL = /[\u0000-\u001f\u007f]/;

/** Why `name` cannot be a SOCKS5 username (English and display language), or undefined when it can. */
function usernameProblemLocalized(name: string): Localized | undefined {
  if (name.length === 0) return localized('must not be empty');
  if (name.trim() !== name) return localized('("{0}") must not start or end with a space', name);
  if (CONTROL.test(name)) return localized('must not contain control characters');
  if (Buffer.byteLength(name, 'utf8') > LIMITS.credentialMaxBytes) return localized('must be at most 255 bytes (RFC 1929)');
  return undefined;
}

/** Why `name` cannot be a SOCKS5 username, in the display language, or undefined when it can. */
export function usernameProblem(name: string): string | undefined {
  return usernameProblemLocalized(name)?.text;
}

/** Why `password` cannot be a SOCKS5 password, or undefined when it can. Never echoes it. */
export function passwordProblem(password: string): string | undefined {
  if (password.length === 0) return t('The password must not be empty');
  if (Buffer.byteLength(password, 'utf8') > LIMITS.credentialMaxBytes) return t('The password must be at most 255 bytes (RFC 1929)');
  return undefined;
}

/** The SecretStorage key for the upstream password of `id` (`alice@proxy:1080`, see upstreamPasswordId). */
export function upstreamPasswordKey(id: string): string {
  return `socks5.upstreamPassword.${id}`;
}

/** The SecretStorage key for one user's password. */
export function passwordKey(user: string): string {
  return `socks5.password.${user}`;
}

/** The user name in a SecretStorage key made by passwordKey(), or undefined. */
export function userFromPasswordKey(key: string): string | undefined {
  return key.startsWith('socks5.password.') ? key.slice('socks5.password.'.length) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Start / live-apply decisions

export type EngineOptions = Omit<ServerOptions, 'logger'>;

export type StartPlan =
  | {
      ok: true;
      options: EngineOptions;
      /** Users listed in socks5.auth.users that have no password yet (they cannot log in). */
      usersWithoutPassword: string[];
      /** Things to tell the user (e.g. listening on the network without authentication). */
      warnings: Localized[];
    }
  | {
      ok: false;
      reason: Localized;
      /** The fix to offer. */
      fix: 'setPassword' | 'openSettings' | 'setUpstreamPassword';
      usersWithoutPassword: string[];
      /** The setting the problem is in, when it is not socks5.host / socks5.auth.users. */
      setting?: string;
    };

/** What the upstream settings need from outside: its stored password, VS Code's own proxy. */
export interface UpstreamInputs {
  /** The password stored for the upstream URL's user (under upstreamPasswordKey), if any. */
  password?: string;
  /** VS Code's http.proxy / http.noProxy / http.proxyAuthorization (for socks5.upstream.url "vscode"). */
  vscode?: VsCodeProxy;
}

/** The upstream URL in effect: socks5.upstream.url, or VS Code's own proxy for "vscode"; undefined: none. */
export function effectiveUpstreamUrl(u: UpstreamSettings, vscodeProxy: VsCodeProxy | undefined): string | undefined {
  if (u.url === '') return undefined;
  return u.url === VSCODE_UPSTREAM ? vscodeProxy?.url : u.url;
}

type UpstreamPlan =
  | { ok: true; options: UpstreamOptions | undefined }
  | { ok: false; reason: Localized; fix: 'openSettings' | 'setUpstreamPassword'; setting: string };

/** socks5.upstream.* (and, for "vscode", VS Code's own proxy) → the engine's upstream option, checked as the engine checks it. */
export function planUpstream(u: UpstreamSettings, inputs: UpstreamInputs): UpstreamPlan {
  const url = effectiveUpstreamUrl(u, inputs.vscode);
  if (url === undefined) return { ok: true, options: undefined };
  const fromVsCode = u.url === VSCODE_UPSTREAM;
  const where = fromVsCode ? localized('{0} (socks5.upstream.url is "vscode")', inputs.vscode?.source ?? 'http.proxy') : untranslated('socks5.upstream.url');
  const setting = fromVsCode && inputs.vscode?.source === 'http.proxy' ? 'http.proxy' : 'socks5.upstream.url';
  const options: UpstreamOptions = {
    url,
    bypass: fromVsCode ? [...(inputs.vscode?.bypass ?? []), ...u.bypass] : u.bypass,
    ...(fromVsCode ? { allowPasswordInUrl: true } : {}),
    ...(fromVsCode && inputs.vscode?.authorization ? { authorization: inputs.vscode.authorization } : {}),
  };
  const id = upstreamPasswordId(url);
  if (id && !id.hasPasswordInUrl) {
    if (inputs.password) options.password = inputs.password;
    else if (id.scheme !== 'http') {
      return {
        ok: false,
        fix: 'setUpstreamPassword',
        setting,
        reason: localized('The upstream proxy in {0} needs the password of {1}: set it with "SOCKS5: Set Upstream Password…".', where, id.id),
      };
    }
  }
  const r = compileUpstream(options);
  if (!r.ok) {
    // The bypass patterns were checked with the settings; what is left is the URL (VS Code's own, for "vscode").
    return { ok: false, fix: 'openSettings', setting, reason: localized('{0}: {1}', where, untranslated(r.errors.join('; '))) };
  }
  return { ok: true, options };
}

/**
 * Decides whether the proxy may start with `settings`, given the stored passwords
 * (`passwords.get(user)` undefined = none stored), and builds the engine options.
 */
export function planStart(settings: ProxySettings, passwords: ReadonlyMap<string, string | undefined>, upstreamInputs: UpstreamInputs = {}): StartPlan {
  const users = new Map<string, string>();
  const missing: string[] = [];
  for (const u of settings.users) {
    const p = passwords.get(u);
    if (p === undefined || p === '') missing.push(u);
    else users.set(u, p);
  }
  if (settings.users.length > 0 && users.size === 0) {
    // Starting would silently turn authentication off: refuse.
    return {
      ok: false,
      fix: 'setPassword',
      usersWithoutPassword: missing,
      reason:
        missing.length === 1
          ? localized('User "{0}" in socks5.auth.users has no password yet. Set one to start the proxy.', missing[0])
          : localized('None of the users in socks5.auth.users has a password yet ({0}). Set one to start the proxy.', quotedList(missing)),
    };
  }
  // Never a silent direct route: an upstream that cannot be used stops the start.
  const upstream = planUpstream(settings.upstream, upstreamInputs);
  if (!upstream.ok) return { ok: false, fix: upstream.fix, usersWithoutPassword: missing, reason: upstream.reason, setting: upstream.setting };
  const warnings: Localized[] = [];
  const verdict = listenVerdict(settings.host, users.size, settings.allowUnauthenticatedRemote);
  if (verdict !== 'ok') {
    if (verdict === 'refused') {
      return {
        ok: false,
        fix: 'openSettings',
        usersWithoutPassword: missing,
        reason: localized(
          'Refusing to listen without authentication: socks5.host is "{0}", which other machines can reach, and socks5.auth.users is empty, so anyone could use this proxy. Add a user with "SOCKS5: Set Password…", use 127.0.0.1, or set socks5.allowUnauthenticatedRemote.',
          settings.host,
        ),
      };
    }
    warnings.push(
      localized(
        'The proxy listens on {0} without authentication (socks5.allowUnauthenticatedRemote is on): anyone who can reach this machine can use it.',
        settings.host,
      ),
    );
  }
  if (missing.length > 0) {
    warnings.push(
      missing.length === 1
        ? localized('User {0} has no password yet and cannot log in.', quotedList(missing))
        : localized('Users {0} have no password yet and cannot log in.', quotedList(missing)),
    );
  }
  return {
    ok: true,
    usersWithoutPassword: missing,
    warnings,
    options: {
      host: settings.host,
      port: settings.port,
      users,
      timeouts: timeoutsToMs(settings.timeoutsSeconds),
      maxConnections: settings.maxConnections,
      commands: { ...settings.commands },
      protocols: { ...settings.protocols },
      rules: settings.rules,
      ...(upstream.options ? { upstream: upstream.options } : {}),
    },
  };
}

export type ApplyPlan =
  | { kind: 'none' }
  /** Apply on the running listener; affects new sessions only. */
  | { kind: 'live'; live: LiveOptions; changed: string[] }
  /** host or port changed: move the listener. */
  | { kind: 'restart'; changed: string[] };

/**
 * What to do with a running server whose options are `running` when the (already start-planned)
 * options become `next`.
 */
export function planApply(running: EngineOptions, next: EngineOptions): ApplyPlan {
  const changed: string[] = [];
  if (normalizeHost(running.host) !== normalizeHost(next.host)) changed.push('socks5.host');
  if (running.port !== next.port) changed.push('socks5.port');
  if (changed.length > 0) return { kind: 'restart', changed };

  const live: LiveOptions = {};
  if (!sameUsers(running.users, next.users)) {
    live.users = next.users;
    changed.push('socks5.auth.users');
  }
  const t = next.timeouts;
  const rt = running.timeouts;
  if (t.handshakeMs !== rt.handshakeMs || t.connectMs !== rt.connectMs || t.idleMs !== rt.idleMs || t.bindMs !== rt.bindMs) {
    live.timeouts = { ...t };
    changed.push('socks5.timeouts');
  }
  const c = next.commands;
  const rc = running.commands;
  if (c.connect !== rc.connect || c.bind !== rc.bind || c.udpAssociate !== rc.udpAssociate) {
    live.commands = { ...c };
    changed.push('socks5.commands');
  }
  const p = next.protocols;
  const rp = running.protocols;
  if (p.socks5 !== rp.socks5 || p.socks4 !== rp.socks4 || p.http !== rp.http) {
    live.protocols = { ...p };
    changed.push('socks5.protocols');
  }
  if (next.maxConnections !== running.maxConnections) {
    live.maxConnections = next.maxConnections;
    changed.push('socks5.maxConnections');
  }
  if (JSON.stringify(running.upstream ?? null) !== JSON.stringify(next.upstream ?? null)) {
    live.upstream = next.upstream ?? null;
    changed.push('socks5.upstream');
  }
  if (!sameRules(running.rules, next.rules)) {
    live.rules = next.rules ?? DEFAULT_RULES;
    changed.push('socks5.rules');
  }
  return changed.length === 0 ? { kind: 'none' } : { kind: 'live', live, changed };
}

function sameRules(a: Partial<RulesOptions> | undefined, b: Partial<RulesOptions> | undefined): boolean {
  const x = { ...DEFAULT_RULES, ...a };
  const y = { ...DEFAULT_RULES, ...b };
  const same = (p: readonly string[], q: readonly string[]) => p.length === q.length && p.every((v, i) => v === q[i]);
  return x.blockPrivate === y.blockPrivate && same(x.clients, y.clients) && same(x.destinations, y.destinations);
}

/** `"a", "b"`. */
function quotedList(names: readonly string[]): string {
  return names.map((m) => `"${m}"`).join(', ');
}

function sameUsers(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// helpers

type Fail = (key: SettingKey, what: string | Localized) => void;

/** What a wrong value is, for "(got …)" (a Localized: never put it in a template string). */
function describe(v: unknown): Localized {
  if (Array.isArray(v)) return localized('a list');
  if (typeof v === 'string') return untranslated(JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v));
  if (typeof v === 'object') return localized('an object');
  return untranslated(typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : typeof v);
}

/** A list of strings whose entries `problems` checks (each problem names its entry: `rule 3: …`). */
function ruleListSetting(v: unknown, key: SettingKey, fallback: readonly string[], problems: (list: string[]) => string[], fail: Fail): string[] {
  if (isUnset(v)) return [];
  if (!Array.isArray(v)) {
    fail(key, localized('must be a list of strings (got {0})', describe(v)));
    return [...fallback];
  }
  const bad = v.findIndex((e) => typeof e !== 'string');
  if (bad !== -1) {
    fail(key, localized('entry {0} must be a string (got {1})', bad + 1, describe(v[bad])));
    return [...fallback];
  }
  const list = v as string[];
  const found = problems(list);
  for (const p of found) fail(key, p);
  return found.length > 0 ? [...fallback] : list;
}

function upstreamUrlSetting(v: unknown, fallback: string, fail: Fail): string {
  if (isUnset(v)) return '';
  if (typeof v !== 'string') {
    fail('upstream.url', localized('must be a URL such as "socks5h://proxy.example:1080", or "vscode" (got {0})', describe(v)));
    return fallback;
  }
  const url = v.trim();
  if (url === '' || url === VSCODE_UPSTREAM) return url;
  const problems = upstreamUrlProblems(url);
  for (const p of problems) fail('upstream.url', localized('is invalid: {0}', untranslated(p)));
  return problems.length > 0 ? fallback : url;
}

function booleanSetting(v: unknown, key: SettingKey, dflt: boolean, fallback: boolean, fail: Fail): boolean {
  if (isUnset(v)) return dflt;
  if (typeof v === 'boolean') return v;
  fail(key, localized('must be true or false (got {0})', describe(v)));
  return fallback;
}

function integerSetting(
  v: unknown,
  key: SettingKey,
  dflt: number,
  fallback: number,
  min: number,
  max: number,
  note: Localized | undefined,
  fail: Fail,
): number {
  if (isUnset(v)) return dflt;
  if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
  fail(key, localized('must be an integer {0}–{1}{2} (got {3})', min, max, note ?? '', describe(v)));
  return fallback;
}

function numberSetting(
  v: unknown,
  key: SettingKey,
  dflt: number,
  fallback: number,
  min: number,
  max: number,
  fail: Fail,
  note?: Localized,
): number {
  if (isUnset(v)) return dflt;
  if (typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max) return v;
  fail(key, localized('must be a number of seconds {0}–{1}{2} (got {3})', min, max, note ?? '', describe(v)));
  return fallback;
}

// ---------------------------------------------------------------------------------------------
// The last valid configuration (kept across reloads)

/** `settings` as the raw values of every key (what settings.json would hold): JSON-safe. */
export function toRawSettings(s: ProxySettings): Record<SettingKey, unknown> {
  return {
    host: s.host,
    port: s.port,
    autoStart: s.autoStart,
    'auth.users': [...s.users],
    'commands.connect': s.commands.connect,
    'commands.bind': s.commands.bind,
    'commands.udpAssociate': s.commands.udpAssociate,
    'protocols.socks5': s.protocols.socks5,
    'protocols.socks4': s.protocols.socks4,
    'protocols.http': s.protocols.http,
    'timeouts.handshake': s.timeoutsSeconds.handshake,
    'timeouts.connect': s.timeoutsSeconds.connect,
    'timeouts.idle': s.timeoutsSeconds.idle,
    'timeouts.bind': s.timeoutsSeconds.bind,
    maxConnections: s.maxConnections,
    allowUnauthenticatedRemote: s.allowUnauthenticatedRemote,
    'rules.clients': [...s.rules.clients],
    'rules.destinations': [...s.rules.destinations],
    'rules.blockPrivate': s.rules.blockPrivate,
    'remote.forwardOnStart': s.forwardOnStart,
    'terminal.proxyEnvironment': s.terminalEnvironment,
    'terminal.includeCredentials': s.terminalCredentials,
    'upstream.url': s.upstream.url,
    'upstream.bypass': [...s.upstream.bypass],
  };
}

/** A stored configuration (from toRawSettings) if it is still entirely valid, else undefined. */
export function restoreSettings(stored: unknown): ProxySettings | undefined {
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) return undefined;
  const raw: RawSettings = {};
  for (const key of SETTING_KEYS) raw[key] = (stored as Record<string, unknown>)[key];
  const v = validateSettings(raw);
  return v.ok ? v.settings : undefined;
}

/** The value `settings` uses for a full setting id (`socks5.port` → 1081), as JSON text. */
export function settingValueText(settings: ProxySettings, setting: string): string {
  const key = setting.startsWith(`${SECTION}.`) ? (setting.slice(SECTION.length + 1) as SettingKey) : (setting as SettingKey);
  const raw = toRawSettings(settings);
  return key in raw ? JSON.stringify(raw[key]) : '?';
}
