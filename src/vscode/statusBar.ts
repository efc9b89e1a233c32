// The "SOCKS5 Proxy" status bar item: state, port and live connection count; click toggles.
import * as vscode from 'vscode';
import type { ProxyController } from './controller';
import { Disposable, toDisposable } from './dispose';
import { STATUS_TOOLTIP_COMMANDS, escapeMarkdown, statusAccessibility, statusText, statusTooltip } from './format';
import { t } from './l10n';
import type { Reach } from './reach';
import { raisedLimit } from './refusals';
import { LIMITS } from './settings';
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
  private lastLook = '';

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
    this._register(controller.onDidChangeRefusals(() => this.update.schedule()));
    this.render();
    this.item.show();
  }

  private render(): void {
    if (this.isDisposed) return;
    const whereabouts = this.reach.whereabouts();
    const m = { ...this.controller.statusModel(), ...(whereabouts ? { reach: { whereabouts, httpOnly: this.reach.httpOnlyForward } } : {}) };
    const refused = this.controller.refusedLastMinute;
    const ignored = this.controller.ignored;
    let text = statusText(m);
    let label = statusAccessibility(m);
    if (refused > 0) {
      text = `${text.replace(/^\$\([\w~-]+\)/, '$(warning)')} · ${t('{0} refused', refused)}`;
      label = `${label}, ${t('{0} clients refused in the last minute: the proxy is full', refused)}`;
    }
    const tooltip = [statusTooltip(m, t), ...this.warningLines(refused, ignored)].join('\n\n');
    if (text !== this.lastText) {
      this.item.text = text;
      this.item.accessibilityInformation = { label, role: 'button' };
      this.lastText = text;
    }
    if (tooltip !== this.lastTooltip) {
      const md = new vscode.MarkdownString(tooltip, true);
      md.isTrusted = { enabledCommands: [...STATUS_TOOLTIP_COMMANDS, 'socks5.raiseMaxConnections'] };
      this.item.tooltip = md;
      this.lastTooltip = tooltip;
    }
    const look = m.state === 'error' ? 'error' : m.state === 'running' && (refused > 0 || ignored.length > 0) ? 'warning' : '';
    if (look !== this.lastLook) {
      this.lastLook = look;
      this.item.backgroundColor = look ? new vscode.ThemeColor(`statusBarItem.${look}Background`) : undefined;
    }
    if (m.state !== this.lastState) {
      this.lastState = m.state;
      this.item.command = {
        command: 'socks5.toggle',
        title: m.state === 'running' ? t('Stop Proxy') : t('Start Proxy'),
      };
    }
    if (m.state === 'running') this.startTicker();
    else this.stopTicker();
  }

  /** The tooltip's warnings: the proxy is full (with the offer to raise the limit), ignored settings. */
  private warningLines(refused: number, ignored: readonly { setting: string; text: string; using: string }[]): string[] {
    const lines: string[] = [];
    if (refused > 0) {
      const max = this.controller.maxConnections;
      lines.push(`$(warning) **${t('The proxy is full: {0} clients were refused in the last minute.', refused)}**`);
      let why = t('{0} connections are open, the limit set by socks5.maxConnections.', max);
      const next = raisedLimit(max, LIMITS.maxConnectionsMax);
      if (next !== undefined) {
        const title = t('Raise the limit to {0}…', next);
        why += ` [$(arrow-up) ${title}](command:socks5.raiseMaxConnections "${title}")`;
      }
      lines.push(why);
    }
    for (const i of ignored) {
      const open = `command:socks5.openSettings?${encodeURIComponent(JSON.stringify([i.setting]))}`;
      lines.push(
        `$(warning) ${escapeMarkdown(t('{0}: ignored, the proxy keeps using {1}.', i.text, i.using))} [${t('Open Settings')}](${open})`,
      );
    }
    return lines;
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
