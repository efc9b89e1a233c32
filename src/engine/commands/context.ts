// What a command handler (CONNECT, BIND, UDP ASSOCIATE) sees of its connection: a narrow context.
// A handler reports success (`succeed(bound)`) or a protocol-neutral failure (`fail(kind, …)`);
// the front door that took the request turns either into its own reply. Handlers know nothing of
// SOCKS5, SOCKS4 or HTTP bytes.

import type { Socket, Server as NetServer } from 'node:net';
import type { Socket as UdpSocket } from 'node:dgram';
import type { Slots } from '../limits';
import type { CompiledRules } from '../rules/config';
import type { UpstreamRoute } from '../upstream/config';
import type { Command, CommandSwitches, Destination, Dialer, Endpoint, FailureKind, HttpRequestInfo, Logger, Outcome, Resolver, SessionState, Timeouts } from '../types';

/** A handle a connection owns: closed with it. */
export type Owned = Socket | NetServer | UdpSocket;

/** Counters for sessions that do not relay one TCP stream (UDP): plain numbers, bumped in place. */
export interface DatagramCounters {
  bytesUp: number;
  bytesDown: number;
  datagramsUp: number;
  datagramsDown: number;
  datagramsDropped: number;
}

/** What handlers read from the server's options (a snapshot taken when the connection started). */
export interface CommandConfig {
  timeouts: Timeouts;
  /** The server's slot counters, and this config's caps (see ../limits). */
  slots: Slots;
  maxPendingBinds: number;
  maxUdpAssociations: number;
  resolver: Resolver;
  dialer: Dialer;
  /** Client allow-list and destination rules (see ../rules/gate for where they are checked). */
  rules: CompiledRules;
  /** The upstream proxy BIND and UDP ASSOCIATE go through (CONNECT's is inside `dialer`). */
  upstream?: UpstreamRoute;
}

/** The facts a handler reports about its connection (each `update` emits one server `update`). */
export interface CommandFacts {
  state: SessionState;
  /** CONNECT: the address connected to. BIND: the peer that connected. */
  remote: Endpoint;
  /** The address named in the success reply. */
  bound: Endpoint;
  /** What counts destination → client: the CONNECT target's or BIND peer's socket (HTTP forwarding: its outbound sockets together). */
  upstream: Pick<Socket, 'bytesRead'>;
  /** HTTP forwarding: each request names its own destination, method and count. */
  destination: Destination;
  http: HttpRequestInfo | undefined;
  /** UDP sessions count here instead. */
  datagrams: DatagramCounters;
  /** Only with an upstream configured: `direct` or the upstream's name. */
  route: string;
  /** Bytes `upstream` read that were an upstream proxy's handshake (not counted as traffic). */
  upstreamHandshakeBytes: number;
}

export interface CommandContext {
  readonly client: Socket;
  readonly destination: Destination;
  /** The authenticated user, when auth is on. */
  readonly user: string | undefined;
  readonly config: CommandConfig;
  readonly logger: Logger;
  /** `#7 127.0.0.1:51234` for log lines. */
  readonly tag: string;
  readonly isClosed: boolean;
  /** Resolves once the connection is closed and every handle it owned has emitted 'close'. */
  readonly closed: Promise<void>;
  /** Bytes the client sent after its request (in the same segments): forward them first. Taken once. */
  takePending(): Buffer;
  /** Ties a socket, listener or UDP socket to the connection: closed with it, awaited by `closed`. */
  own(handle: Owned): void;
  /** Runs `fn` when the connection closes (at once if it already has). */
  onClose(fn: () => void): void;
  update(patch: Partial<CommandFacts>): void;
  /** The request succeeded (sent as the protocol's success reply, naming `bound` where it can). */
  succeed(bound: Endpoint): void;
  /** The request failed: the protocol's failure reply, then close. `upstreamReply`: an upstream SOCKS5 REP to pass on. */
  fail(kind: FailureKind, detail?: string, upstreamReply?: number): void;
  /** The first side to send FIN: who ended a connection that ends normally. */
  ended(side: 'client' | 'target'): void;
  /** Ends the connection; `flush`: let a reply just written reach the client first. */
  close(outcome: Outcome, flush?: boolean): void;
}

export type CommandHandler = (ctx: CommandContext) => void;

export interface CommandEntry {
  /** For log lines: `CONNECT`, `BIND`, `UDP ASSOCIATE`. */
  label: string;
  handler: CommandHandler;
  /** The switch (ServerOptions.commands) that turns it off. */
  switch: keyof CommandSwitches;
}

/** The handlers a server runs, by command: passed to each session (never imported by it). */
export type CommandRegistry = Readonly<Record<Command, CommandEntry>>;

/** Short words for each failure kind, for log lines and outcomes (`refused (0x05): …`). */
export const FAILURE_TEXT: Readonly<Record<FailureKind, string>> = Object.freeze({
  general: 'general failure',
  'not-allowed': 'not allowed',
  'network-unreachable': 'network unreachable',
  'host-unreachable': 'host unreachable',
  refused: 'refused',
  timeout: 'timed out',
  'unsupported-command': 'command not supported',
  'unsupported-address': 'address type not supported',
});

/** A rejected dial or resolve with a FailureKind of its own (and, from an upstream, its reply). */
export class DialError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly upstreamReply?: number,
  ) {
    super(message);
    this.name = 'DialError';
  }
}

/** A connect or lookup error (or its `code`) → FailureKind, the way Dante maps errors. Unknown → general. */
export function failureForError(err: unknown): FailureKind {
  if (err instanceof DialError) return err.kind;
  const code = errorCode(err);
  switch (code) {
    case 'ENETUNREACH':
    case 'ENETDOWN':
      return 'network-unreachable';
    case 'EHOSTUNREACH':
    case 'EHOSTDOWN':
    case 'ENOTFOUND':
    case 'ENODATA':
    case 'ESERVFAIL':
    case 'EREFUSED':
    case 'ENONAME':
      return 'host-unreachable';
    case 'ECONNREFUSED':
      return 'refused';
    case 'ETIMEDOUT':
    case 'ETIMEOUT':
      return 'timeout';
    default:
      // getaddrinfo failures surface as EAI_* (EAI_AGAIN, EAI_FAIL, EAI_NONAME, …)
      return code?.startsWith('EAI_') ? 'host-unreachable' : 'general';
  }
}

export function errorCode(err: unknown): string | undefined {
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && 'code' in err && typeof (err).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}
