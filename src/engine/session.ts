// One client connection: the handshake state machine (greeting → auth → request), then the
// command's handler takes over. Bytes are parsed by ./wire; what a command does lives in its own
// file (./connect, ./bind, ./udp) behind the registry in ./commands.

import type { Socket } from 'node:net';
import type { Server as NetServer } from 'node:net';
import type { Socket as UdpSocket } from 'node:dgram';
import type { UserTable } from './auth';
import type { Slots } from './limits';
import { commandFor } from './commands';
import { replyText } from './replies';
import type {
  ClosedConnectionInfo,
  Command,
  CommandSwitches,
  ConnectionInfo,
  Destination,
  Endpoint,
  Logger,
  Outcome,
  SessionState,
  Timeouts,
} from './types';
import {
  AUTH_STATUS,
  encodeAuthStatus,
  encodeMethodSelection,
  encodeReply,
  formatHostPort,
  METHOD,
  parseAuthRequest,
  parseGreeting,
  parseRequest,
  REP,
  type Request,
} from './wire';

/** What a session needs from the server that owns it. */
export interface SessionHost {
  readonly logger: Logger;
  sessionUpdated(session: Session): void;
  sessionClosed(session: Session, info: ClosedConnectionInfo): void;
}

/** The options a session runs with: a snapshot taken when it starts (live changes apply to new sessions). */
export interface SessionConfig {
  users: UserTable;
  timeouts: Timeouts;
  commands: CommandSwitches;
  /** The server's slot counters, and this config's caps (see ./limits). */
  slots: Slots;
  maxPendingBinds: number;
  maxUdpAssociations: number;
  /** CONNECT name resolution (ServerOptions.resolve, or the OS resolver). */
  resolve: (host: string) => Promise<string[]>;
}

/** Counters for sessions that do not relay one TCP stream (UDP): plain numbers, bumped in place. */
export interface DatagramCounters {
  bytesUp: number;
  bytesDown: number;
  datagramsUp: number;
  datagramsDown: number;
  datagramsDropped: number;
}

type Phase = 'greeting' | 'auth' | 'request' | 'command' | 'closed';
type Owned = Socket | NetServer | UdpSocket;

const EMPTY = Buffer.alloc(0);

const SESSION = Symbol('session');
const OWNER = Symbol('owner');
type SessionSocket = Socket & { [SESSION]: Session };

// The client socket's listeners: shared by every session (`this` is the socket).
function onClientError(this: Socket, err: Error): void {
  (this as SessionSocket)[SESSION].close({ kind: 'error', message: `client: ${err.message}` });
}
function onClientClose(this: Socket): void {
  const s = (this as SessionSocket)[SESSION];
  s.close(s.endOutcome ?? { kind: 'closed-by-client', message: 'closed by client' });
}
function onClientEnd(this: Socket): void {
  // FIN before the command took over: nothing more can come, so nothing more can happen.
  (this as SessionSocket)[SESSION].clientEnded();
}
function onHandshakeData(this: Socket, chunk: Buffer): void {
  (this as SessionSocket)[SESSION].handshakeData(chunk);
}
function onOwnedClose(this: Owned & { [OWNER]: Session }): void {
  this[OWNER].ownedClosed();
}
function onHandshakeTimeout(s: Session): void {
  s.close({ kind: 'handshake-timeout', message: `handshake not completed in ${s.config.timeouts.handshakeMs} ms` });
}
function destroySocket(socket: Socket): void {
  socket.destroy();
}

/**
 * Closes an owned handle, whatever its kind; closing twice is harmless. `reset`: sockets are
 * closed with RST, so a reset on one side of a relay reaches the other as a reset, never as a
 * clean end a client could take for a complete download.
 */
function closeHandle(handle: Owned, reset = false): void {
  if ('setNoDelay' in handle) {
    // Only a socket that is connected and has not started its shutdown can be reset: libuv refuses
    // to reset one whose FIN is under way (EINVAL), and Node then never closes its handle.
    if (reset && !handle.destroyed && !handle.connecting && !handle.writableEnded) handle.resetAndDestroy();
    else handle.destroy();
  } else if ('getConnections' in handle) {
    if (handle.listening) handle.close();
  } else {
    try {
      handle.close();
    } catch {
      /* not running: already closed */
    }
  }
}

export class Session {
  readonly startedAt = Date.now();
  state: SessionState = 'handshake';
  user: string | undefined;
  command: Command | undefined;
  destination: Destination | undefined;
  remote: Endpoint | undefined;
  bound: Endpoint | undefined;
  /** The socket whose bytesRead counts destination → client (CONNECT target, BIND peer). */
  upstream: Socket | undefined;
  /** UDP sessions count here instead. */
  datagrams: DatagramCounters | undefined;
  /** Bytes the client sent after its request in the same segment(s): the command forwards them. */
  pending: Buffer = EMPTY;
  readonly clientEndpoint: Endpoint;
  /** Set by the relay when the first side sends FIN: who ended a session that ends normally. */
  endOutcome: Outcome | undefined;

  private phase: Phase = 'greeting';
  private buf: Buffer = EMPTY;
  /** Handshake bytes read from the client: not counted as traffic. */
  private protocolBytes = 0;
  private handshakeTimer: NodeJS.Timeout | undefined;
  /** Sockets, listeners and UDP sockets closed with the session (see own()). */
  private readonly owned: Owned[] = [];
  /** Run once when the session closes (timers of a command, …). */
  private cleanups: Array<() => void> | undefined;
  /** Owned handles whose 'close' has not been seen yet. */
  private openHandles = 0;
  private outcome: Outcome | undefined;
  private tagText: string | undefined;
  // `closed` is made on demand: most sessions end without anyone waiting for it.
  private closedPromise: Promise<void> | undefined;
  private resolveClosed: (() => void) | undefined;

  constructor(
    readonly id: number,
    readonly client: Socket,
    readonly config: SessionConfig,
    private readonly host: SessionHost,
  ) {
    this.clientEndpoint = { host: client.remoteAddress ?? '?', port: client.remotePort ?? 0 };
    this.own(client);
    // Listeners are shared functions that find their session through the socket: nothing is
    // allocated per session for them (connection setup cost and idle memory both count).
    (client as SessionSocket)[SESSION] = this;
    client.on('data', onHandshakeData);
    client.on('error', onClientError);
    client.on('close', onClientClose);
    client.on('end', onClientEnd);
    if (config.timeouts.handshakeMs > 0) this.handshakeTimer = setTimeout(onHandshakeTimeout, config.timeouts.handshakeMs, this);
  }

  /** Resolves once the session is closed and every handle it owned has emitted 'close'. */
  get closed(): Promise<void> {
    if (!this.closedPromise) {
      this.closedPromise =
        this.phase === 'closed' && this.openHandles === 0 ? Promise.resolve() : new Promise((r) => (this.resolveClosed = r));
    }
    return this.closedPromise;
  }

  /** An owned handle emitted 'close'. */
  ownedClosed(): void {
    this.openHandles--;
    if (this.openHandles === 0 && this.phase === 'closed') this.resolveClosed?.();
  }

  get logger(): Logger {
    return this.host.logger;
  }

  get isClosed(): boolean {
    return this.phase === 'closed';
  }

  /** `#7 127.0.0.1:51234` for log lines. */
  get tag(): string {
    return (this.tagText ??= `#${this.id} ${formatHostPort(this.clientEndpoint.host, this.clientEndpoint.port)}`);
  }

  /** The client sent FIN. */
  clientEnded(): void {
    if (this.phase !== 'command') this.close({ kind: 'protocol-error', message: 'client closed during handshake' });
  }

  // --- handshake -------------------------------------------------------------------------------

  handshakeData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    try {
      this.advance();
    } catch (err) {
      // Defensive: a bug here must cost one session, never the process.
      this.close({ kind: 'error', message: `internal error: ${(err as Error).message}` });
    }
  }


  /** Consumes as many complete handshake messages as `buf` holds. */
  private advance(): void {
    while (this.phase === 'greeting' || this.phase === 'auth' || this.phase === 'request') {
      if (this.phase === 'greeting') {
        const r = parseGreeting(this.buf);
        if (r.status === 'more') return;
        if (r.status === 'error') return this.protocolError(r.reason, r.reply === undefined ? undefined : encodeMethodSelection(r.reply));
        this.consume(r.length);
        const wantAuth = this.config.users.size > 0;
        const method = wantAuth ? METHOD.USERNAME_PASSWORD : METHOD.NO_AUTH;
        if (!r.value.methods.includes(method)) {
          this.client.write(encodeMethodSelection(METHOD.NO_ACCEPTABLE));
          const offered = r.value.methods.map((m) => `0x${m.toString(16).padStart(2, '0')}`).join(', ');
          return this.close({
            kind: 'no-acceptable-method',
            message: wantAuth ? `no acceptable method: client offered ${offered}, username/password required` : `no acceptable method: client offered ${offered}`,
          }, true);
        }
        this.client.write(encodeMethodSelection(method));
        this.phase = wantAuth ? 'auth' : 'request';
      } else if (this.phase === 'auth') {
        const r = parseAuthRequest(this.buf);
        if (r.status === 'more') return;
        if (r.status === 'error') return this.protocolError(r.reason, encodeAuthStatus(AUTH_STATUS.FAILURE));
        this.consume(r.length);
        const { username, password } = r.value;
        if (!this.config.users.verify(username, password)) {
          password.fill(0);
          this.client.write(encodeAuthStatus(AUTH_STATUS.FAILURE));
          this.logger.warn(`${this.tag} authentication failed for user "${username}"`);
          return this.close({ kind: 'auth-failed', message: `auth failed for "${username}"` }, true);
        }
        password.fill(0);
        this.user = username;
        this.client.write(encodeAuthStatus(AUTH_STATUS.SUCCESS));
        this.phase = 'request';
        this.host.sessionUpdated(this);
      } else {
        const r = parseRequest(this.buf);
        if (r.status === 'more') return;
        if (r.status === 'error') return this.protocolError(r.reason, r.reply === undefined ? undefined : encodeReply(r.reply));
        this.consume(r.length);
        this.onRequest(r.value);
      }
    }
  }

  private consume(n: number): void {
    this.protocolBytes += n;
    this.buf = n >= this.buf.length ? EMPTY : this.buf.subarray(n);
  }

  private onRequest(req: Request): void {
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.phase = 'command';
    this.client.removeListener('data', onHandshakeData);
    this.client.pause();
    this.pending = this.buf;
    this.buf = EMPTY;
    this.destination = { type: req.type, host: req.host, port: req.port };
    const entry = commandFor(req.cmd);
    if (entry) this.command = entry.name;
    if (!entry || !this.config.commands[entry.name]) {
      const what = entry ? `${entry.label} is disabled` : `unknown command 0x${req.cmd.toString(16).padStart(2, '0')}`;
      return this.fail(REP.COMMAND_NOT_SUPPORTED, what);
    }
    if (this.logger.debugEnabled) this.logger.debug(`${this.tag} ${entry.label} ${formatHostPort(req.host, req.port)}`);
    this.host.sessionUpdated(this);
    entry.handler(this, req);
  }

  private protocolError(reason: string, reply?: Buffer): void {
    if (reply) this.client.write(reply);
    this.close({ kind: 'protocol-error', message: reason }, true);
  }

  // --- for command handlers ----------------------------------------------------------------------

  /** Sends a success reply naming `bound` (the first reply for BIND/UDP/CONNECT). */
  replySuccess(bound: Endpoint): void {
    if (this.isClosed) return;
    this.client.write(encodeReply(REP.SUCCEEDED, bound.host, bound.port));
  }

  /** Sends a failure reply, then closes the connection (RFC 1928 §6: after a failure reply, close). */
  fail(rep: number, detail?: string): void {
    if (this.isClosed) return;
    const text = replyText(rep);
    this.client.write(encodeReply(rep));
    this.close({ kind: 'reply', reply: rep, message: detail ? `${text}: ${detail}` : text }, true);
  }

  /** Updates state and reported facts; emits one `update`. */
  update(patch: Partial<Pick<Session, 'state' | 'remote' | 'bound' | 'upstream' | 'datagrams'>>): void {
    if (this.isClosed) return;
    Object.assign(this, patch);
    this.host.sessionUpdated(this);
  }

  /**
   * Ties a socket, listener or UDP socket to this session: it is closed when the session closes,
   * and the session's `closed` promise waits for it.
   */
  own(handle: Owned): void {
    this.owned.push(handle);
    // Wait for its 'close' unless it is a socket already closed or a listener not listening
    // (which never emits 'close').
    const wait = 'setNoDelay' in handle ? !handle.closed : 'getConnections' in handle ? handle.listening : true;
    if (wait) {
      this.openHandles++;
      (handle as Owned & { [OWNER]?: Session })[OWNER] = this;
      handle.on('close', onOwnedClose);
    }
    if (this.isClosed) closeHandle(handle);
  }

  /** Called by anything that wants this session over. The first outcome wins. */
  /** Runs `fn` when the session closes (at once if it already has): for timers a command started. */
  onClose(fn: () => void): void {
    if (this.isClosed) return fn();
    (this.cleanups ??= []).push(fn);
  }

  close(outcome: Outcome, flush = false): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.state = 'closed';
    this.outcome = outcome;
    clearTimeout(this.handshakeTimer);
    this.client.removeListener('data', onHandshakeData);
    if (this.cleanups) for (const fn of this.cleanups.splice(0)) fn();
    if (flush) {
      // Let the reply we just wrote reach the client, then close; never wait for the client.
      this.client.end();
      const t = setTimeout(destroySocket, 2000, this.client);
      t.unref();
      this.client.once('close', () => clearTimeout(t));
    }
    const reset = outcome.kind === 'error';
    for (const h of this.owned) if (!flush || h !== this.client) closeHandle(h, reset);
    const info = this.snapshotClosed();
    if (this.openHandles === 0) this.resolveClosed?.();
    this.host.sessionClosed(this, info);
  }

  // --- snapshots -----------------------------------------------------------------------------------

  get bytesUp(): number {
    if (this.datagrams) return this.datagrams.bytesUp;
    return Math.max(0, this.client.bytesRead - this.protocolBytes);
  }

  get bytesDown(): number {
    if (this.datagrams) return this.datagrams.bytesDown;
    return this.upstream ? this.upstream.bytesRead : 0;
  }

  snapshot(): ConnectionInfo {
    const info: ConnectionInfo = {
      id: this.id,
      client: this.clientEndpoint,
      bytesUp: this.bytesUp,
      bytesDown: this.bytesDown,
      startedAt: this.startedAt,
      state: this.state,
    };
    if (this.user !== undefined) info.user = this.user;
    if (this.command !== undefined) info.command = this.command;
    if (this.destination !== undefined) info.destination = this.destination;
    if (this.remote !== undefined) info.remote = this.remote;
    if (this.bound !== undefined) info.bound = this.bound;
    if (this.datagrams) {
      info.datagramsUp = this.datagrams.datagramsUp;
      info.datagramsDown = this.datagrams.datagramsDown;
      info.datagramsDropped = this.datagrams.datagramsDropped;
    }
    return info;
  }

  private snapshotClosed(): ClosedConnectionInfo {
    return { ...this.snapshot(), state: 'closed', endedAt: Date.now(), outcome: this.outcome! };
  }
}
