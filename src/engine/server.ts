// The proxy server: a listener, the sessions it accepted, their snapshots and events. What its
// sessions speak (./protocol), run (./commands), resolve and dial (./net) is passed to them here.

import { EventEmitter } from 'node:events';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { formatHostPort } from './address';
import { UserTable } from './auth';
import { COMMANDS } from './commands';
import { defaultHandshakeCap, defaultSlotCap, LISTEN_BACKLOG, PRESSURE_HANDSHAKE_MS, Slots } from './limits';
import { directDialer } from './net/dialer';
import { resolverFor } from './net/resolver';
import { DEFAULT_OPTIONS } from './policy';
import { DOORS } from './protocol';
import { doorTable } from './protocol/door';
import { compileRules, type CompiledRules } from './rules/config';
import { rulesDialer } from './rules/gate';
import { Session, type SessionConfig, type SessionHost } from './session';
import { compileUpstream, describeRoute, type CompiledUpstream } from './upstream/config';
import { upstreamDialer } from './upstream/route';
import type { LiveSession } from './traffic';
import {
  PROTOCOL_NAMES,
  type ClosedConnectionInfo,
  type ConnectionInfo,
  type Dialer,
  type Endpoint,
  type LiveOptions,
  type Logger,
  type Outcome,
  type Resolver,
  type ServerEvents,
  type ServerOptions,
  type ServerStats,
} from './types';

const RECENT_LIMIT = 50;
/** At most one "refused client" (or "cut under load") log line of each kind per this many ms. */
const REFUSAL_LOG_INTERVAL_MS = 5000;

/** Clients closed at accept for one reason: counted; a flood logs one line, then one summary per interval. */
class Refusals {
  count = 0;
  private loggedAt = -Infinity;
  private countAtLastLog = 0;

  /** Counts `n` (one line's worth); `verb` names them in the summary ("refused", "cut"). */
  add(log: (line: string) => void, line: () => string, n = 1, verb = 'refused'): void {
    this.count += n;
    const now = Date.now();
    if (now - this.loggedAt < REFUSAL_LOG_INTERVAL_MS) return;
    const more = this.count - this.countAtLastLog - n;
    log(line() + (more > 0 ? `; ${more} more ${verb} since the last message` : ''));
    this.loggedAt = now;
    this.countAtLastLog = this.count;
  }
}

/** How a connection cut to make room under load ends (see makeRoom). */
const SHED: Outcome = Object.freeze({
  kind: 'handshake-timeout',
  shed: true,
  message: 'cut before finishing its handshake: too many connections in their handshake (maxHandshakes)',
});

/** Compiled rules, or an Error naming every invalid entry (`rule 3: …`). */
function compiled(options: ServerOptions['rules'], listenerAddresses: () => readonly string[]): CompiledRules {
  const r = compileRules(options, listenerAddresses);
  if (!r.ok) throw new Error(`invalid rules: ${r.errors.join('; ')}`);
  return r.rules;
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** C0/C1 controls, DEL and the Unicode line/paragraph separators: what could end or rewrite a log line. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const escapeControl = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
const oneLine = (m: string): string => m.replace(CONTROL, escapeControl);

/**
 * Log lines carry text a client chose (user names, domain names): with control characters escaped,
 * no client can forge, split or recolour a line of the log.
 */
function safeLogger(l: Logger | undefined): Logger {
  if (!l) return silent;
  return {
    get debugEnabled() {
      return l.debugEnabled !== false;
    },
    debug: (m) => l.debug(oneLine(m)),
    info: (m) => l.info(oneLine(m)),
    warn: (m) => l.warn(oneLine(m)),
    error: (m) => l.error(oneLine(m)),
  };
}

/** start() failed: the listener could not bind. `code` is the errno code (EADDRINUSE, EACCES, …). */
export class StartError extends Error {
  constructor(
    readonly code: string,
    readonly host: string,
    readonly port: number,
    message: string,
  ) {
    super(message);
    this.name = 'StartError';
  }
}

function startErrorMessage(code: string, host: string, port: number, raw: string): string {
  const where = formatHostPort(host, port);
  switch (code) {
    case 'EADDRINUSE':
      return `Port ${port} is already in use on ${host}`;
    case 'EACCES':
      return `Permission denied binding ${where} (ports below 1024 need privileges)`;
    case 'EADDRNOTAVAIL':
      return `Address ${host} is not available on this machine`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `Cannot resolve host "${host}"`;
    default:
      return `Cannot listen on ${where}: ${raw}`;
  }
}

export function resolveOptions(options: Partial<ServerOptions> = {}): ServerOptions {
  return {
    host: options.host ?? DEFAULT_OPTIONS.host,
    port: options.port ?? DEFAULT_OPTIONS.port,
    users: options.users ?? new Map(),
    timeouts: { ...DEFAULT_OPTIONS.timeouts, ...options.timeouts },
    maxConnections: options.maxConnections ?? DEFAULT_OPTIONS.maxConnections,
    ...(options.maxPendingBinds !== undefined ? { maxPendingBinds: options.maxPendingBinds } : {}),
    ...(options.maxUdpAssociations !== undefined ? { maxUdpAssociations: options.maxUdpAssociations } : {}),
    ...(options.maxHandshakes !== undefined ? { maxHandshakes: options.maxHandshakes } : {}),
    commands: { ...DEFAULT_OPTIONS.commands, ...options.commands },
    protocols: { ...DEFAULT_OPTIONS.protocols, ...options.protocols },
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.resolve ? { resolve: options.resolve } : {}),
    ...(options.resolver ? { resolver: options.resolver } : {}),
    ...(options.dialer ? { dialer: options.dialer } : {}),
    ...(options.rules ? { rules: options.rules } : {}),
    ...(options.upstream ? { upstream: options.upstream } : {}),
  };
}

/** An invalid ServerOptions.upstream: `problems` says what is wrong, each in a sentence. */
export class UpstreamConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`upstream: ${problems.join('; ')}`);
    this.name = 'UpstreamConfigError';
  }
}

function compiledUpstream(options: ServerOptions['upstream']): CompiledUpstream | undefined {
  if (!options) return undefined;
  const r = compileUpstream(options);
  if (!r.ok) throw new UpstreamConfigError(r.errors);
  return r.value;
}

export class Socks5Server extends EventEmitter<ServerEvents> implements SessionHost {
  private opts: ServerOptions;
  private log: Logger;
  private sessionConfig: SessionConfig;
  /** Fixed for the server's life (a UDP DNS cache hangs off it). */
  private readonly resolver: Resolver;
  /** ServerOptions.upstream, compiled. */
  private upstream: CompiledUpstream | undefined;
  private listener: NetServer | undefined;
  private bound: Endpoint | undefined;
  private readonly sessions = new Map<number, Session>();
  private readonly recent: ClosedConnectionInfo[] = [];
  private nextId = 1;
  private total = 0;
  private closedBytesUp = 0;
  private closedBytesDown = 0;
  /** Clients closed at accept: over maxConnections, and not on the client allow-list. */
  private readonly overLimit = new Refusals();
  private readonly notListed = new Refusals();
  /** Handshakes cut to make room for newcomers (makeRoom). */
  private readonly shed = new Refusals();
  /**
   * Sessions still in their handshake, the longest silent first: a Map keeps insertion order, and
   * a session that sends handshake bytes moves to the end.
   */
  private readonly handshaking = new Map<number, Session>();
  /** When each handshaking session last sent bytes (or connected), by id. */
  private readonly activeAt = new Map<number, number>();
  private rules: CompiledRules;
  /** Pending BINDs and UDP associations in use: counted across live option changes. */
  private readonly slots = new Slots();

  constructor(options: Partial<ServerOptions> = {}) {
    super();
    this.opts = resolveOptions(options);
    this.log = safeLogger(this.opts.logger);
    this.resolver = resolverFor(this.opts);
    this.rules = compiled(this.opts.rules, () => this.listenerAddresses());
    this.upstream = compiledUpstream(this.opts.upstream);
    this.sessionConfig = this.makeSessionConfig();
  }

  /** For block-private: the address the listener is bound to (and the one asked for). */
  private listenerAddresses(): string[] {
    return [this.opts.host, ...(this.bound ? [this.bound.host] : [])];
  }

  get logger(): Logger {
    return this.log;
  }

  get options(): Readonly<ServerOptions> {
    return this.opts;
  }

  get running(): boolean {
    return this.bound !== undefined;
  }

  get address(): Endpoint | undefined {
    return this.bound;
  }

  /** Binds the listener. Resolves with the bound address (the real port when port is 0). */
  start(): Promise<Endpoint> {
    if (this.bound) return Promise.resolve(this.bound);
    const { host, port } = this.opts;
    return new Promise<Endpoint>((resolve, reject) => {
      const listener = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
      const onError = (err: NodeJS.ErrnoException) => {
        const code = err.code ?? 'EUNKNOWN';
        listener.close();
        reject(new StartError(code, host, port, startErrorMessage(code, host, port, err.message)));
      };
      listener.once('error', onError);
      listener.listen({ host, port, exclusive: true, backlog: LISTEN_BACKLOG }, () => {
        listener.removeListener('error', onError);
        listener.on('error', (err) => this.logger.error(`listener error: ${err.message}`));
        const a = listener.address();
        const addr: Endpoint = a && typeof a === 'object' ? { host: a.address, port: a.port } : { host, port };
        this.listener = listener;
        this.bound = addr;
        this.logger.info(`SOCKS5 proxy listening on ${formatHostPort(addr.host, addr.port)}`);
        if (this.upstream) this.logger.info(describeRoute(this.upstream));
        this.emit('listening', addr);
        resolve(addr);
      });
    });
  }

  /** Closes the listener and every session; resolves when all sockets are closed. */
  async stop(): Promise<void> {
    const listener = this.listener;
    const was = this.bound;
    this.listener = undefined;
    this.bound = undefined;
    const listenerClosed = listener
      ? new Promise<void>((r) => listener.close(() => r()))
      : Promise.resolve();
    const sessionsClosed = [...this.sessions.values()].map((s) => {
      s.close({ kind: 'closed-by-user', message: 'proxy stopped' });
      return s.closed;
    });
    await Promise.all([listenerClosed, ...sessionsClosed]);
    if (was) {
      this.logger.info(`SOCKS5 proxy on ${formatHostPort(was.host, was.port)} stopped`);
      this.emit('stopped');
    }
  }

  /**
   * Live changes (users, timeouts, commands, rules, maxConnections, logger): they apply to new
   * sessions. Invalid rules throw (naming the rule) before anything changes.
   */
  setOptions(live: LiveOptions): void {
    // Checked first: invalid rules or an invalid upstream throw and leave everything as it was.
    const rules = live.rules ? compiled(live.rules, () => this.listenerAddresses()) : this.rules;
    const upstream = live.upstream === undefined ? this.upstream : compiledUpstream(live.upstream ?? undefined);
    const upstreamChanged = live.upstream !== undefined && describeRoute(upstream) !== describeRoute(this.upstream);
    this.opts = {
      ...this.opts,
      ...(live.users ? { users: live.users } : {}),
      ...(live.maxConnections !== undefined ? { maxConnections: live.maxConnections } : {}),
      ...(live.maxPendingBinds !== undefined ? { maxPendingBinds: live.maxPendingBinds } : {}),
      ...(live.maxUdpAssociations !== undefined ? { maxUdpAssociations: live.maxUdpAssociations } : {}),
      ...(live.maxHandshakes !== undefined ? { maxHandshakes: live.maxHandshakes } : {}),
      ...(live.logger ? { logger: live.logger } : {}),
      timeouts: { ...this.opts.timeouts, ...live.timeouts },
      commands: { ...this.opts.commands, ...live.commands },
      protocols: { ...this.opts.protocols, ...live.protocols },
      ...(live.rules ? { rules: live.rules } : {}),
    };
    if (live.upstream !== undefined) {
      const { upstream: _old, ...rest } = this.opts;
      this.opts = live.upstream ? { ...rest, upstream: live.upstream } : rest;
      this.upstream = upstream;
    }
    this.rules = rules;
    if (live.logger) this.log = safeLogger(live.logger);
    if (upstreamChanged && this.bound) this.logger.info(`${describeRoute(upstream)} (for new connections)`);
    this.sessionConfig = this.makeSessionConfig();
  }

  connections(): ConnectionInfo[] {
    const out: ConnectionInfo[] = [];
    for (const s of this.sessions.values()) out.push(s.snapshot());
    return out;
  }

  /**
   * The live sessions as they are (no snapshot each): their counters and what they named. For a
   * sampler reading 10,000 connections once a second (./traffic); read, never keep.
   */
  liveSessions(): IterableIterator<LiveSession> {
    return this.sessions.values();
  }

  /** Clients turned away before they became a session (maxConnections, the client allow-list): stats() without the byte sums. */
  get refusedCount(): number {
    return this.overLimit.count + this.notListed.count;
  }

  connection(id: number): ConnectionInfo | undefined {
    return this.sessions.get(id)?.snapshot();
  }

  /** The last closed sessions, newest first. */
  recentlyClosed(): ClosedConnectionInfo[] {
    return this.recent.slice();
  }

  closeConnection(id: number): boolean {
    const s = this.sessions.get(id);
    if (!s) return false;
    s.close({ kind: 'closed-by-user', message: 'closed by user' });
    return true;
  }

  closeAll(): number {
    const all = [...this.sessions.values()];
    for (const s of all) s.close({ kind: 'closed-by-user', message: 'closed by user' });
    return all.length;
  }

  /**
   * `refused`: clients closed at accept because every slot holds an established session;
   * `clientsRefused`: not on the client allow-list; `shed`: handshakes cut to make room.
   */
  stats(): ServerStats & { refused: number; clientsRefused: number; shed: number } {
    let up = this.closedBytesUp;
    let down = this.closedBytesDown;
    for (const s of this.sessions.values()) {
      up += s.bytesUp;
      down += s.bytesDown;
    }
    return { active: this.sessions.size, total: this.total, bytesUp: up, bytesDown: down, refused: this.overLimit.count, clientsRefused: this.notListed.count, shed: this.shed.count };
  }

  // --- SessionHost -------------------------------------------------------------------------------

  handshakeActive(session: Session): void {
    if (!this.handshaking.delete(session.id)) return;
    const now = Date.now();
    // Under load a handshake gets PRESSURE_HANDSHAKE_MS in all, however it trickles.
    if (this.underPressure() && now - session.startedAt > PRESSURE_HANDSHAKE_MS) return this.cutNow([session]);
    this.handshaking.set(session.id, session);
    this.activeAt.set(session.id, now);
  }

  handshakeDone(session: Session): void {
    this.handshaking.delete(session.id);
    this.activeAt.delete(session.id);
  }

  sessionUpdated(session: Session): void {
    // Snapshots cost: make one only when someone listens (the headless CLI does not).
    if (this.listenerCount('update') > 0) this.emit('update', session.snapshot());
  }

  sessionClosed(session: Session, info: ClosedConnectionInfo): void {
    if (!this.sessions.delete(session.id)) return;
    this.handshaking.delete(session.id);
    this.activeAt.delete(session.id);
    this.closedBytesUp += info.bytesUp;
    this.closedBytesDown += info.bytesDown;
    this.recent.unshift(info);
    if (this.recent.length > RECENT_LIMIT) this.recent.pop();
    const ok = info.outcome.kind.startsWith('closed');
    if ((!ok && !info.outcome.shed) || this.log.debugEnabled) {
      const proto = info.protocol === undefined ? '' : ` ${PROTOCOL_NAMES[info.protocol]}`;
      const line = `${session.tag}${proto} closed: ${info.outcome.message} (↑${info.bytesUp} B ↓${info.bytesDown} B)`;
      if (ok) this.logger.debug(line);
      else this.logger.info(line);
    }
    this.emit('close', info);
  }

  // --- internals ---------------------------------------------------------------------------------

  private makeSessionConfig(): SessionConfig {
    return {
      users: new UserTable(this.opts.users),
      timeouts: this.opts.timeouts,
      commands: this.opts.commands,
      handlers: COMMANDS,
      doors: doorTable(DOORS, this.opts.protocols),
      listenHost: this.opts.host,
      slots: this.slots,
      maxPendingBinds: this.opts.maxPendingBinds ?? defaultSlotCap(this.opts.maxConnections),
      maxUdpAssociations: this.opts.maxUdpAssociations ?? defaultSlotCap(this.opts.maxConnections),
      resolver: this.resolver,
      // Every outbound stream (CONNECT, HTTP) passes the host-name check and the destination rules,
      // then goes direct or through the upstream.
      dialer: rulesDialer(this.upstream ? upstreamDialer(this.upstream, this.baseDialer) : this.baseDialer, this.rules.destinations),
      rules: this.rules,
      ...(this.upstream ? { upstream: { ...this.upstream, hop: this.baseDialer } } : {}),
    };
  }

  private get handshakeBudget(): number {
    return this.opts.maxHandshakes ?? defaultHandshakeCap(this.opts.maxConnections);
  }

  /**
   * The handshake budget is full: a handshake that is still trickling after PRESSURE_HANDSHAKE_MS
   * is cut at its next bytes (one that has gone silent is the first a newcomer cuts anyway).
   */
  private underPressure(): boolean {
    return this.handshaking.size >= this.handshakeBudget;
  }

  /**
   * Room for one more client. Established sessions are never cut for it; connections still in
   * their handshake are, the longest silent first (a prompt client is never silent for long):
   * over the handshake budget, and when maxConnections is reached. One cut per newcomer, never
   * more: against a flood that reconnects as it is cut, every extra cut comes back through the
   * kernel's listen queue, where real clients wait behind it. False when every slot holds an
   * established session: refuse.
   */
  private makeRoom(): boolean {
    const budget = this.handshakeBudget;
    const cut: Session[] = [];
    const it = this.handshaking.values();
    let handshaking = this.handshaking.size;
    let sessions = this.sessions.size;
    for (let s: Session | undefined = it.next().value; s !== undefined && (handshaking >= budget || sessions >= this.opts.maxConnections); s = it.next().value) {
      cut.push(s);
      handshaking--;
      sessions--;
    }
    if (cut.length > 0) this.cutNow(cut);
    return this.sessions.size < this.opts.maxConnections;
  }

  /** Closes handshaking sessions to make room; logged in summary. */
  private cutNow(sessions: Session[]): void {
    for (const s of sessions) s.close(SHED);
    const n = sessions.length;
    this.shed.add(
      (l) => this.logger.warn(l),
      () =>
        `under load: cut ${n} ${n === 1 ? 'connection' : 'connections'} that had not finished their handshake` +
        ` (${this.handshakeBudget} at most, maxHandshakes; the longest silent first; established sessions are kept)`,
      n,
      'cut',
    );
  }

  /** The dialer that goes direct (ServerOptions.dialer, or the staggered connect). */
  private get baseDialer(): Dialer {
    return this.opts.dialer ?? directDialer;
  }

  private accept(socket: Socket): void {
    // Not on the client allow-list: closed here, before a byte is read (the session that would read is never made).
    if (!this.rules.clients.allows(socket.remoteAddress)) {
      this.notListed.add(
        (l) => this.logger.warn(l),
        () => `refused client ${formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0)}: it is not on the client allow-list (${this.rules.clients.texts.join(', ')})`,
      );
      return this.drop(socket);
    }
    if (!this.makeRoom()) {
      // A flood must not flood the log: one line, then at most one summary line per interval.
      this.overLimit.add(
        (l) => this.logger.warn(l),
        () =>
          `refused client ${formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0)}: ` +
          `${this.opts.maxConnections} connections already open (maxConnections)`,
      );
      return this.drop(socket);
    }
    const id = this.nextId++;
    this.total++;
    const session = new Session(id, socket, this.sessionConfig, this);
    this.sessions.set(id, session);
    this.handshaking.set(id, session);
    this.activeAt.set(id, session.startedAt);
    if (this.log.debugEnabled) this.logger.debug(`${session.tag} connected`);
    if (this.listenerCount('open') > 0) this.emit('open', session.snapshot());
  }

  private drop(socket: Socket): void {
    socket.on('error', () => {});
    socket.destroy();
  }
}
