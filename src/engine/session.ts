// One client connection's life: the handles it owns, its close, its counters and snapshot, its
// timers. What it speaks is its front door's business (./protocol: picked from the first byte);
// what a command does is its handler's (./commands, passed in through the config). The session
// is the handlers' CommandContext and the door's view of the connection.

import type { Socket } from 'node:net';
import { formatHostPort, hex } from './address';
import type { UserTable } from './auth';
import type { CommandConfig, CommandContext, CommandFacts, CommandHandler, CommandRegistry, DatagramCounters, Owned } from './commands/context';
import type { Door, DoorTable } from './protocol/door';
import {
  PROTOCOL_NAMES,
  type ClosedConnectionInfo,
  type Command,
  type CommandSwitches,
  type ConnectionInfo,
  type Destination,
  type Endpoint,
  type FailureKind,
  type HttpRequestInfo,
  type Logger,
  type Outcome,
  type Protocol,
  type SessionState,
} from './types';

/** What a session needs from the server that owns it. */
export interface SessionHost {
  readonly logger: Logger;
  /** Handshake bytes arrived (before the door reads them): the session is not idle. */
  handshakeActive(session: Session): void;
  /** The session's handshake is over (its command starts): it no longer counts as pre-handshake. */
  handshakeDone(session: Session): void;
  sessionUpdated(session: Session): void;
  sessionClosed(session: Session, info: ClosedConnectionInfo): void;
}

/** The options a session runs with: a snapshot taken when it starts (live changes apply to new sessions). */
export interface SessionConfig extends CommandConfig {
  users: UserTable;
  commands: CommandSwitches;
  /** The handlers, by command (the server's registry). */
  handlers: CommandRegistry;
  /** First byte → front door, for the protocols switched on. */
  doors: DoorTable;
  /** The address the server listens on (`0.0.0.0`, `127.0.0.1`…): the HTTP door's pages name a reachable one. */
  listenHost: string;
}

type Phase = 'handshake' | 'command' | 'closed';

const EMPTY = Buffer.alloc(0);

const SESSION = Symbol('session');
const OWNER = Symbol('owner');
type SessionSocket = Socket & { [SESSION]: Session };

// The client socket's listeners: shared by every session (`this` is the socket).
function onClientError(this: Socket, err: Error): void {
  (this as SessionSocket)[SESSION].close({ kind: 'error', message: `client: ${err.message}` });
}
function onClientClose(this: Socket): void {
  (this as SessionSocket)[SESSION].clientClosed();
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
  s.handshakeTimedOut();
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

const CLOSED_BY_CLIENT: Outcome = Object.freeze({ kind: 'closed-by-client', message: 'closed by client' });
const CLOSED_BY_TARGET: Outcome = Object.freeze({ kind: 'closed-by-target', message: 'closed by target' });

export class Session implements CommandContext {
  readonly startedAt = Date.now();
  state: SessionState = 'handshake';
  /** Set by the front door once the first bytes told. */
  protocol: Protocol | undefined;
  user: string | undefined;
  command: Command | undefined;
  /** Set by startCommand (handlers run only after it): undefined during the handshake. */
  destination: Destination = undefined as unknown as Destination;
  remote: Endpoint | undefined;
  bound: Endpoint | undefined;
  /** What counts destination → client (the CONNECT target's or BIND peer's socket). */
  upstream: Pick<Socket, 'bytesRead'> | undefined;
  /** HTTP forwarding: the request under way (see ConnectionInfo.http). */
  http: HttpRequestInfo | undefined;
  /** UDP sessions count here instead. */
  datagrams: DatagramCounters | undefined;
  /** Only with an upstream configured (see ConnectionInfo.route). */
  route: string | undefined;
  upstreamHandshakeBytes = 0;
  readonly clientEndpoint: Endpoint;
  /** The front door's own handshake state (0 at first). */
  step = 0;
  /** Handshake bytes received and not consumed yet (the door reads them). */
  input: Buffer = EMPTY;

  private door: Door | undefined;
  private phase: Phase = 'handshake';
  /** Bytes the client sent after its request in the same segment(s): the command forwards them. */
  private pending: Buffer = EMPTY;
  /** Set when the first side sends FIN: who ended a session that ends normally. */
  private endOutcome: Outcome | undefined;
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

  /** Still reading the front door's handshake. */
  get inHandshake(): boolean {
    return this.phase === 'handshake';
  }

  /** `#7 127.0.0.1:51234` for log lines. */
  get tag(): string {
    return (this.tagText ??= `#${this.id} ${formatHostPort(this.clientEndpoint.host, this.clientEndpoint.port)}`);
  }

  /** The client sent FIN. */
  clientEnded(): void {
    if (this.phase !== 'command') this.close({ kind: 'protocol-error', message: 'client closed during handshake' });
  }

  /** The handshake took too long: the door may answer (HTTP 408) before the close. */
  handshakeTimedOut(): void {
    if (!this.isClosed) this.door?.timedOut?.(this);
  }

  /** The client socket closed. */
  clientClosed(): void {
    this.close(this.endOutcome ?? CLOSED_BY_CLIENT);
  }

  // --- handshake (for front doors) ------------------------------------------------------------

  handshakeData(chunk: Buffer): void {
    this.host.handshakeActive(this);
    if (this.isClosed) return; // cut: too slow under load
    this.input = this.input.length === 0 ? chunk : Buffer.concat([this.input, chunk]);
    try {
      let door = this.door;
      if (door === undefined) {
        door = this.config.doors[this.input[0]];
        if (door === undefined) return this.protocolError(`no protocol served here starts with byte 0x${hex(this.input[0])}`);
        this.door = door;
      }
      door.advance(this);
    } catch (err) {
      // Defensive: a bug here must cost one session, never the process.
      this.close({ kind: 'error', message: `internal error: ${(err as Error).message}` });
    }
  }

  /** The door parsed `n` bytes of handshake: they are not traffic. */
  consume(n: number): void {
    this.protocolBytes += n;
    this.input = n >= this.input.length ? EMPTY : this.input.subarray(n);
  }

  /** Writes handshake bytes or a reply to the client. */
  write(bytes: Buffer | string): void {
    this.client.write(bytes);
  }

  /** The door verified `user`'s credentials. */
  authenticated(user: string): void {
    this.user = user;
    this.host.sessionUpdated(this);
  }

  /**
   * The door's request is complete: the command's handler takes the connection over. `command`
   * undefined (a command the door does not know): fails with 'unsupported-command' and `unknown`.
   * `handler`: runs instead of the command's own (HTTP forwarding: outbound like CONNECT, and
   * switched off with it, but not a tunnel).
   */
  startCommand(command: Command | undefined, destination: Destination, unknown?: string, handler?: CommandHandler): void {
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.phase = 'command';
    this.host.handshakeDone(this);
    this.client.removeListener('data', onHandshakeData);
    this.client.pause();
    this.pending = this.input;
    this.input = EMPTY;
    this.destination = destination;
    if (command === undefined) return this.fail('unsupported-command', unknown);
    this.command = command;
    const entry = this.config.handlers[command];
    if (!this.config.commands[entry.switch]) return this.fail('unsupported-command', `${entry.label} is disabled`);
    // (A handler of the door's own logs its requests itself: HTTP forwarding, `HTTP GET host/path`.)
    if (this.logger.debugEnabled && !handler) {
      const proto = this.protocol === undefined ? '' : `${PROTOCOL_NAMES[this.protocol]} `;
      this.logger.debug(`${this.tag} ${proto}${entry.label} ${formatHostPort(destination.host, destination.port)}`);
    }
    this.host.sessionUpdated(this);
    (handler ?? entry.handler)(this);
  }

  /** Not the door's protocol (or not valid in it): `reply` first where it defines one, then close. */
  protocolError(reason: string, reply?: Buffer): void {
    if (reply) this.client.write(reply);
    this.close({ kind: 'protocol-error', message: reason }, true);
  }

  // --- CommandContext ------------------------------------------------------------------------------

  takePending(): Buffer {
    const p = this.pending;
    this.pending = EMPTY;
    return p;
  }

  succeed(bound: Endpoint): void {
    if (this.isClosed) return;
    this.door!.succeed(this, bound);
  }

  /** Sends the door's failure reply, then closes the connection (RFC 1928 §6: after a failure reply, close). */
  fail(kind: FailureKind, detail?: string, upstreamReply?: number): void {
    if (this.isClosed) return;
    this.door!.fail(this, kind, detail, upstreamReply);
  }

  ended(side: 'client' | 'target'): void {
    this.endOutcome ??= side === 'client' ? CLOSED_BY_CLIENT : CLOSED_BY_TARGET;
  }

  /** Updates state and reported facts; emits one `update`. */
  update(patch: Partial<CommandFacts>): void {
    if (this.isClosed) return;
    Object.assign(this, patch);
    this.host.sessionUpdated(this);
  }

  /**
   * Ties a socket, listener or UDP socket to this session: it is closed when the session closes,
   * and the session's `closed` promise waits for it.
   */
  own(handle: Owned): void {
    if ((handle as Owned & { [OWNER]?: Session })[OWNER] === this) return; // already owned
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

  /** Runs `fn` when the session closes (at once if it already has): for timers a command started. */
  onClose(fn: () => void): void {
    if (this.isClosed) return fn();
    (this.cleanups ??= []).push(fn);
  }

  /** Called by anything that wants this session over. The first outcome wins. */
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
    return this.upstream ? Math.max(0, this.upstream.bytesRead - this.upstreamHandshakeBytes) : 0;
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
    if (this.protocol !== undefined) info.protocol = this.protocol;
    if (this.user !== undefined) info.user = this.user;
    if (this.command !== undefined) info.command = this.command;
    if (this.destination !== undefined) info.destination = this.destination;
    if (this.route !== undefined) info.route = this.route;
    if (this.remote !== undefined) info.remote = this.remote;
    if (this.bound !== undefined) info.bound = this.bound;
    if (this.http !== undefined) info.http = this.http;
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
