// The messages between the extension (src/vscode/trafficPanel.ts) and the Traffic webview
// (src/webview/traffic.ts): one module both import, types only. The extension sends one `init`
// when the webview (re)loads, then a small `tick` each second with only what changed.
// Every text the webview shows comes from the extension (`strings`, row names, labels), so it
// can be translated there. Rates are bytes per second; times are ms since the epoch; `null`
// marks a gap (nobody was sampling) since JSON has no NaN.

/** Every fixed text of the panel, translated by the extension. `{0}` … are placeholders. */
export interface TrafficStrings {
  title: string;
  notRunning: string;
  totalHeading: string;
  /** Chart label: `Total rate over the last {0} minutes`. */
  totalChartLabel: string;
  download: string;
  upload: string;
  /** `Now ↓ {0} ↑ {1}` */
  nowRates: string;
  /** `Peak ↓ {0} ↑ {1} · average ↓ {2} ↑ {3}` */
  peakAverage: string;
  showAsTable: string;
  colTime: string;
  selectedHeading: string;
  connectionPicker: string;
  noConnection: string;
  noSelection: string;
  /** Chart label: `Rate of {0} over its life` */
  selectedChartLabel: string;
  /** `{0}: ↓ {1} ↑ {2} in {3}; now ↓ {4} ↑ {5}` */
  selectedSummary: string;
  /** `{0}: ↓ {1} ↑ {2} in {3}; closed` */
  selectedClosedSummary: string;
  noHistory: string;
  nowHeading: string;
  active: string;
  refusedMinute: string;
  failedMinute: string;
  destinationsHeading: string;
  usersHeading: string;
  colDestination: string;
  colUser: string;
  colDown: string;
  colUp: string;
  colConnections: string;
  colFailures: string;
  /** `{0} open` (connections of a row open now) */
  openCount: string;
  /** `{0} failed, {1} refused` (a failures cell's accessible text) */
  failuresDetail: string;
  noRows: string;
  /** `since {0}` (the proxy start, local time) */
  since: string;
  export: string;
  exportHint: string;
}

export interface SeriesPoint {
  t: number;
  up: number | null;
  down: number | null;
}

/** One interval of a connection's life: (start, end] at these rates. */
export interface HistoryPoint {
  start: number;
  end: number;
  up: number;
  down: number;
}

export interface RowData {
  key: string;
  /** Display name (a destination, a user, "UDP (all associations)", "Others"). */
  name: string;
  bytesUp: number;
  bytesDown: number;
  connections: number;
  active: number;
  failures: number;
  refusals: number;
}

/** A table's change: the keys in display order when the order changed, and the rows that changed. */
export interface TableDelta {
  order?: string[];
  rows: RowData[];
}

export interface CountItem {
  label: string;
  value: number;
}

export interface NowData {
  active: number;
  /** Active per protocol and per command, labelled. */
  items: CountItem[];
  refused: number;
  failed: number;
}

export interface ConnectionOption {
  id: number;
  label: string;
}

export interface SelectedData {
  id: number;
  label: string;
  closed: boolean;
  startedAt: number;
  bytesUp: number;
  bytesDown: number;
  rateUp: number;
  rateDown: number;
  /** How long it has lived (lived), as text. */
  lifetime: string;
  /** `reset`: `points` replace what the webview has (first send, after a merge); else appended. */
  reset: boolean;
  points: HistoryPoint[];
  /** No history is kept for it (more connections than history slots, or it ended unseen). */
  noHistory?: boolean;
}

export type ToWebview =
  | {
      type: 'init';
      strings: TrafficStrings;
      windowSeconds: number;
      at: number;
      running: boolean;
      /** Authentication on: the users table is shown. */
      auth: boolean;
      since: string;
      total: SeriesPoint[];
    }
  | {
      type: 'tick';
      at: number;
      /** The new total point (absent when the figures were read between two samples). */
      point?: SeriesPoint;
      counts: NowData;
      destinations?: TableDelta;
      users?: TableDelta;
      /** The connection picker's options, when they changed. */
      connections?: ConnectionOption[];
      /** The selected connection, when there is one; `null` when the selection was cleared. */
      selected?: SelectedData | null;
    }
  | { type: 'state'; running: boolean; auth: boolean; since: string };

export type FromWebview = { type: 'ready' } | { type: 'select'; id: number | null } | { type: 'export' };
