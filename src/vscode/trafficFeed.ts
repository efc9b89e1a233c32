// Host-free (no `vscode` import): turns the engine's traffic model into the Traffic webview's
// messages (./trafficProtocol). It remembers what the webview already has, so that each tick
// carries only what changed: the new total point, the table rows whose figures moved, the
// connection picker's options when they changed, and the selected connection's new points.
import type { Command, ConnectionSummary, TickResult, TrafficRow, TrafficTracker } from '../engine';
import { commandLabel, formatDuration, printable } from './format';
import { t } from './l10n';
import type { ConnectionOption, NowData, RowData, SelectedData, SeriesPoint, TableDelta, ToWebview, TrafficStrings } from './trafficProtocol';


/** Rows per table and connections in the picker. */
export const TOP_ROWS = 20;
export const PICKER_SIZE = 50;

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);

interface SentTable {
  rows: Map<string, string>;
  order: string;
}

export class TrafficFeed {
  /** The connection the panel shows; undefined: none. */
  selected: number | undefined;
  private destinations: SentTable = { rows: new Map(), order: '' };
  private users: SentTable = { rows: new Map(), order: '' };
  private pickerKey = '';
  private sentSelection: { id: number | undefined; version: number; length: number; closed: boolean } = {
    id: undefined,
    version: -1,
    length: 0,
    closed: false,
  };

  constructor(
    /** Display names for protocol ids (`socks5` → `SOCKS5`); absent ids show as given. */
    private readonly protocolName: (id: string) => string = (id) => id.toUpperCase(),
  ) {}

  /** The webview (re)loaded or the tracker changed: it has nothing, so the next tick sends everything. */
  reset(): void {
    this.destinations = { rows: new Map(), order: '' };
    this.users = { rows: new Map(), order: '' };
    this.pickerKey = '';
    this.sentSelection = { id: undefined, version: -1, length: 0, closed: false };
  }

  init(
    tracker: TrafficTracker | undefined,
    strings: TrafficStrings,
    state: { running: boolean; auth: boolean; since: string },
    at: number,
  ): ToWebview {
    this.reset();
    const total: SeriesPoint[] = [];
    if (tracker) {
      const [t, up, down] = tracker.total.columns();
      for (let i = 0; i < t.length; i++) total.push({ t: t[i], up: finite(up[i]), down: finite(down[i]) });
    }
    return { type: 'init', strings, windowSeconds: tracker?.total.capacity ?? 300, at, ...state, total };
  }

  /** The message for one sample (`result` is what tracker.tick() returned). */
  tick(tracker: TrafficTracker, result: TickResult): Extract<ToWebview, { type: 'tick' }> {
    const last = tracker.total.length - 1;
    const msg: Extract<ToWebview, { type: 'tick' }> = { type: 'tick', at: result.at, counts: this.counts(tracker) };
    // A recorded tick is the ring's newest point; an unrecorded one (a read between samples) adds none.
    if (result.recorded && last >= 0 && tracker.total.get(last) === result.at) {
      msg.point = { t: result.at, up: finite(tracker.total.get(last, 1)), down: finite(tracker.total.get(last, 2)) };
    }
    const destinations = this.table(tracker.destinations.top(TOP_ROWS), this.destinations);
    if (destinations) msg.destinations = destinations;
    const users = this.table(tracker.users.top(TOP_ROWS), this.users);
    if (users) msg.users = users;
    const picker = this.picker(tracker);
    if (picker) msg.connections = picker;
    const selected = this.selection(tracker, result);
    if (selected !== undefined) msg.selected = selected;
    return msg;
  }

  /** `#12 example.com:443` (`#12 handshake…` before the request, `#12 UDP` for an association). */
  connectionLabel(c: Pick<ConnectionSummary, 'id' | 'destination' | 'command' | 'user'>): string {
    const what = c.command === 'udpAssociate' ? t('UDP relay') : c.destination ? printable(c.destination) : t('handshake…');
    return c.user !== undefined ? `#${c.id} ${what} (${printable(c.user)})` : `#${c.id} ${what}`;
  }

  rowName(row: TrafficRow): string {
    if (row.kind === 'udp') return t('UDP (all associations)');
    if (row.kind === 'others') return t('Others');
    return printable(row.key);
  }

  private counts(tracker: TrafficTracker): NowData {
    const c = tracker.counts();
    const items = [
      ...Object.entries(c.byProtocol).map(([k, v]) => ({ label: this.protocolName(k), value: v })),
      ...Object.entries(c.byCommand).map(([k, v]) => ({
        label: k === 'handshake' ? t('in handshake') : commandLabel(k as Command),
        value: v,
      })),
    ];
    return { active: c.active, items, refused: c.refusedLastMinute, failed: c.failedLastMinute };
  }

  private table(rows: TrafficRow[], sent: SentTable): TableDelta | undefined {
    const changed: RowData[] = [];
    const keys: string[] = [];
    const next = new Map<string, string>();
    for (const r of rows) {
      const data: RowData = {
        key: `${r.kind}:${r.key}`,
        name: this.rowName(r),
        bytesUp: r.bytesUp,
        bytesDown: r.bytesDown,
        connections: r.connections,
        active: r.active,
        failures: r.failures,
        refusals: r.refusals,
      };
      const text = JSON.stringify(data);
      keys.push(data.key);
      next.set(data.key, text);
      if (sent.rows.get(data.key) !== text) changed.push(data);
    }
    const order = keys.join('\n');
    sent.rows = next;
    const orderChanged = order !== sent.order;
    sent.order = order;
    if (!orderChanged && changed.length === 0) return undefined;
    return orderChanged ? { order: keys, rows: changed } : { rows: changed };
  }

  private picker(tracker: TrafficTracker): ConnectionOption[] | undefined {
    const list = tracker.busiest(PICKER_SIZE);
    // The picker lists connections by id: re-sorting by rate every second would move the options
    // under the pointer. Sorted by id (newest first), sent when the set changes.
    const options = list.map((c) => ({ id: c.id, label: this.connectionLabel(c) }));
    if (this.selected !== undefined && !options.some((o) => o.id === this.selected)) {
      const s = tracker.connection(this.selected);
      if (s) options.push({ id: s.id, label: this.connectionLabel(s) });
    }
    options.sort((a, b) => b.id - a.id);
    const key = options.map((o) => `${o.id}\t${o.label}`).join('\n');
    if (key === this.pickerKey) return undefined;
    this.pickerKey = key;
    return options;
  }

  private selection(tracker: TrafficTracker, result: TickResult): SelectedData | null | undefined {
    const sent = this.sentSelection;
    const id = this.selected;
    const summary = id === undefined ? undefined : tracker.connection(id);
    if (id === undefined || !summary) {
      if (sent.id === undefined) return undefined;
      this.sentSelection = { id: undefined, version: -1, length: 0, closed: false };
      return null;
    }
    const h = tracker.history(id);
    const reset = sent.id !== id || (h?.version ?? -1) !== sent.version || (h?.length ?? 0) < sent.length;
    const points = h ? h.points(reset ? 0 : sent.length) : [];
    if (!reset && points.length === 0 && summary.closed && sent.closed) return undefined; // nothing new since it ended
    this.sentSelection = { id, version: h?.version ?? -1, length: h?.length ?? 0, closed: summary.closed };
    const data: SelectedData = {
      id,
      label: this.connectionLabel(summary),
      closed: summary.closed,
      startedAt: summary.startedAt,
      bytesUp: summary.bytesUp,
      bytesDown: summary.bytesDown,
      rateUp: summary.rateUp,
      rateDown: summary.rateDown,
      lifetime: formatDuration((summary.closed ? summary.endedAt ?? result.at : result.at) - summary.startedAt),
      reset,
      points,
    };
    if (!h) data.noHistory = true;
    return data;
  }
}
