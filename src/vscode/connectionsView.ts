// The Connections view (`socks5.connections`): one item per active session (flat, or grouped by
// destination host, client or user), a "Recently closed" group, a badge with the active count. It
// polls `controller.connections()` (the engine has no per-chunk events), throttled to at most 4
// refreshes a second, and only while the view is visible.
import * as vscode from 'vscode';
import type { ClosedConnectionInfo, ConnectionInfo } from '../engine';
import type { ProxyController } from './controller';
import { Disposable, toDisposable } from './dispose';
import {
  RateTracker,
  buildProxyUrl,
  closedDescription,
  requestText,
  compactTrafficText,
  connectionDescription,
  connectionIcon,
  connectionLabel,
  connectionTooltip,
  formatBytes,
  formatEndpoint,
  outcomeText,
  stateLabel,
} from './format';
import { groupConnections, groupLabel, isGroupBy, type GroupBy } from './grouping';
import type { Reach } from './reach';
import { t, tPlural } from './l10n';
import { Throttle } from './throttle';

export const VIEW_ID = 'socks5.connections';
/** Where the chosen grouping is remembered (ExtensionContext.globalState). */
const GROUP_BY_KEY = 'socks5.connections.groupBy';

/**
 * Ages and byte counters move without events: while the view is visible with sessions, poll every
 * second, slower with many sessions (1,000 busy rows: every 5 s) so a big proxy costs the
 * extension host little.
 */
export function tickMs(active: number): number {
  return Math.min(5000, 1000 + 4 * active);
}

/**
 * Re-rendering a row closes its open tooltip (VS Code sets the row's hover up again). VS Code asks
 * for a tooltip (resolveTreeItem) when the pointer rests on a row: that one row is then left alone
 * for this long, or until another row's tooltip is asked for, while every other row keeps updating.
 */
const HOVER_HOLD_MS = 10_000;
/**
 * A refresh of the whole list (rows came or went) or of the hovered row's group re-renders the
 * hovered row too: it waits at most this long for the tooltip, so the list never freezes longer.
 */
const HOVER_MAX_DEFER_MS = 1_000;

type ActiveNode = { kind: 'connection'; generation: number; info: ConnectionInfo; rendered?: string };
type GroupNode = {
  kind: 'group';
  by: Exclude<GroupBy, 'flat'>;
  key: string;
  count: number;
  bytesUp: number;
  bytesDown: number;
  members: ActiveNode[];
  /** What the row shows and who is in it, as last handed to VS Code. */
  rendered?: string;
  shownMembers?: string;
};

export type ConnectionNode =
  | ActiveNode
  | GroupNode
  | { kind: 'recent'; count: number }
  | { kind: 'closed'; generation: number; info: ClosedConnectionInfo };

export class ConnectionsView extends Disposable implements vscode.TreeDataProvider<ConnectionNode> {
  private readonly _onDidChangeTreeData = this._register(new vscode.EventEmitter<ConnectionNode[] | void>());
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;

  private readonly view: vscode.TreeView<ConnectionNode>;
  private readonly rates = new RateTracker();
  private readonly refresh = new Throttle(() => this.doRefresh(), 250);
  private readonly badge = new Throttle(() => this.updateChrome(), 250);
  private ticker: ReturnType<typeof setTimeout> | undefined;
  /** Something changed while hidden (or was held for a tooltip): refresh when possible. */
  private stale = false;
  /** The row whose tooltip VS Code asked for last, and until when it is left alone. */
  private hovered: { key: string; until: number } | undefined;
  /** Since when a refresh that would close the hovered row's tooltip has been waiting. */
  private deferredSince: number | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The rows and groups VS Code knows, by key. The same objects are handed back on every refresh
   * so that a single row can be refreshed (VS Code identifies elements by object).
   */
  private readonly rows = new Map<string, ActiveNode>();
  private readonly groups = new Map<string, GroupNode>();
  private shownRoot: string | undefined;
  private _groupBy: GroupBy;

  constructor(
    private readonly controller: ProxyController,
    private readonly reach: Reach,
    private readonly memento: vscode.Memento,
  ) {
    super();
    const saved = memento.get<unknown>(GROUP_BY_KEY);
    this._groupBy = isGroupBy(saved) ? saved : 'flat';
    this.view = this._register(
      vscode.window.createTreeView(VIEW_ID, { treeDataProvider: this, showCollapseAll: false, canSelectMany: false }),
    );
    this._register(toDisposable(() => this.refresh.dispose()));
    this._register(toDisposable(() => this.badge.dispose()));
    this._register(toDisposable(() => this.stopTicker()));
    this._register(toDisposable(() => clearTimeout(this.retryTimer)));
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
    this.setGroupContext();
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

  get groupBy(): GroupBy {
    return this._groupBy;
  }

  /** Changes (and remembers) how rows are grouped; the whole list is rebuilt. */
  async setGroupBy(by: GroupBy): Promise<void> {
    if (by === this._groupBy) return;
    this._groupBy = by;
    this.groups.clear();
    this.setGroupContext();
    this.shownRoot = undefined;
    this._onDidChangeTreeData.fire();
    await this.memento.update(GROUP_BY_KEY, by);
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
    if (element?.kind === 'group') {
      element.shownMembers = memberKey(element);
      return element.members;
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
        item.id = rowKey(node.generation, info.id);
        item.description = connectionDescription(info, now);
        item.iconPath = themeIcon(connectionIcon(info));
        item.contextValue = 'connection';
        node.rendered = rowText(info, now);
        item.accessibilityInformation = {
          label: t('{0} {1}, {2}, from {3}', requestText(info), connectionLabel(info), stateLabel(info), formatEndpoint(info.client)),
        };
        return item;
      }
      case 'group': {
        const item = new vscode.TreeItem(groupLabel(node.key, t), vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `group:${node.by}:${node.key}`;
        item.description = groupDescription(node);
        item.iconPath = new vscode.ThemeIcon(GROUP_ICONS[node.by]);
        item.contextValue = 'connectionGroup';
        item.tooltip = groupTooltip(node);
        node.rendered = item.description;
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
    if (node.kind === 'recent' || node.kind === 'group') return item;
    if (node.kind === 'connection') this.hovered = { key: rowKey(node.generation, node.info.id), until: Date.now() + HOVER_HOLD_MS };
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
    if (!this.view.visible) this.stale = true;
    else this.refresh.schedule();
    this.manageTicker();
  }

  /** The hovered row's key while its tooltip is being held. */
  private heldKey(now: number): string | undefined {
    const h = this.hovered;
    if (!h) return undefined;
    if (h.until <= now) {
      this.hovered = undefined;
      return undefined;
    }
    return h.key;
  }

  /**
   * True when a refresh that re-renders the hovered row should wait (for at most
   * HOVER_MAX_DEFER_MS); arranges the retry.
   */
  private deferForTooltip(now: number): boolean {
    this.deferredSince ??= now;
    const left = this.deferredSince + HOVER_MAX_DEFER_MS - now;
    if (left <= 0) {
      this.deferredSince = undefined;
      this.hovered = undefined; // its tooltip closes now; later refreshes need not wait for it
      return false;
    }
    this.stale = true;
    this.retryTimer ??= setTimeout(() => {
      this.retryTimer = undefined;
      this.requestRefresh();
    }, left);
    return true;
  }

  private doRefresh(): void {
    if (this.isDisposed) return;
    this.stale = false;
    const now = Date.now();
    const held = this.heldKey(now);
    const root = this.snapshot();
    if (root.key !== this.shownRoot) {
      // Rows or groups came or went (or the state changed): VS Code asks for the root again,
      // which re-renders every row, the hovered one too.
      if (held !== undefined && this.rows.has(held) && this.deferForTooltip(now)) return;
      this.deferredSince = undefined;
      this._onDidChangeTreeData.fire();
      this.manageTicker();
      return;
    }
    this.deferredSince = undefined;
    // Same rows: re-render only those whose text or icon changed. Idle rows keep their DOM
    // (and an open tooltip); the hovered row waits.
    const changed: ConnectionNode[] = [];
    let heldBack = false;
    const consider = (n: ActiveNode): void => {
      if (n.rendered === undefined || n.rendered === rowText(n.info, now)) return;
      if (rowKey(n.generation, n.info.id) === held) heldBack = true;
      else changed.push(n);
    };
    for (const n of root.nodes) {
      if (n.kind === 'connection') consider(n);
      else if (n.kind === 'group') {
        const membersChanged = n.shownMembers !== undefined && n.shownMembers !== memberKey(n);
        const textChanged = n.rendered !== undefined && n.rendered !== groupDescription(n);
        if (membersChanged || textChanged) {
          // A group's refresh asks for its children again: wait for a tooltip inside it (bounded).
          const holdsHovered = held !== undefined && n.members.some((m) => rowKey(m.generation, m.info.id) === held);
          if (holdsHovered && this.deferForTooltip(now)) heldBack = true;
          else changed.push(n);
        } else if (n.shownMembers !== undefined) {
          for (const m of n.members) consider(m);
        }
      }
    }
    if (heldBack) this.stale = true;
    if (changed.length > 0) this._onDidChangeTreeData.fire(changed);
    this.manageTicker();
  }

  /**
   * The root rows from a fresh engine snapshot, reusing the node objects VS Code already has
   * (their `info` is updated in place), and a key that changes when the set of root rows changes.
   */
  private snapshot(): { nodes: ConnectionNode[]; key: string } {
    // Stopped (or failed): an empty tree, so the welcome content (Start Proxy, Open Settings) shows.
    if (this.controller.state !== 'running' && this.controller.state !== 'starting') {
      this.rows.clear();
      this.groups.clear();
      return { nodes: [], key: 'empty' };
    }
    const generation = this.controller.generation;
    const connections = this.controller.connections();
    this.rates.sample(connections, Date.now());
    connections.sort((a, b) => b.startedAt - a.startedAt || b.id - a.id);
    const seen = new Set<string>();
    const active: ActiveNode[] = connections.map((info) => {
      const key = rowKey(generation, info.id);
      seen.add(key);
      let node = this.rows.get(key);
      if (node) node.info = info;
      else this.rows.set(key, (node = { kind: 'connection', generation, info }));
      return node;
    });
    for (const key of this.rows.keys()) if (!seen.has(key)) this.rows.delete(key);

    let nodes: ConnectionNode[];
    let setKey: string;
    const by = this._groupBy;
    if (by === 'flat') {
      nodes = active;
      setKey = [...seen].join(',');
    } else {
      const byInfo = new Map(active.map((n) => [n.info, n]));
      const seenGroups = new Set<string>();
      nodes = groupConnections(connections, by).map((g) => {
        seenGroups.add(g.key);
        let node = this.groups.get(g.key);
        if (!node) this.groups.set(g.key, (node = { kind: 'group', by, key: g.key, count: 0, bytesUp: 0, bytesDown: 0, members: [] }));
        node.count = g.count;
        node.bytesUp = g.bytesUp;
        node.bytesDown = g.bytesDown;
        node.members = g.members.map((m) => byInfo.get(m)!);
        return node;
      });
      for (const key of this.groups.keys()) if (!seenGroups.has(key)) this.groups.delete(key);
      // The root changes when groups come, go or change places; members are the groups' business.
      setKey = `${by}:${[...seenGroups].join(',')}`;
    }
    const recent = this.controller.recentEntries();
    if (recent.length > 0) nodes.push({ kind: 'recent', count: recent.length });
    const newest = recent[0] ? `${recent[0].generation}:${recent[0].info.id}` : '';
    return { nodes, key: `${generation}|${setKey}|${recent.length}|${newest}` };
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
    // Alone in its container the view's title is merged into the side bar's ("SOCKS5: …"), where
    // VS Code shows no description: while running, the title is the address itself, "SOCKS5:
    // 127.0.0.1:1080", which fits a 300 px side bar beside the title actions (the badge counts
    // the connections; the description says where the address works when the view is moved).
    this.view.title = here ? formatEndpoint(here.address) : t('Connections');
    // Running, no active session but a history: the welcome content is hidden by the history, so
    // say where clients should connect.
    this.view.message =
      address && active === 0 && this.controller.recentEntries().length > 0
        ? t('No active connections. Clients can use {0}.', buildProxyUrl(address))
        : undefined;
  }

  private setGroupContext(): void {
    void vscode.commands.executeCommand('setContext', 'socks5.groupBy', this._groupBy);
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

const GROUP_ICONS: Record<Exclude<GroupBy, 'flat'>, string> = {
  destination: 'globe',
  client: 'vm',
  user: 'account',
};

function rowKey(generation: number, id: number): string {
  return `connection:${generation}:${id}`;
}

/** A group row's description: `12 · ↑1.2 KiB ↓3.4 MiB`. */
function groupDescription(g: GroupNode): string {
  return `${g.count} · ${compactTrafficText(g)}`;
}

function groupTooltip(g: GroupNode): string {
  return t('{0}: {1} connections, ↑ {2} ↓ {3}', groupLabel(g.key, t), g.count, formatBytes(g.bytesUp), formatBytes(g.bytesDown));
}

function memberKey(g: GroupNode): string {
  return g.members.map((m) => m.info.id).join(',');
}

/** What a row shows; a row is re-rendered only when this changes. */
function rowText(info: ConnectionInfo, now: number): string {
  return `${connectionLabel(info)}\n${connectionDescription(info, now)}\n${connectionIcon(info).id}`;
}

function themeIcon(icon: { id: string; color?: string }): vscode.ThemeIcon {
  return icon.color ? new vscode.ThemeIcon(icon.id, new vscode.ThemeColor(icon.color)) : new vscode.ThemeIcon(icon.id);
}
