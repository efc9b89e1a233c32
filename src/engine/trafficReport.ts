// Host-free views of the traffic model as text: the CLI's one-line summary and its table
// (--stats-interval, SIGUSR1), and the export (CSV, JSON) the extension writes.

import type { NowCounts, TickResult, TrafficRow, TrafficTotals, TrafficTracker } from './traffic';
import { COMMAND_NAMES, PROTOCOL_NAMES, type Command, type Protocol } from './types';
import { formatBytes, formatRate } from './units';

/** `CONNECT`, `BIND`, `UDP ASSOCIATE` (COMMAND_NAMES), `handshake` before a request. */
export function commandName(command: Command | 'handshake'): string {
  return command === 'handshake' ? 'handshake' : COMMAND_NAMES[command];
}

/** `3 (SOCKS5 2, HTTP CONNECT 1; CONNECT 3)`: the active count, per protocol and per command, largest first. */
export function activeText(c: NowCounts): string {
  const split = <K extends string>(counts: Partial<Record<K, number>>, name: (k: K) => string, last?: K): string[] =>
    (Object.entries(counts) as Array<[K, number]>)
      .filter(([k]) => k !== last)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${name(k)} ${n}`)
      .concat(last !== undefined && counts[last] ? [`${name(last)} ${counts[last]}`] : []);
  const protocols = split<Protocol>(c.byProtocol, (p) => PROTOCOL_NAMES[p]);
  const commands = split<Command | 'handshake'>(c.byCommand, commandName, 'handshake');
  const parts = [protocols.join(', '), commands.join(', ')].filter((p) => p !== '');
  return parts.length > 0 ? `${c.active} (${parts.join('; ')})` : String(c.active);
}

const rate = (r: number): string => (Number.isFinite(r) ? formatRate(r) : '-');

/**
 * One line: `traffic: ↑ 1.2 KiB/s ↓ 50.0 MiB/s · active 3 (CONNECT 2, UDP ASSOCIATE 1) ·
 * since start 120 connections, ↑ 3.0 MiB ↓ 1.2 GiB · last minute 0 refused, 2 failed`.
 */
export function summaryLine(tick: TickResult, totals: TrafficTotals, counts: NowCounts): string {
  return (
    `traffic: ↑ ${rate(tick.rateUp)} ↓ ${rate(tick.rateDown)} · active ${activeText(counts)} · ` +
    `since start ${totals.connections} connections, ↑ ${formatBytes(totals.bytesUp)} ↓ ${formatBytes(totals.bytesDown)} · ` +
    `last minute ${counts.refusedLastMinute} refused, ${counts.failedLastMinute} failed`
  );
}

/** A row's name as text: `host:port`, a user name, `UDP (all associations)`, `(others)`. */
export function rowName(row: TrafficRow): string {
  if (row.kind === 'udp') return 'UDP (all associations)';
  if (row.kind === 'others') return '(others)';
  return row.key;
}

/** An aligned plain-text table of rows (the CLI's SIGUSR1 output). */
export function tableText(title: string, rows: TrafficRow[], nameHeader: string): string {
  const header = [nameHeader, 'down', 'up', 'connections', 'active', 'failed', 'refused'];
  const body = rows.map((r) => [
    rowName(r).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '\uFFFD'),
    formatBytes(r.bytesDown),
    formatBytes(r.bytesUp),
    String(r.connections),
    String(r.active),
    String(r.failures),
    String(r.refusals),
  ]);
  const all = [header, ...body];
  const widths = header.map((_, i) => Math.max(...all.map((cells) => cells[i].length)));
  const line = (cells: string[]): string =>
    '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [title, ...all.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Export

export interface TrafficReport {
  /** ISO times: when this was written, and since when the totals count. */
  generatedAt: string;
  since: string;
  totals: TrafficTotals;
  destinations: TrafficRow[];
  users: TrafficRow[];
}

/** The current totals and tables (the tracker should have just ticked, so live bytes are in). */
export function trafficReport(tracker: TrafficTracker, now = Date.now()): TrafficReport {
  return {
    generatedAt: new Date(now).toISOString(),
    since: new Date(tracker.since).toISOString(),
    totals: tracker.totals(),
    destinations: tracker.destinations.top(),
    users: tracker.users.top(),
  };
}

export function reportToJson(report: TrafficReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, a quote, a line break or edge spaces,
 * quotes doubled. A text field that a spreadsheet would run as a formula (= + - @, tab, CR) gets
 * a leading apostrophe: destination names come from clients.
 */
export function csvField(value: string | number): string {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  let v = value;
  if (/^[=+\-@\t\r]/.test(v)) v = `'${v}`;
  return /[",\r\n]|^\s|\s$/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export const CSV_COLUMNS = ['section', 'name', 'bytes_up', 'bytes_down', 'connections', 'active', 'failures', 'refusals'] as const;

/**
 * One table: a `total` row, then the `destination` rows (and `udp`, `others`), then the `user`
 * rows. CRLF line ends (RFC 4180).
 */
export function reportToCsv(report: TrafficReport): string {
  const t = report.totals;
  const lines = [CSV_COLUMNS.join(',')];
  const row = (section: string, name: string, r: Omit<TrafficRow, 'key' | 'kind'>): void => {
    lines.push([section, name, r.bytesUp, r.bytesDown, r.connections, r.active, r.failures, r.refusals].map(csvField).join(','));
  };
  row('total', `since ${report.since}`, { ...t, failures: t.failures, refusals: t.refusals });
  for (const r of report.destinations) row(r.kind === 'others' ? 'destination-others' : r.kind, r.kind === 'others' ? '' : r.key, r);
  for (const r of report.users) row(r.kind === 'others' ? 'user-others' : 'user', r.kind === 'others' ? '' : r.key, r);
  return lines.join('\r\n') + '\r\n';
}
