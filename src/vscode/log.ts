// The "SOCKS5 Proxy" log output channel. It is also the engine's Logger, so engine lines (start,
// stop, each connection's open and close with its outcome, failed logins with the user name) land
// here at the level the engine chose. Nothing in this layer ever logs a password.
import * as vscode from 'vscode';
import type { Logger } from '../engine';
import { Disposable } from './dispose';

export class Log extends Disposable implements Logger {
  private readonly channel: vscode.LogOutputChannel;

  constructor() {
    super();
    this.channel = this._register(vscode.window.createOutputChannel('SOCKS5 Proxy', { log: true }));
  }

  debug(message: string): void {
    this.channel.debug(message);
  }

  info(message: string): void {
    this.channel.info(message);
  }

  warn(message: string): void {
    this.channel.warn(message);
  }

  error(message: string): void {
    this.channel.error(message);
  }

  show(): void {
    this.channel.show(true);
  }
}

/** A readable message from anything thrown. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
