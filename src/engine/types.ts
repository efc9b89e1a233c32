// The engine's public types: the one door between the proxy engine and anything that hosts it
// (the VS Code layer, the CLI, tests). Nothing in src/engine imports `vscode`.

import type { Socket } from 'node:net';
import type { RulesOptions } from './rules/config';

/**
 * A command a front door can ask for: SOCKS5 RFC 1928 §4 (SOCKS4 has CONNECT and BIND), and Tor's
 * RESOLVE / RESOLVE_PTR SOCKS5 extensions (a name → an address, an address → a name; answered
 * once, then the connection closes).
 */
export type Command = 'connect' | 'bind' | 'udpAssociate' | 'resolve' | 'resolvePtr';

/** How log lines and the UI name each command. */
export const COMMAND_NAMES: Readonly<Record<Command, string>> = Object.freeze({
  connect: 'CONNECT',
  bind: 'BIND',
  udpAssociate: 'UDP ASSOCIATE',
  resolve: 'RESOLVE',
  resolvePtr: 'RESOLVE_PTR',
});

/**
 * What a connection asked for, as log lines, the CLI and the UI name it: its command (`CONNECT`,
 * `BIND`…), or for HTTP forwarding its request's method (`GET`): forwarding runs as a CONNECT but
 * is not a tunnel.
 */
export function requestName(info: { command?: Command; http?: { method: string } }): string | undefined {
  return info.http ? info.http.method : info.command ? COMMAND_NAMES[info.command] : undefined;
}

/** A front-door protocol that can be switched on or off (ServerOptions.protocols). */
export type ProtocolSwitch = 'socks5' | 'socks4' | 'http';

/** The protocol a connection speaks, once its first bytes told (ConnectionInfo.protocol). */
export type Protocol = 'socks5' | 'socks4' | 'socks4a' | 'http-connect' | 'http';

/** How the UI, the log and the API name each protocol. */
export const PROTOCOL_NAMES: Readonly<Record<Protocol, string>> = Object.freeze({
  socks5: 'SOCKS5',
  socks4: 'SOCKS4',
  socks4a: 'SOCKS4a',
  'http-connect': 'HTTP CONNECT',
  http: 'HTTP',
});

export type ProtocolSwitches = Record<ProtocolSwitch, boolean>;

/**
 * Why a command failed, in no protocol's words: each front door turns it into its own reply
 * (SOCKS5 REP, SOCKS4 0x5B, an HTTP status).
 */
export type FailureKind =
  | 'general'
  | 'not-allowed'
  | 'network-unreachable'
  | 'host-unreachable'
  | 'refused'
  | 'timeout'
  | 'unsupported-command'
  | 'unsupported-address';

/**
 * Name resolution: every address of `host`, in the order to try them. Used by CONNECT, BIND and
 * UDP ASSOCIATE alike (UDP behind a cache). Rejects (an Error with an errno `code` such as
 * ENOTFOUND, or a DialError) or resolves with [] when the name has no address.
 */
export interface Resolver {
  resolve(host: string): Promise<string[]>;
  /** The names of an IP address (Tor's RESOLVE_PTR). Absent: the OS resolver's answer is used. */
  reverse?(ip: string): Promise<string[]>;
}

/** What a dial belongs to: its sockets are closed with it, and a dial it outlived is abandoned. */
export interface DialScope {
  readonly isClosed: boolean;
  /** The authenticated user the dial is for (per-user rules), when auth is on. */
  readonly user?: string;
  own(handle: Socket): void;
  onClose(fn: () => void): void;
}

export interface DialOptions {
  /** Give up after this long (0 = no deadline): rejects with a DialError of kind 'timeout'. */
  timeoutMs: number;
  /** For names (the server's resolver). */
  resolver: Resolver;
  scope: DialScope;
  /**
   * The rules must see this name's addresses (`resolver` checks them): a dialer that would pass
   * the name on unresolved (a socks5h:// upstream) resolves it through `resolver` first.
   */
  checkAddresses?: boolean;
}

/** A connected outbound stream, and the address it reached (after DNS, or as an upstream reported it). */
export interface Dialed {
  socket: Socket;
  remote: Endpoint;
  /** How it went when an upstream proxy is configured: `direct`, or the upstream's name (ConnectionInfo.route). */
  route?: string;
  /** Bytes the socket read that were the upstream's handshake, not the destination's data. */
  handshakeBytes?: number;
}

/**
 * Opens the outbound stream of a CONNECT. The direct dialer (the default) resolves and connects
 * with a staggered race over the addresses (Happy Eyeballs); rules or an upstream proxy replace
 * or wrap it. Rejects with a DialError (a FailureKind and a text), or any Error with an errno
 * `code`, which is mapped the way Dante maps errors.
 */
export interface Dialer {
  dial(target: Destination, options: DialOptions): Promise<Dialed>;
}

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
  /**
   * Cut before its handshake finished to make room under load (see ServerOptions.maxHandshakes):
   * such closes are counted and logged in summary, not one line each.
   */
  shed?: boolean;
  /** The SOCKS reply code sent, when one was sent (SOCKS5 0x00 success … 0x08; SOCKS4 0x5B). */
  reply?: number;
  /** Why the command failed, in no protocol's words (kind 'reply'). */
  failure?: FailureKind;
  /** A short human-readable text, e.g. `refused (0x05)`, `auth failed for "alice"`. Never a password. */
  message: string;
}

/** A snapshot of one session. Plain data: safe to keep, post or serialize. */
export interface ConnectionInfo {
  id: number;
  client: Endpoint;
  /** The front door it came through, once its first bytes told (see PROTOCOL_NAMES). */
  protocol?: Protocol;
  /** The authenticated username, when auth is on. */
  user?: string;
  command?: Command;
  destination?: Destination;
  /**
   * Only when an upstream proxy is configured: `direct` (the destination matched upstream.bypass)
   * or the upstream it went through, as `socks5h://user@host:port` (never a password).
   */
  route?: string;
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
  /** HTTP forwarding (protocol 'http'): the request under way; `destination` is its URL's host and port. */
  http?: HttpRequestInfo;
  /** ms since epoch. */
  startedAt: number;
  state: SessionState;
}

/** An HTTP-forwarding connection's request under way. */
export interface HttpRequestInfo {
  /** `GET`, `POST`, … */
  method: string;
  /** Requests this connection has carried so far (keep-alive), this one included. */
  requests: number;
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
  /**
   * Connections still in their handshake (greeting, auth, request) at once, part of
   * maxConnections; over it the oldest of them is cut to admit a newcomer, and when
   * maxConnections is reached a newcomer cuts the oldest handshake instead of being refused.
   * Established sessions are never cut for a newcomer. Default maxConnections / 2.
   */
  maxHandshakes?: number;
  commands: CommandSwitches;
  logger?: Logger;
  /**
   * Name resolution: all addresses of `host`, in the order to try them. Default: the OS resolver
   * (dns.lookup, both families). Shorthand for `resolver: { resolve }`; `resolver` wins.
   */
  resolve?: (host: string) => Promise<string[]>;
  /** Name resolution for CONNECT, BIND and UDP ASSOCIATE (see Resolver). Default: the OS resolver. */
  resolver?: Resolver;
  /** Outbound streams for CONNECT (see Dialer). Default: the direct dialer. */
  dialer?: Dialer;
  /** Front doors served on the port. Default: all of them. */
  protocols: ProtocolSwitches;
  /**
   * Who may connect and where they may go (client allow-list, allow/deny rules, block-private).
   * Default: none. Invalid rules make the constructor and setOptions() throw, naming the rule.
   */
  rules?: Partial<RulesOptions>;
  /** An upstream (chained) proxy for outbound traffic. Absent: everything goes direct. */
  upstream?: UpstreamOptions;
}

/** ServerOptions.upstream. An invalid one makes the constructor / setOptions throw (the running one is kept). */
export interface UpstreamOptions {
  /** `socks5://`, `socks5h://` (names resolved by the upstream) or `http://` (CONNECT) URL; the user name may be in it. */
  url: string;
  /** The password for the URL's user (kept out of the URL). */
  password?: string;
  /** Destinations that go direct, in the rules' pattern syntax (`*.corp.example`, `10.0.0.0/8`, `host:443`). */
  bypass?: readonly string[];
  /** HTTP upstreams: a ready Proxy-Authorization value instead of Basic credentials. */
  authorization?: string;
  /** Accept `user:password@` in the URL (VS Code's own http.proxy may carry one). Default false. */
  allowPasswordInUrl?: boolean;
}

/** What may be changed on a running server without a restart (applies to new sessions). */
export type LiveOptions = Partial<
  Pick<ServerOptions, 'users' | 'maxConnections' | 'maxPendingBinds' | 'maxUdpAssociations' | 'maxHandshakes' | 'logger'>
> & {
  timeouts?: Partial<Timeouts>;
  commands?: Partial<CommandSwitches>;
  protocols?: Partial<ProtocolSwitches>;
  /** Replaces the rules as a whole (absent fields: none). */
  rules?: Partial<RulesOptions>;
  /** A new upstream for new connections; null: none (direct). */
  upstream?: UpstreamOptions | null;
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
