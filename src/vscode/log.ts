// The "SOCKS5 Proxy" log output channel. It is also the engine's Logger, so engine lines (start,
// stop, each connection's open and close with its outcome, failed logins with the user name) land
// here at the level the engine chose. Nothing in this layer ever logs a password. Lines that
// arrive after disposal (the engine closing sessions during shutdown) are dropped.
import * as vscode from 'vscode';
import type { Logger } from '../engine';
import { Disposable } from './dispose';

export class Log extends Disposable implements Logger {
  private readonly channel: vscode.LogOutputChannel;

  constructor() {
    super();
    this.channel = this._register(vscode.window.createOutputChannel('SOCKS5 Proxy', { log: true }));
  }

  /** Debug lines show only at the channel's Debug or Trace level ("Set Log Level…"). */
  get debugEnabled(): boolean {
    const level = this.channel.logLevel;
    return level === vscode.LogLevel.Trace || level === vscode.LogLevel.Debug;
  }

  debug(message: string): void {
    if (!this.isDisposed) this.channel.debug(message);
  }

  info(message: string): void {
    if (!this.isDisposed) this.channel.info(message);
  }

  warn(message: string): void {
    if (!this.isDisposed) this.channel.warn(message);
  }

  error(message: string): void {
    if (!this.isDisposed) this.channel.error(message);
  }

  show(): void {
    if (!this.isDisposed) this.channel.show(true);
  }
}

/** A readable message from anything thrown. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Lets a Thenable run without awaiting it, and without ever producing an unhandled rejection
 * (notifications, setContext: their failure has nobody to report to but the log).
 */
export function background(work: Thenable<unknown>, log?: Log): void {
  work.then(undefined, (err: unknown) => log?.debug(`background operation failed: ${errorMessage(err)}`));
}
