// The Connections view (`socks5.connections`): one item per active session, a "Recently closed"
// group, a badge with the active count. It polls `controller.connections()` (the engine has no
// per-chunk events), throttled to at most 4 refreshes a second, and only while the view is visible.
import * as vscode from 'vscode';
import type { ClosedConnectionInfo, ConnectionInfo } from '../engine';
import type { ProxyController } from './controller';
import { Disposable, toDisposable } from './dispose';
import {
  RateTracker,
  buildProxyUrl,
  closedDescription,
  requestText,
  connectionDescription,
  connectionIcon,
  connectionLabel,
  connectionTooltip,
  formatEndpoint,
  outcomeText,
  stateLabel,
} from './format';
import type { Reach } from './reach';
import { t, tPlural } from './l10n';
import { Throttle } from './throttle';

export const VIEW_ID = 'socks5.connections';

/**
 * Ages and byte counters move without events: while the view is visible with sessions, poll every
 * second, slower with many sessions (1,000 busy rows: every 5 s) so a big proxy costs the
 * extension host little.
 */
export function tickMs(active: number): number {
  return Math.min(5000, 1000 + 4 * active);
}

/**
 * A refresh re-renders every row, which closes an open tooltip. VS Code asks for a tooltip
 * (resolveTreeItem) when the pointer rests on a row: refreshes then wait this long, so the
 * tooltip can be read.
 */
const HOVER_HOLD_MS = 5000;

export type ConnectionNode =
  | { kind: 'connection'; generation: number; info: ConnectionInfo; rendered?: string }
  | { kind: 'recent'; count: number }
  | { kind: 'closed'; generation: number; info: ClosedConnectionInfo };

type ActiveNode = Extract<ConnectionNode, { kind: 'connection' }>;

export class ConnectionsView extends Disposable implements vscode.TreeDataProvider<ConnectionNode> {
  private readonly _onDidChangeTreeData = this._register(new vscode.EventEmitter<ConnectionNode[] | void>());
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;

  private readonly view: vscode.TreeView<ConnectionNode>;
  private readonly rates = new RateTracker();
  private readonly refresh = new Throttle(() => this.doRefresh(), 250);
  private readonly badge = new Throttle(() => this.updateChrome(), 250);
  private ticker: ReturnType<typeof setTimeout> | undefined;
  /** Something changed while hidden (or while a tooltip was held): refresh when possible. */
  private stale = false;
  private holdUntil = 0;
  private holdTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The rows VS Code knows, by `generation:id`. The same objects are handed back on every refresh
   * so that a single row can be refreshed (VS Code identifies elements by object).
   */
  private readonly rows = new Map<string, ActiveNode>();
  private shownRoot: string | undefined;

  constructor(
    private readonly controller: ProxyController,
    private readonly reach: Reach,
  ) {
    super();
    this.view = this._register(
      vscode.window.createTreeView(VIEW_ID, { treeDataProvider: this, showCollapseAll: false, canSelectMany: false }),
    );
    this._register(toDisposable(() => this.refresh.dispose()));
    this._register(toDisposable(() => this.badge.dispose()));
    this._register(toDisposable(() => this.stopTicker()));
    this._register(toDisposable(() => clearTimeout(this.holdTimer)));
    this._register(
      controller.onDidChangeConnections(() => {
        this.badge.schedule();
        this.requestRefresh();
      }),
    );
    this._register(
      controller.onDidChangeState(() => {
        this.badge.flush();
        this.requestRefresh();
      }),
    );
    this._register(reach.onDidChange(() => this.badge.schedule()));
    this._register(
      this.view.onDidChangeVisibility((e) => {
        if (e.visible && this.stale) this.requestRefresh();
        this.manageTicker();
      }),
    );
    this.updateChrome();
  }

  /** The row selected in the view (keyboard: Delete closes it), if it is a live connection. */
  selectedConnection(): Extract<ConnectionNode, { kind: 'connection' }> | undefined {
    const node = this.view.selection[0];
    return node?.kind === 'connection' ? node : undefined;
  }

  /** The view is on screen (the Traffic panel samples while it or the view is visible). */
  get visible(): boolean {
    return this.view.visible;
  }

  get onDidChangeVisibility(): vscode.Event<vscode.TreeViewVisibilityChangeEvent> {
    return this.view.onDidChangeVisibility;
  }

  /** A row was selected (the Traffic panel, when open, shows that connection). */
  get onDidChangeSelection(): vscode.Event<vscode.TreeViewSelectionChangeEvent<ConnectionNode>> {
    return this.view.onDidChangeSelection;
  }

  /** Shows (and focuses) the view. */
  async reveal(): Promise<void> {
    await vscode.commands.executeCommand(`${VIEW_ID}.focus`);
  }

  // --- TreeDataProvider ------------------------------------------------------------------------

  getChildren(element?: ConnectionNode): ConnectionNode[] {
    if (element?.kind === 'recent') {
      return this.controller.recentEntries().map((r) => ({ kind: 'closed', generation: r.generation, info: r.info }));
    }
    if (element) return [];
    const root = this.snapshot();
    this.shownRoot = root.key;
    return root.nodes;
  }

  getTreeItem(node: ConnectionNode): vscode.TreeItem {
    const now = Date.now();
    switch (node.kind) {
      case 'connection': {
        const { info } = node;
        const item = new vscode.TreeItem(connectionLabel(info), vscode.TreeItemCollapsibleState.None);
        item.id = `connection:${node.generation}:${info.id}`;
        item.description = connectionDescription(info, now);
        item.iconPath = themeIcon(connectionIcon(info));
        item.contextValue = 'connection';
        node.rendered = rowText(info, now);
        item.accessibilityInformation = {
          label: t('{0} {1}, {2}, from {3}', requestText(info), connectionLabel(info), stateLabel(info), formatEndpoint(info.client)),
        };
        return item;
      }
      case 'recent': {
        const item = new vscode.TreeItem(t('Recently closed'), vscode.TreeItemCollapsibleState.Collapsed);
        item.id = 'recent';
        item.description = String(node.count);
        item.iconPath = new vscode.ThemeIcon('history');
        item.contextValue = 'recentGroup';
        item.accessibilityInformation = {
          label: tPlural(node.count, 'Recently closed: {0} connection, expand to see how it ended', 'Recently closed: {0} connections, expand to see how each ended'),
        };
        item.tooltip = tPlural(node.count, 'The last closed connection and how it ended', 'The last {0} closed connections and how each ended, newest first');
        return item;
      }
      case 'closed': {
        const { info } = node;
        const item = new vscode.TreeItem(connectionLabel(info), vscode.TreeItemCollapsibleState.None);
        item.id = `closed:${node.generation}:${info.id}`;
        item.description = closedDescription(info);
        item.iconPath = themeIcon(connectionIcon(info));
        item.contextValue = info.destination ? 'closedConnection' : 'closedConnectionNoDestination';
        item.accessibilityInformation = {
          label: t('Closed {0} {1} from {2}: {3}', requestText(info), connectionLabel(info), formatEndpoint(info.client), outcomeText(info.outcome)),
        };
        return item;
      }
    }
  }

  /** Tooltips are built on hover only (cheap with 1,000 sessions), from a fresh snapshot. */
  resolveTreeItem(item: vscode.TreeItem, node: ConnectionNode): vscode.TreeItem {
    if (node.kind === 'recent') return item;
    this.holdUntil = Date.now() + HOVER_HOLD_MS;
    const fresh = node.kind === 'connection' && node.generation === this.controller.generation ? this.controller.connection(node.info.id) : undefined;
    const info = fresh ?? node.info;
    const md = new vscode.MarkdownString(connectionTooltip(info, Date.now(), this.rates.rate(info.id)));
    md.isTrusted = false;
    md.supportHtml = false;
    item.tooltip = md;
    return item;
  }

  // --- refresh ---------------------------------------------------------------------------------

  private requestRefresh(): void {
    const held = this.holdUntil - Date.now();
    if (!this.view.visible) {
      this.stale = true;
    } else if (held > 0) {
      this.stale = true;
      this.holdTimer ??= setTimeout(() => {
        this.holdTimer = undefined;
        if (this.stale) this.requestRefresh();
      }, held);
    } else {
      this.refresh.schedule();
    }
    this.manageTicker();
  }

  private doRefresh(): void {
    if (this.isDisposed) return;
    if (this.holdUntil > Date.now()) {
      // A tooltip was asked for after this refresh was scheduled: wait for the hold to end.
      this.requestRefresh();
      return;
    }
    this.stale = false;
    const root = this.snapshot();
    if (root.key !== this.shownRoot) {
      // Rows came or went (or the state changed): VS Code asks for the root again.
      this._onDidChangeTreeData.fire();
    } else {
      // Same rows: re-render only those whose text or icon changed. Idle rows keep their DOM
      // (and an open tooltip).
      const now = Date.now();
      const changed = root.nodes.filter((n): n is ActiveNode => n.kind === 'connection' && n.rendered !== rowText(n.info, now));
      if (changed.length > 0) this._onDidChangeTreeData.fire(changed);
    }
    this.manageTicker();
  }

  /**
   * The root rows from a fresh engine snapshot, reusing the node objects VS Code already has
   * (their `info` is updated in place), and a key that changes when the set of rows changes.
   */
  private snapshot(): { nodes: ConnectionNode[]; key: string } {
    // Stopped (or failed): an empty tree, so the welcome content (Start Proxy, Open Settings) shows.
    if (this.controller.state !== 'running' && this.controller.state !== 'starting') {
      this.rows.clear();
      return { nodes: [], key: 'empty' };
    }
    const generation = this.controller.generation;
    const connections = this.controller.connections();
    this.rates.sample(connections, Date.now());
    connections.sort((a, b) => b.startedAt - a.startedAt || b.id - a.id);
    const seen = new Set<string>();
    const nodes: ConnectionNode[] = connections.map((info) => {
      const key = `${generation}:${info.id}`;
      seen.add(key);
      let node = this.rows.get(key);
      if (node) node.info = info;
      else this.rows.set(key, (node = { kind: 'connection', generation, info }));
      return node;
    });
    for (const key of this.rows.keys()) if (!seen.has(key)) this.rows.delete(key);
    const recent = this.controller.recentEntries();
    if (recent.length > 0) nodes.push({ kind: 'recent', count: recent.length });
    const newest = recent[0] ? `${recent[0].generation}:${recent[0].info.id}` : '';
    return { nodes, key: `${generation}|${[...seen].join(',')}|${recent.length}|${newest}` };
  }

  /** Badge (shown even when the view is hidden), title description and message. */
  private updateChrome(): void {
    if (this.isDisposed) return;
    const state = this.controller.state;
    const active = state === 'running' ? this.controller.activeCount() : 0;
    this.view.badge = active > 0 ? { value: active, tooltip: tPlural(active, '{0} active connection', '{0} active connections') } : undefined;
    // The address that works where the user is, and which one it is in a remote window.
    const here = this.reach.whereabouts();
    const address = here?.address;
    this.view.description = here
      ? here.where === 'local'
        ? formatEndpoint(here.address)
        : here.where === 'forwarded'
          ? t('{0} on this computer', formatEndpoint(here.address))
          : t('{0} on the remote', formatEndpoint(here.address))
      : state === 'error'
        ? t('failed to start')
        : '';
    // Running, no active session but a history: the welcome content is hidden by the history, so
    // say where clients should connect.
    this.view.message =
      address && active === 0 && this.controller.recentEntries().length > 0
        ? t('No active connections. Clients can use {0}.', buildProxyUrl(address))
        : undefined;
  }

  private manageTicker(): void {
    const active = this.view.visible && this.controller.state === 'running' ? this.controller.activeCount() : 0;
    if (active > 0 && this.ticker === undefined) {
      this.ticker = setTimeout(() => {
        this.ticker = undefined;
        this.requestRefresh(); // re-arms the ticker (manageTicker) while there is something to show
      }, tickMs(active));
    } else if (active === 0) {
      this.stopTicker();
    }
  }

  private stopTicker(): void {
    if (this.ticker !== undefined) {
      clearTimeout(this.ticker);
      this.ticker = undefined;
    }
  }
}

/** What a row shows; a row is re-rendered only when this changes. */
function rowText(info: ConnectionInfo, now: number): string {
  return `${connectionLabel(info)}\n${connectionDescription(info, now)}\n${connectionIcon(info).id}`;
}

function themeIcon(icon: { id: string; color?: string }): vscode.ThemeIcon {
  return icon.color ? new vscode.ThemeIcon(icon.id, new vscode.ThemeColor(icon.color)) : new vscode.ThemeIcon(icon.id);
}
