// The "SOCKS5 Proxy" status bar item: state, port and live connection count; click toggles.
import * as vscode from 'vscode';
import type { ProxyController } from './controller';
import { Disposable, toDisposable } from './dispose';
import { STATUS_TOOLTIP_COMMANDS, statusAccessibility, statusText, statusTooltip } from './format';
import type { Reach } from './reach';
import { t } from './l10n';
import { Throttle } from './throttle';

/** How often the tooltip's traffic totals are refreshed while running (counters have no events). */
const TOOLTIP_REFRESH_MS = 2000;

export class StatusBar extends Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly update = new Throttle(() => this.render(), 250);
  private ticker: ReturnType<typeof setInterval> | undefined;
  private lastText = '';
  private lastTooltip = '';
  private lastState = '';

  constructor(
    private readonly controller: ProxyController,
    private readonly reach: Reach,
  ) {
    super();
    this.item = this._register(vscode.window.createStatusBarItem('socks5.status', vscode.StatusBarAlignment.Right, 100));
    this.item.name = t('SOCKS5 Proxy');
    this.item.command = { command: 'socks5.toggle', title: t('Toggle Proxy') };
    this._register(toDisposable(() => this.update.dispose()));
    this._register(toDisposable(() => this.stopTicker()));
    this._register(controller.onDidChangeState(() => this.update.flush()));
    this._register(controller.onDidChangeConnections(() => this.update.schedule()));
    this._register(controller.onDidChangeSettings(() => this.update.schedule()));
    this._register(reach.onDidChange(() => this.update.schedule()));
    this.render();
    this.item.show();
  }

  private render(): void {
    if (this.isDisposed) return;
    const whereabouts = this.reach.whereabouts();
    const m = { ...this.controller.statusModel(), ...(whereabouts ? { reach: { whereabouts, httpOnly: this.reach.httpOnlyForward } } : {}) };
    const text = statusText(m);
    const tooltip = statusTooltip(m, t);
    if (text !== this.lastText) {
      this.item.text = text;
      this.item.accessibilityInformation = { label: statusAccessibility(m), role: 'button' };
      this.lastText = text;
    }
    if (tooltip !== this.lastTooltip) {
      const md = new vscode.MarkdownString(tooltip, true);
      md.isTrusted = { enabledCommands: [...STATUS_TOOLTIP_COMMANDS] };
      this.item.tooltip = md;
      this.lastTooltip = tooltip;
    }
    if (m.state !== this.lastState) {
      this.lastState = m.state;
      this.item.backgroundColor = m.state === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
      this.item.command = {
        command: 'socks5.toggle',
        title: m.state === 'running' ? t('Stop Proxy') : t('Start Proxy'),
      };
    }
    if (m.state === 'running') this.startTicker();
    else this.stopTicker();
  }

  private startTicker(): void {
    this.ticker ??= setInterval(() => this.update.schedule(), TOOLTIP_REFRESH_MS);
  }

  private stopTicker(): void {
    if (this.ticker !== undefined) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }
}
