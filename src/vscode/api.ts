// The public API returned by `activate()`, for other extensions and for tests:
//
//   const api = vscode.extensions.getExtension<Socks5ProxyApi>('socks5-proxy-dev.socks5-proxy')?.exports;
//   const address = await api?.start();
//
// Everything here is plain data or a VS Code event; nothing exposes the engine object itself.
import type * as vscode from 'vscode';
import type { ClosedConnectionInfo, ConnectionInfo, Endpoint } from '../engine';

/**
 * Where the proxy is:
 * - `stopped`: not listening (never started, or stopped);
 * - `starting`: a start (or a listener move) is in progress;
 * - `running`: listening on {@link Socks5ProxyApi.address};
 * - `error`: the last start failed; {@link Socks5ProxyApi.error} says why.
 */
export type ProxyState = 'stopped' | 'starting' | 'running' | 'error';

export interface Socks5ProxyApi {
  /** Version of this interface; bumped on incompatible changes. */
  readonly apiVersion: 1;

  /** The current state. */
  readonly state: ProxyState;

  /** The bound address while `running` (the real port when `socks5.port` is 0), otherwise undefined. */
  readonly address: Endpoint | undefined;

  /** Why the last start failed, while `state` is `error`. */
  readonly error: string | undefined;

  /**
   * Starts the proxy with the current settings (a no-op when already running). Resolves with the
   * bound address, or `undefined` when it could not start (the reason is in {@link error}, the log
   * and a notification). Never rejects.
   */
  start(): Promise<Endpoint | undefined>;

  /** Stops the proxy and closes every connection. Resolves when the port is released. Never rejects. */
  stop(): Promise<void>;

  /** A snapshot of the active connections (byte counters read now; `protocol` names the front door: socks5, socks4, socks4a, http-connect, http). Empty when stopped. */
  connections(): ConnectionInfo[];

  /** The most recently closed connections, newest first (kept across listener moves). */
  recentlyClosed(): ClosedConnectionInfo[];

  /** Fires with the new state whenever {@link state} changes. */
  readonly onDidChangeState: vscode.Event<ProxyState>;

  /**
   * Fires (batched, at most a few times a second) when connections open, change state or close.
   * Byte counters change without an event: call {@link connections} to read them.
   */
  readonly onDidChangeConnections: vscode.Event<void>;
}
