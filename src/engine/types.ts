// The engine's public types: the one door between the SOCKS5 engine and anything that hosts it
// (the VS Code layer, the CLI, tests). Nothing in src/engine imports `vscode`.

/** A SOCKS5 command (RFC 1928 §4). */
export type Command = 'connect' | 'bind' | 'udpAssociate';

/** Where a session is in its life. */
export type SessionState =
  | 'handshake' // greeting / auth / request not complete yet
  | 'connecting' // CONNECT: outbound connection under way
  | 'bind-waiting' // BIND: listening, waiting for the peer
  | 'established' // relaying (CONNECT/BIND) or associated (UDP)
  | 'closed';

export interface Endpoint {
  host: string;
  port: number;
}

/** The destination as the client asked for it (DST.ADDR / DST.PORT). */
export interface Destination extends Endpoint {
  type: 'ipv4' | 'ipv6' | 'domain';
}

/** Why a session ended. */
export interface Outcome {
  kind:
    | 'closed' // ended normally (either side closed after success)
    | 'closed-by-client'
    | 'closed-by-target'
    | 'closed-by-user' // closeConnection() / closeAll() / stop()
    | 'reply' // a failure reply was sent (see `reply`)
    | 'auth-failed'
    | 'no-acceptable-method'
    | 'handshake-timeout'
    | 'idle-timeout'
    | 'protocol-error'
    | 'error';
  /** The SOCKS reply code sent, when one was sent (0x00 success … 0x08). */
  reply?: number;
  /** A short human-readable text, e.g. `refused (0x05)`, `auth failed for "alice"`. Never a password. */
  message: string;
}

/** A snapshot of one session. Plain data: safe to keep, post or serialize. */
export interface ConnectionInfo {
  id: number;
  client: Endpoint;
  /** The authenticated username, when auth is on. */
  user?: string;
  command?: Command;
  destination?: Destination;
  /** CONNECT: the address actually connected to (after DNS). BIND: the peer that connected. */
  remote?: Endpoint;
  /** The address sent in the (first) success reply: outbound socket (CONNECT), listener (BIND), relay (UDP). */
  bound?: Endpoint;
  /** Bytes client → destination. */
  bytesUp: number;
  /** Bytes destination → client. */
  bytesDown: number;
  /** UDP only: datagrams each way, and datagrams dropped (foreign sender, FRAG≠0, malformed). */
  datagramsUp?: number;
  datagramsDown?: number;
  datagramsDropped?: number;
  /** ms since epoch. */
  startedAt: number;
  state: SessionState;
}

export interface ClosedConnectionInfo extends ConnectionInfo {
  state: 'closed';
  endedAt: number;
  outcome: Outcome;
}

export interface Timeouts {
  /** Whole greeting + auth + request, ms. Default 10 000. */
  handshakeMs: number;
  /** Outbound CONNECT, ms. Default 10 000. */
  connectMs: number;
  /** No traffic either way, ms. 0 = off (default). */
  idleMs: number;
  /** BIND: waiting for the peer, ms. Default 60 000. */
  bindMs: number;
}

export interface CommandSwitches {
  connect: boolean;
  bind: boolean;
  udpAssociate: boolean;
}

export interface Logger {
  /**
   * false when debug lines go nowhere: the engine then does not even build the ones it would
   * write for every connection. Absent: true.
   */
  readonly debugEnabled?: boolean;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface ServerOptions {
  /** Default `127.0.0.1`. */
  host: string;
  /** Default 1080; 0 = any free port. */
  port: number;
  /** username → password. Empty = no authentication (method 0x00). */
  users: ReadonlyMap<string, string>;
  timeouts: Timeouts;
  /** Concurrent sessions; over it new clients are refused. Default 1024. */
  maxConnections: number;
  /** BIND requests waiting for their peer at once (part of maxConnections); over it BIND gets 0x01. Default maxConnections / 4. */
  maxPendingBinds?: number;
  /** UDP associations at once (part of maxConnections); over it UDP ASSOCIATE gets 0x01. Default maxConnections / 4. */
  maxUdpAssociations?: number;
  commands: CommandSwitches;
  logger?: Logger;
  /**
   * Name resolution for CONNECT targets: all addresses of `host`, in the order to try them.
   * Default: the OS resolver (dns.lookup, both families). Room for custom DNS and for tests.
   */
  resolve?: (host: string) => Promise<string[]>;
}

/** What may be changed on a running server without a restart (applies to new sessions). */
export type LiveOptions = Partial<
  Pick<ServerOptions, 'users' | 'maxConnections' | 'maxPendingBinds' | 'maxUdpAssociations' | 'logger'>
> & {
  timeouts?: Partial<Timeouts>;
  commands?: Partial<CommandSwitches>;
};

export interface ServerStats {
  active: number;
  total: number;
  bytesUp: number;
  bytesDown: number;
}

/** Events emitted by Socks5Server. */
export interface ServerEvents {
  /** A client connected (state `handshake`). */
  open: [info: ConnectionInfo];
  /** A session changed state or learnt something (command, destination, user, bound…). Never per data chunk. */
  update: [info: ConnectionInfo];
  /** A session ended. */
  close: [info: ClosedConnectionInfo];
  /** The listener is up. */
  listening: [address: Endpoint];
  /** stop() finished. */
  stopped: [];
}

export const DEFAULT_TIMEOUTS: Timeouts = Object.freeze({
  handshakeMs: 10_000,
  connectMs: 10_000,
  idleMs: 0,
  bindMs: 60_000,
});

export const DEFAULT_OPTIONS: Omit<ServerOptions, 'users' | 'logger'> = Object.freeze({
  host: '127.0.0.1',
  port: 1080,
  timeouts: DEFAULT_TIMEOUTS,
  maxConnections: 1024,
  commands: Object.freeze({ connect: true, bind: true, udpAssociate: true }),
});
