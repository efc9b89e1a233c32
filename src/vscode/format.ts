// Host-free (no `vscode` import): everything the UI shows as text. Sizes, ages, rates, endpoints,
// proxy URLs, outcome text, tree item labels/descriptions/tooltips and the status bar text, so the
// exact strings are unit-tested and stable for the end-to-end suite. Every word a user reads goes
// through the translator in ./l10n (English by default; the display language in VS Code).
import type {
  ClosedConnectionInfo,
  Command,
  CommandSwitches,
  ConnectionInfo,
  Endpoint,
  Outcome,
  ProtocolSwitches,
  ServerStats,
} from '../engine';
import { COMMAND_NAMES, DIRECT_ROUTE, formatBytes, formatRate, PROTOCOL_NAMES } from '../engine';
import type { ProxyState } from './api';
import type { Whereabouts } from './recipes';
import { formatMessage, t, tPlural, type Translate } from './l10n';

// ---------------------------------------------------------------------------------------------
// Numbers


export { formatBytes, formatRate };

/** Ages and durations: 0s, 42s, 3m 12s, 1h 5m, 2d 3h. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor((Number.isFinite(ms) ? ms : 0) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  const d = Math.floor(h / 24);
  return `${d}d ${h % 24}h`;
}

/**
 * A coarse age for tree rows: `<1m`, `3m`, `1h 5m`, `2d 3h`. It changes at most once a minute, so
 * an idle row is not re-rendered every second (a re-render closes the row's tooltip); the exact
 * age is in the tooltip.
 */
export function formatAge(ms: number): string {
  const m = Math.floor(Math.max(0, Number.isFinite(ms) ? ms : 0) / 60_000);
  if (m < 1) return '<1m';
  if (m < 60) return `${m}m`;
  return formatDuration(m * 60_000);
}

/** Local wall-clock time HH:MM:SS. */
export function formatClock(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Fills `{0}`-style placeholders (the English text, untranslated). */
export function fill(message: string, ...args: Array<string | number>): string {
  return formatMessage(message, args);
}

/** English count and noun, for log lines (the UI uses tPlural from ./l10n). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

// ---------------------------------------------------------------------------------------------
// Text safety: hosts and messages come from clients and the network.

/** Replaces control characters so a hostile domain name cannot break a label or a log line. */
export function printable(text: string): string {
   
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '\uFFFD');
}

/** Escapes Markdown so the text renders literally (and links / command URIs cannot be injected). */
export function escapeMarkdown(text: string): string {
  return printable(text).replace(/[\\`*_{}[\]()#+\-.!|<>~&]/g, (c) => `\\${c}`);
}

// ---------------------------------------------------------------------------------------------
// Addresses and URLs

/** Shows an IPv4-mapped IPv6 address (::ffff:1.2.3.4) as the IPv4 address. */
export function displayHost(host: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return printable(m ? m[1] : host);
}

/** host:port, with IPv6 literals in brackets: [::1]:1080. */
export function formatEndpoint(e: Endpoint): string {
  const host = displayHost(e.host);
  return host.includes(':') ? `[${host}]:${e.port}` : `${host}:${e.port}`;
}

/** The address a local client should dial: a wildcard listener (0.0.0.0 / ::) becomes loopback. */
export function connectableHost(host: string): string {
  const h = host.trim();
  if (h === '' || h === '0.0.0.0') return '127.0.0.1';
  if (/^[:0]+$/.test(h) && h.includes('::')) return '::1';
  return h;
}

/** The URL forms Copy Proxy URL offers: SOCKS5 with names resolved by the proxy, and the HTTP proxy. */
export type ProxyScheme = 'socks5h' | 'http';

/**
 * `socks5h://[user@]host:port` (or `http://…`) for the proxy listening at `address`. The user name
 * is percent-encoded; a password is never part of the URL. IPv6 hosts are bracketed.
 */
export function buildProxyUrl(address: Endpoint, user?: string, scheme: ProxyScheme = 'socks5h'): string {
  const userPart = user ? `${encodeURIComponent(user)}@` : '';
  return `${scheme}://${userPart}${urlHost(address.host)}:${address.port}`;
}

/** A host as a client dials it in a URL or `host:port`: wildcards become loopback, IPv6 bracketed. */
export function urlHost(host: string): string {
  const h = connectableHost(host);
  return h.includes(':') ? `[${h}]` : h;
}

/** The URL forms to offer for the protocols served: SOCKS5 first, then HTTP. */
export function proxySchemes(protocols: ProtocolSwitches): ProxyScheme[] {
  const out: ProxyScheme[] = [];
  if (protocols.socks5) out.push('socks5h');
  if (protocols.http) out.push('http');
  return out;
}

/** `SOCKS5, SOCKS4/4a, HTTP` for the protocols switched on. */
export function enabledProtocolsText(p: ProtocolSwitches): string {
  const on = [p.socks5 && PROTOCOL_NAMES.socks5, p.socks4 && `${PROTOCOL_NAMES.socks4}/4a`, p.http && PROTOCOL_NAMES.http].filter((x): x is string => typeof x === 'string');
  return on.length > 0 ? on.join(', ') : t('none (every connection is closed)');
}

/** The protocol's display name, or undefined before the first bytes told it. */
export function protocolLabel(info: Pick<ConnectionInfo, 'protocol'>): string | undefined {
  return info.protocol === undefined ? undefined : PROTOCOL_NAMES[info.protocol];
}

/**
 * What a row names before its destination: `SOCKS5 CONNECT`, `SOCKS4a BIND`; `HTTP CONNECT` alone
 * (the protocol's name says the command) and `HTTP` alone for forwarding (the label has the method:
 * `GET example.com:80`).
 */
export function requestText(info: Pick<ConnectionInfo, 'protocol' | 'command'>): string {
  const proto = protocolLabel(info);
  if (info.protocol === 'http-connect' || info.protocol === 'http') return proto!;
  return proto === undefined ? commandLabel(info.command) : `${proto} ${commandLabel(info.command)}`;
}

// ---------------------------------------------------------------------------------------------
// Sessions

export function commandLabel(command: Command | undefined): string {
  return command === undefined ? t('handshake') : COMMAND_NAMES[command];
}

export function enabledCommandsText(c: CommandSwitches): string {
  const on = (['connect', 'bind', 'udpAssociate'] as const).filter((k) => c[k]).map(commandLabel);
  return on.length > 0 ? on.join(', ') : t('none (every request is refused)');
}

export function stateLabel(info: Pick<ConnectionInfo, 'state' | 'command'>): string {
  switch (info.state) {
    case 'handshake':
      return t('handshake');
    case 'connecting':
      return t('connecting');
    case 'bind-waiting':
      return t('waiting for BIND peer');
    case 'established':
      return info.command === 'udpAssociate' ? t('associated') : t('established');
    case 'closed':
      return t('closed');
  }
}

/** A reply code's short name, in the display language. */
function replyName(code: number): string | undefined {
  switch (code) {
    case 1:
      return t('general failure');
    case 2:
      return t('not allowed');
    case 3:
      return t('network unreachable');
    case 4:
      return t('host unreachable');
    case 5:
      return t('refused');
    case 6:
      return t('TTL expired');
    case 7:
      return t('command not supported');
    case 8:
      return t('address type not supported');
    default:
      return undefined;
  }
}

/**
 * The engine's outcome texts are English (they are log lines too): the ones every session can end
 * with are shown in the display language; details (an address, an OS error) stay as written.
 */
const ENGINE_REPLY_NAMES: Record<string, number> = {
  'general failure': 1,
  'not allowed': 2,
  'network unreachable': 3,
  'host unreachable': 4,
  refused: 5,
  'timed out': 6,
  'TTL expired': 6,
  'command not supported': 7,
  'address type not supported': 8,
};

function genericOutcome(kind: Outcome['kind']): string | undefined {
  switch (kind) {
    case 'closed':
      return t('closed');
    case 'closed-by-client':
      return t('closed by client');
    case 'closed-by-target':
      return t('closed by target');
    case 'closed-by-user':
      return t('closed by user');
    case 'auth-failed':
      return t('auth failed');
    case 'no-acceptable-method':
      return t('no acceptable auth method');
    case 'handshake-timeout':
      return t('handshake timeout');
    case 'idle-timeout':
      return t('idle timeout');
    case 'protocol-error':
      return t('protocol error');
    case 'error':
      return t('error');
    case 'reply':
      return undefined;
  }
}

/** The English generic texts the engine writes for each kind (see genericOutcome). */
const ENGINE_GENERIC: Partial<Record<Outcome['kind'], readonly string[]>> = {
  closed: ['closed'],
  'closed-by-client': ['closed by client'],
  'closed-by-target': ['closed by target'],
  'closed-by-user': ['closed by user'],
};

export function hex2(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}

/** Short outcome text such as `refused (0x05)`, `auth failed`, `closed by client`. */
export function outcomeText(outcome: Outcome): string {
  const message = outcome.message?.trim() ?? '';
  if (message !== '') {
    if (message === 'proxy stopped') return t('proxy stopped');
    if (ENGINE_GENERIC[outcome.kind]?.includes(message)) return genericOutcome(outcome.kind)!;
    // `refused (0x05): detail` → the name in the display language, the code and detail as written.
    const m = /^([a-zA-Z ]+) \((0x[0-9a-f]{2})\)(.*)$/s.exec(message);
    const code = m ? ENGINE_REPLY_NAMES[m[1]] : undefined;
    if (m && code !== undefined) return printable(`${replyName(code)} (${m[2]})${m[3]}`);
    return printable(message);
  }
  if (outcome.kind === 'reply') {
    const code = outcome.reply ?? 1;
    return `${replyName(code) ?? t('failed')} (${hex2(code)})`;
  }
  return genericOutcome(outcome.kind)!;
}

/** True when the session ended the normal way (no failure reply, no error). */
export function isCleanOutcome(outcome: Outcome): boolean {
  return (
    outcome.kind === 'closed' ||
    outcome.kind === 'closed-by-client' ||
    outcome.kind === 'closed-by-target' ||
    outcome.kind === 'closed-by-user' ||
    outcome.kind === 'idle-timeout'
  );
}

/** Tree label: the requested destination `host:port` (UDP: the relay; before the request: `handshake…`). */
export function connectionLabel(info: ConnectionInfo): string {
  if (info.command === 'udpAssociate') return info.bound ? t('UDP relay {0}', formatEndpoint(info.bound)) : t('UDP relay');
  // HTTP forwarding: the request's method and URL host (`GET example.com:80`).
  if (info.http && info.destination) return `${info.http.method} ${formatEndpoint(info.destination)}`;
  if (info.destination) return formatEndpoint(info.destination);
  return t('handshake…');
}

/** The destination text copied by "Copy Destination". */
export function destinationText(info: ConnectionInfo): string | undefined {
  return info.destination ? formatEndpoint(info.destination) : undefined;
}

export function trafficText(info: Pick<ConnectionInfo, 'bytesUp' | 'bytesDown'>): string {
  return `↑ ${formatBytes(info.bytesUp)} ↓ ${formatBytes(info.bytesDown)}`;
}

/** trafficText without the spaces after the arrows, for tree rows: `↑1.2 KiB ↓3.4 MiB`. */
export function compactTrafficText(info: Pick<ConnectionInfo, 'bytesUp' | 'bytesDown'>): string {
  return `↑${formatBytes(info.bytesUp)} ↓${formatBytes(info.bytesDown)}`;
}

/**
 * Tree description for an active session, most useful first so that a default-width side bar
 * (300 px) shows it after the destination (the label): `↑1.2 KiB ↓3.4 MiB · SOCKS5 · 127.0.0.1:53422 · 3m`
 * (the protocol once known); a session not relaying yet says so first: `connecting · ↑0 B ↓0 B · …`.
 */
export function connectionDescription(info: ConnectionInfo, now: number): string {
  const proto = protocolLabel(info);
  const parts = [compactTrafficText(info), ...(proto === undefined ? [] : [proto]), formatEndpoint(info.client), formatAge(now - info.startedAt)];
  if (info.state === 'connecting' || info.state === 'bind-waiting' || info.state === 'handshake') {
    parts.unshift(stateLabel(info));
  }
  return parts.join(' · ');
}

/** Tree description for a closed session: `refused (0x05) · SOCKS5 · 127.0.0.1:53422 · 14:03:22` (when it ended). */
export function closedDescription(info: ClosedConnectionInfo): string {
  const proto = protocolLabel(info);
  return [outcomeText(info.outcome), ...(proto === undefined ? [] : [proto]), formatEndpoint(info.client), formatClock(info.endedAt)].join(' · ');
}

/** Codicon id (and optional theme colour id) for a session. */
export function connectionIcon(info: ConnectionInfo | ClosedConnectionInfo): { id: string; color?: string } {
  if (info.state === 'closed') {
    const o = (info as ClosedConnectionInfo).outcome;
    if (o.kind === 'closed-by-user') return { id: 'close' };
    if (o.kind === 'idle-timeout') return { id: 'clock' };
    return isCleanOutcome(o) ? { id: 'pass', color: 'testing.iconPassed' } : { id: 'error', color: 'errorForeground' };
  }
  switch (info.state) {
    case 'handshake':
      return { id: 'key' };
    case 'connecting':
      return { id: 'sync~spin' };
    case 'bind-waiting':
      return { id: 'watch', color: 'charts.yellow' };
    case 'established':
      if (info.command === 'bind') return { id: 'plug', color: 'charts.green' };
      if (info.command === 'udpAssociate') return { id: 'broadcast', color: 'charts.green' };
      return { id: 'arrow-swap', color: 'charts.green' };
  }
}

export interface Rate {
  up: number;
  down: number;
}

/** Markdown tooltip for a session (all network-supplied text escaped; never trusted). */
export function connectionTooltip(info: ConnectionInfo | ClosedConnectionInfo, now: number, rate?: Rate): string {
  const lines: string[] = [];
  const title = info.destination ? formatEndpoint(info.destination) : connectionLabel(info);
  // HTTP forwarding: its request's method, not the CONNECT it runs as.
  const what = info.http ? info.http.method : commandLabel(info.command);
  lines.push(`**${escapeMarkdown(what)}** ${escapeMarkdown(title)} — ${escapeMarkdown(stateLabel(info))}`);
  if (info.state === 'closed') {
    lines.push(t('Outcome: {0}', escapeMarkdown(outcomeText((info as ClosedConnectionInfo).outcome))));
  }
  const proto = protocolLabel(info);
  if (proto !== undefined) lines.push(t('Protocol: {0}', escapeMarkdown(proto)));
  lines.push(t('Client: {0}', escapeMarkdown(formatEndpoint(info.client))));
  if (info.user !== undefined) lines.push(t('User: {0}', escapeMarkdown(info.user)));
  if (info.http) lines.push(t('HTTP request: {0} ({1} on this connection)', escapeMarkdown(info.http.method), info.http.requests));
  if (info.destination?.type === 'domain') lines.push(t('Requested: {0} (domain)', escapeMarkdown(formatEndpoint(info.destination))));
  if (info.remote) {
    const remote = escapeMarkdown(formatEndpoint(info.remote));
    lines.push(info.command === 'bind' ? t('Peer: {0}', remote) : t('Resolved: {0}', remote));
  }
  if (info.bound) lines.push(t('Bound: {0}', escapeMarkdown(formatEndpoint(info.bound))));
  if (info.route !== undefined) lines.push(routeText(info.route));
  if (info.state === 'closed') {
    const c = info as ClosedConnectionInfo;
    lines.push(t('Started: {0}, lasted {1}', formatClock(c.startedAt), formatDuration(c.endedAt - c.startedAt)));
  } else {
    lines.push(t('Started: {0} ({1} ago)', formatClock(info.startedAt), formatDuration(now - info.startedAt)));
  }
  const traffic = escapeMarkdown(trafficText(info));
  lines.push(
    rate && info.state !== 'closed'
      ? t('Traffic: {0} (now ↑ {1} ↓ {2})', traffic, escapeMarkdown(formatRate(rate.up)), escapeMarkdown(formatRate(rate.down)))
      : t('Traffic: {0}', traffic),
  );
  if (info.datagramsUp !== undefined || info.datagramsDown !== undefined) {
    const up = info.datagramsUp ?? 0;
    const down = info.datagramsDown ?? 0;
    lines.push(
      info.datagramsDropped
        ? t('Datagrams: ↑ {0} ↓ {1}, {2} dropped', up, down, info.datagramsDropped)
        : t('Datagrams: ↑ {0} ↓ {1}', up, down),
    );
  }
  return lines.join('\n\n');
}

/** `Route: direct` or `Route: via socks5h://alice@proxy:1080` (an upstream is configured; markdown-escaped). */
export function routeText(route: string): string {
  return route === DIRECT_ROUTE ? t('Route: direct (upstream bypassed)') : t('Route: via upstream {0}', escapeMarkdown(route));
}

/**
 * Per-session transfer rates from successive snapshots of the byte counters (the engine has no
 * per-chunk events: the view polls, and this turns two polls into a rate).
 */
export class RateTracker {
  private readonly last = new Map<number, { up: number; down: number; t: number; rate: Rate }>();

  /** Records a snapshot taken at `now`; forgets sessions that are gone. */
  sample(infos: readonly ConnectionInfo[], now: number): void {
    const seen = new Set<number>();
    for (const info of infos) {
      seen.add(info.id);
      const prev = this.last.get(info.id);
      let rate: Rate = { up: 0, down: 0 };
      if (prev) {
        const dt = now - prev.t;
        if (dt < 200) {
          // Too close to the previous sample to be meaningful: keep the previous figures.
          continue;
        }
        if (dt <= 10_000) {
          rate = {
            up: Math.max(0, ((info.bytesUp - prev.up) * 1000) / dt),
            down: Math.max(0, ((info.bytesDown - prev.down) * 1000) / dt),
          };
        }
      }
      this.last.set(info.id, { up: info.bytesUp, down: info.bytesDown, t: now, rate });
    }
    for (const id of this.last.keys()) if (!seen.has(id)) this.last.delete(id);
  }

  rate(id: number): Rate | undefined {
    return this.last.get(id)?.rate;
  }

  clear(): void {
    this.last.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// Status bar

export interface StatusModel {
  state: ProxyState;
  /** Bound address while running. */
  address?: Endpoint;
  /** Configured address (shown when stopped). */
  configured: Endpoint;
  /** Why the last start failed (state `error`). */
  error?: string;
  /** Users that can log in (have a password); 0 = authentication off. */
  authUsers: number;
  commands: CommandSwitches;
  /** Front doors served (absent: not known, not shown). */
  protocols?: ProtocolSwitches;
  stats?: ServerStats;
  /** Non-loopback listener. */
  exposed?: boolean;
  /** Where the shown address works (remote windows: forwarded or not), while running. */
  reach?: { whereabouts: Whereabouts; httpOnly: boolean };
  /** The rules in force (counts), and how many clients the allow-list closed, while running. */
  rules?: { destinations: number; clients: number; blockPrivate: boolean; clientsRefused: number };
}

/** `3 destination rules, private networks blocked, 1 allowed client range (2 clients refused)`; undefined without rules. */
export function rulesSummary(r: NonNullable<StatusModel['rules']>): string | undefined {
  const parts = [
    ...(r.destinations > 0 ? [tPlural(r.destinations, '{0} destination rule', '{0} destination rules')] : []),
    ...(r.blockPrivate ? [t('private networks blocked')] : []),
    ...(r.clients > 0 ? [tPlural(r.clients, '{0} allowed client range', '{0} allowed client ranges')] : []),
  ];
  if (parts.length === 0) return undefined;
  const refused = r.clientsRefused > 0 ? ` (${tPlural(r.clientsRefused, '{0} client refused', '{0} clients refused')})` : '';
  return `${parts.join(', ')}${refused}`;
}

/** Status bar text: `$(radio-tower) SOCKS5 :1080 · 3`, `$(circle-slash) SOCKS5`, … */
export function statusText(m: Pick<StatusModel, 'state' | 'address' | 'stats'>): string {
  switch (m.state) {
    case 'running':
      return `$(radio-tower) SOCKS5 :${m.address?.port ?? '?'} · ${m.stats?.active ?? 0}`;
    case 'starting':
      return '$(loading~spin) SOCKS5';
    case 'error':
      return '$(error) SOCKS5';
    case 'stopped':
      return '$(circle-slash) SOCKS5';
  }
}

/** Accessibility text for the status bar item. */
export function statusAccessibility(m: Pick<StatusModel, 'state' | 'address' | 'stats'>): string {
  switch (m.state) {
    case 'running':
      return t(
        'SOCKS5 proxy running on port {0}, {1}',
        m.address?.port ?? '?',
        tPlural(m.stats?.active ?? 0, '{0} active connection', '{0} active connections'),
      );
    case 'starting':
      return t('SOCKS5 proxy starting');
    case 'error':
      return t('SOCKS5 proxy failed to start');
    case 'stopped':
      return t('SOCKS5 proxy stopped');
  }
}

/** Commands the status tooltip links to (its MarkdownString trusts exactly these). */
export const STATUS_TOOLTIP_COMMANDS = [
  'socks5.start',
  'socks5.stop',
  'socks5.copyProxyUrl',
  'socks5.useWith',
  'socks5.useFromThisComputer',
  'socks5.showConnections',
  'socks5.showTraffic',
  'socks5.showLog',
  'socks5.openSettings',
] as const;

/** Markdown tooltip for the status bar item (command links limited to STATUS_TOOLTIP_COMMANDS). */
export function statusTooltip(m: StatusModel, t: Translate = fill): string {
  const link = (label: string, icon: string, command: (typeof STATUS_TOOLTIP_COMMANDS)[number]): string =>
    `[$(${icon}) ${label}](command:${command} "${label}")`;
  const auth = m.authUsers > 0 ? t('on ({0})', tPlural(m.authUsers, '{0} user', '{0} users')) : t('off');
  const lines: string[] = [];
  switch (m.state) {
    case 'running': {
      const addr = m.address ?? m.configured;
      lines.push(`**${t('SOCKS5 proxy: running')}**`);
      // Our own bound address (validated host): safe inside a code span, where escapes would show.
      const w = m.reach?.whereabouts;
      if (w?.where === 'forwarded') {
        lines.push(t('On this computer: `{0}` (forwarded to the remote `{1}`)', formatEndpoint(w.address), formatEndpoint(w.listener)));
      } else if (w?.where === 'remote') {
        lines.push(t('Address: `{0}` on the remote host only', formatEndpoint(addr)));
        if (m.reach?.httpOnly) lines.push(t('This browser window cannot forward SOCKS5 to your computer: "Use from This Computer" shows the tunnel command.'));
      } else {
        const where = `\`${formatEndpoint(addr)}\``;
        lines.push(m.exposed ? t('Address: {0} (reachable from the network)', where) : t('Address: {0} (this machine only)', where));
      }
      lines.push(t('Authentication: {0}', auth));
      if (m.protocols) lines.push(t('Protocols: {0}', enabledProtocolsText(m.protocols)));
      lines.push(t('Commands: {0}', enabledCommandsText(m.commands)));
      const rules = m.rules && rulesSummary(m.rules);
      if (rules) lines.push(t('Rules: {0}', rules));
      const s = m.stats ?? { active: 0, total: 0, bytesUp: 0, bytesDown: 0 };
      lines.push(t('Connections: {0} active / {1} total', s.active, s.total));
      lines.push(t('Traffic: {0}', `↑ ${formatBytes(s.bytesUp)} ↓ ${formatBytes(s.bytesDown)}`));
      lines.push(
        [
          link(t('Copy URL'), 'copy', 'socks5.copyProxyUrl'),
          link(t('Use With…'), 'tools', 'socks5.useWith'),
          ...(w?.where === 'remote' ? [link(t('Use from This Computer'), 'remote', 'socks5.useFromThisComputer')] : []),
          link(t('Show Connections'), 'list-flat', 'socks5.showConnections'),
          link(t('Show Traffic'), 'graph', 'socks5.showTraffic'),
          link(t('Stop'), 'debug-stop', 'socks5.stop'),
        ].join(' · '),
      );
      break;
    }
    case 'starting':
      lines.push(`**${t('SOCKS5 proxy: starting…')}**`);
      lines.push(t('Address: {0}', escapeMarkdown(formatEndpoint(m.configured))));
      break;
    case 'error':
      lines.push(`**${t('SOCKS5 proxy: failed to start')}**`);
      lines.push(escapeMarkdown(m.error ?? t('Unknown error.')));
      lines.push(
        [
          link(t('Retry'), 'debug-restart', 'socks5.start'),
          link(t('Show Log'), 'output', 'socks5.showLog'),
          link(t('Open Settings'), 'gear', 'socks5.openSettings'),
        ].join(' · '),
      );
      break;
    case 'stopped':
      lines.push(`**${t('SOCKS5 proxy: stopped')}**`);
      lines.push(t('Click to start on {0}.', escapeMarkdown(formatEndpoint(m.configured))));
      lines.push([link(t('Start'), 'play', 'socks5.start'), link(t('Open Settings'), 'gear', 'socks5.openSettings')].join(' · '));
      break;
  }
  return lines.join('\n\n');
}
