// The Traffic panel's script (bundled to media/traffic.js; runs in the webview, not in Node).
// It draws its own small SVG charts and tables from the extension's messages
// (../vscode/trafficProtocol). Every text comes from the extension; numbers are formatted here.
// Names from the network (destinations, users) are only ever set as textContent.
import { formatBytes, formatRate } from '../engine/units';
import type {
  ConnectionOption,
  FromWebview,
  HistoryPoint,
  NowData,
  RowData,
  SelectedData,
  SeriesPoint,
  TableDelta,
  ToWebview,
  TrafficStrings,
} from '../vscode/trafficProtocol';

declare function acquireVsCodeApi(): { postMessage(message: FromWebview): void };

const api = acquireVsCodeApi();
const SVG = 'http://www.w3.org/2000/svg';
/** Chart coordinates (the SVG scales to its box; strokes do not: vector-effect). */
const W = 600;
const H = 160;
/** Rows of the "as a table" view of the total chart. */
const TABLE_POINTS = 30;

let S: TrafficStrings | undefined;
let windowMs = 300_000;
let lastAt = Date.now();
let total: SeriesPoint[] = [];
let history: HistoryPoint[] = [];
let selected: SelectedData | null = null;
const tables = {
  destinations: { rows: new Map<string, RowData>(), order: [] as string[] },
  users: { rows: new Map<string, RowData>(), order: [] as string[] },
};

const fmt = (template: string, ...args: Array<string | number>): string =>
  template.replace(/\{(\d+)\}/g, (m, i: string) => (args[Number(i)] !== undefined ? String(args[Number(i)]) : m));

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<Record<string, string>> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) if (v !== undefined) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function svg(tag: string, attrs: Record<string, string> = {}): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

const $ = <T extends Element = HTMLElement>(id: string): T => document.getElementById(id) as unknown as T;

// ---------------------------------------------------------------------------------------------
// Charts

interface Chart {
  root: SVGElement;
  area: SVGElement;
  down: SVGElement;
  up: SVGElement;
  top: HTMLElement;
  mid: HTMLElement;
}

/** A chart: gridlines, the download area and line, the upload line, and the scale's labels. */
function chart(id: string, labelId: string): { figure: HTMLElement; chart: Chart } {
  const root = svg('svg', { id, viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-labelledby': labelId, focusable: 'false' });
  const grid = svg('g', { class: 'grid' });
  for (const y of [0, H / 2, H]) grid.append(svg('line', { x1: '0', x2: String(W), y1: String(y), y2: String(y), 'vector-effect': 'non-scaling-stroke' }));
  const area = svg('path', { class: 'area down' });
  const down = svg('path', { class: 'line down', 'vector-effect': 'non-scaling-stroke' });
  const up = svg('path', { class: 'line up', 'vector-effect': 'non-scaling-stroke' });
  root.append(grid, area, down, up);
  const top = el('span', { class: 'scale top', 'aria-hidden': 'true' });
  const mid = el('span', { class: 'scale mid', 'aria-hidden': 'true' });
  const figure = el('div', { class: 'plot' }, root, top, mid);
  return { figure, chart: { root, area, down, up, top, mid } };
}

/** A round scale above `peak` in its binary unit: 1, 2 or 5 × 10^n KiB/s, MiB/s, … (short labels). */
function niceMax(peak: number): number {
  if (!(peak > 0)) return 1024;
  const unit = Math.pow(1024, Math.max(0, Math.floor(Math.log(peak) / Math.log(1024))));
  const v = peak / unit;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p * unit;
  return 10 * p * unit;
}

type Segment = Array<{ x0: number; x1: number; up: number; down: number }>;

/** Draws runs of steps (x in chart units); a new run starts after a gap. */
function draw(c: Chart, runs: Segment[], max: number): void {
  const y = (v: number): string => (H - (Math.min(v, max) / max) * H).toFixed(1);
  let dUp = '';
  let dDown = '';
  let dArea = '';
  for (const run of runs) {
    if (run.length === 0) continue;
    let up = '';
    let down = '';
    run.forEach((p, i) => {
      const cmd = i === 0 ? 'M' : 'L';
      up += `${cmd}${p.x0.toFixed(1)} ${y(p.up)}L${p.x1.toFixed(1)} ${y(p.up)}`;
      down += `${cmd}${p.x0.toFixed(1)} ${y(p.down)}L${p.x1.toFixed(1)} ${y(p.down)}`;
    });
    dUp += up;
    dDown += down;
    dArea += `${down}L${run[run.length - 1].x1.toFixed(1)} ${H}L${run[0].x0.toFixed(1)} ${H}Z`;
  }
  c.up.setAttribute('d', dUp);
  c.down.setAttribute('d', dDown);
  c.area.setAttribute('d', dArea);
  c.top.textContent = formatRate(max);
  c.mid.textContent = formatRate(max / 2);
}

let totalChart: Chart | undefined;
let selChart: Chart | undefined;

function drawTotal(): void {
  if (!S || !totalChart) return;
  const start = lastAt - windowMs;
  total = total.filter((p) => p.t > start);
  const runs: Segment[] = [];
  let run: Segment = [];
  let prevT: number | undefined;
  let peakUp = 0;
  let peakDown = 0;
  let sumUp = 0;
  let sumDown = 0;
  let n = 0;
  for (const p of total) {
    if (p.up === null || p.down === null) {
      // Nobody was sampling before this point: a gap.
      if (run.length) runs.push(run);
      run = [];
      prevT = undefined;
      continue;
    }
    // Each point is the rate over the interval that ends at its time.
    const from = prevT !== undefined && p.t - prevT <= 3000 ? prevT : p.t - 1000;
    if (from !== prevT && run.length) {
      runs.push(run);
      run = [];
    }
    run.push({ x0: Math.max(0, ((from - start) / windowMs) * W), x1: ((p.t - start) / windowMs) * W, up: p.up, down: p.down });
    prevT = p.t;
    peakUp = Math.max(peakUp, p.up);
    peakDown = Math.max(peakDown, p.down);
    sumUp += p.up;
    sumDown += p.down;
    n++;
  }
  if (run.length) runs.push(run);
  draw(totalChart, runs, niceMax(Math.max(peakUp, peakDown)));
  const last = [...total].reverse().find((p) => p.up !== null && p.down !== null);
  const text =
    fmt(S.nowRates, formatRate(last?.down ?? 0), formatRate(last?.up ?? 0)) +
    ' · ' +
    fmt(S.peakAverage, formatRate(peakDown), formatRate(peakUp), formatRate(n ? sumDown / n : 0), formatRate(n ? sumUp / n : 0));
  $('total-summary').textContent = text;
  totalChart.root.setAttribute('aria-label', `${fmt(S.totalChartLabel, Math.round(windowMs / 60_000))}. ${text}`);
  if ($<HTMLDetailsElement>('total-details').open) drawTotalTable();
}

function drawTotalTable(): void {
  const body = $('total-rows');
  body.replaceChildren(
    ...total
      .slice(-TABLE_POINTS)
      .reverse()
      .map((p) =>
        el(
          'tr',
          {},
          el('td', {}, new Date(p.t).toLocaleTimeString()),
          el('td', { class: 'num' }, p.down === null ? '-' : formatRate(p.down)),
          el('td', { class: 'num' }, p.up === null ? '-' : formatRate(p.up)),
        ),
      ),
  );
}

function drawSelected(): void {
  if (!S || !selChart) return;
  const box = $('selected-box');
  const summary = $('selected-summary');
  if (!selected) {
    box.classList.add('empty');
    summary.textContent = S.noSelection;
    draw(selChart, [], 1024);
    selChart.root.setAttribute('aria-label', S.noSelection);
    return;
  }
  box.classList.remove('empty');
  const start = selected.startedAt;
  const end = Math.max(history.length ? history[history.length - 1].end : start, start + 1000);
  const span = end - start;
  let peak = 0;
  const run: Segment = history.map((p) => {
    peak = Math.max(peak, p.up, p.down);
    return { x0: ((p.start - start) / span) * W, x1: ((p.end - start) / span) * W, up: p.up, down: p.down };
  });
  draw(selChart, [run], niceMax(peak));
  const text = selected.closed
    ? fmt(S.selectedClosedSummary, selected.label, formatBytes(selected.bytesDown), formatBytes(selected.bytesUp), selected.lifetime)
    : fmt(
        S.selectedSummary,
        selected.label,
        formatBytes(selected.bytesDown),
        formatBytes(selected.bytesUp),
        selected.lifetime,
        formatRate(selected.rateDown),
        formatRate(selected.rateUp),
      );
  summary.textContent = selected.noHistory ? `${text} ${S.noHistory}` : text;
  selChart.root.setAttribute('aria-label', `${fmt(S.selectedChartLabel, selected.label)}. ${text}`);
}

// ---------------------------------------------------------------------------------------------
// Tables, counts, picker

function applyTable(which: 'destinations' | 'users', delta: TableDelta): void {
  const t = tables[which];
  for (const r of delta.rows) t.rows.set(r.key, r);
  if (delta.order) {
    t.order = delta.order;
    for (const k of [...t.rows.keys()]) if (!t.order.includes(k)) t.rows.delete(k);
  }
  renderTable(which);
}

function renderTable(which: 'destinations' | 'users'): void {
  if (!S) return;
  const t = tables[which];
  const body = $(`${which}-rows`);
  const rows = t.order.map((k) => t.rows.get(k)).filter((r): r is RowData => r !== undefined);
  if (rows.length === 0) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: '5', class: 'none' }, S.noRows)));
    return;
  }
  body.replaceChildren(
    ...rows.map((r) => {
      const failures = r.failures + r.refusals;
      const conns = r.active > 0 ? `${r.connections} (${fmt(S!.openCount, r.active)})` : String(r.connections);
      return el(
        'tr',
        { class: r.key.startsWith('others:') ? 'others' : '' },
        el('th', { scope: 'row', class: 'name' }, r.name),
        el('td', { class: 'num' }, formatBytes(r.bytesDown)),
        el('td', { class: 'num' }, formatBytes(r.bytesUp)),
        el('td', { class: 'num' }, conns),
        el('td', { class: failures > 0 ? 'num bad' : 'num', title: fmt(S!.failuresDetail, r.failures, r.refusals), 'aria-label': fmt(S!.failuresDetail, r.failures, r.refusals) }, String(failures)),
      );
    }),
  );
}

function renderCounts(c: NowData): void {
  if (!S) return;
  const item = (label: string, value: number, cls = ''): HTMLElement => el('div', { class: `count ${cls}` }, el('dt', {}, label), el('dd', {}, String(value)));
  $('counts').replaceChildren(
    item(S.active, c.active, 'main'),
    ...c.items.map((i) => item(i.label, i.value)),
    item(S.refusedMinute, c.refused, c.refused > 0 ? 'bad' : ''),
    item(S.failedMinute, c.failed, c.failed > 0 ? 'bad' : ''),
  );
}

function renderPicker(options: ConnectionOption[]): void {
  if (!S) return;
  const pick = $<HTMLSelectElement>('pick');
  const current = selected?.id;
  const list = options.slice();
  if (current !== undefined && !list.some((o) => o.id === current) && selected) list.unshift({ id: current, label: selected.label });
  pick.replaceChildren(
    el('option', { value: '' }, list.length ? S.noSelection : S.noConnection),
    ...list.map((o) => el('option', { value: String(o.id) }, o.label)),
  );
  pick.value = current !== undefined ? String(current) : '';
}

// ---------------------------------------------------------------------------------------------
// Layout

function build(s: TrafficStrings, since: string): void {
  const total = chart('total-chart', 'total-summary');
  totalChart = total.chart;
  const sel = chart('selected-chart', 'selected-summary');
  selChart = sel.chart;
  const legend = (): HTMLElement =>
    el('div', { class: 'legend', 'aria-hidden': 'true' }, el('span', { class: 'key down' }, s.download), el('span', { class: 'key up' }, s.upload));
  const table = (which: 'destinations' | 'users', nameCol: string): HTMLElement =>
    el(
      'div',
      { class: 'table-wrap' },
      el(
        'table',
        { id: which },
        el(
          'thead',
          {},
          el('tr', {}, el('th', { scope: 'col' }, nameCol), el('th', { scope: 'col', class: 'num' }, s.colDown), el('th', { scope: 'col', class: 'num' }, s.colUp), el('th', { scope: 'col', class: 'num' }, s.colConnections), el('th', { scope: 'col', class: 'num' }, s.colFailures)),
        ),
        el('tbody', { id: `${which}-rows` }),
      ),
    );
  const details = el(
    'details',
    { id: 'total-details' },
    el('summary', {}, s.showAsTable),
    el(
      'div',
      { class: 'table-wrap' },
      el('table', {}, el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, s.colTime), el('th', { scope: 'col', class: 'num' }, s.colDown), el('th', { scope: 'col', class: 'num' }, s.colUp))), el('tbody', { id: 'total-rows' })),
    ),
  );
  details.addEventListener('toggle', () => details.open && drawTotalTable());
  const pick = el('select', { id: 'pick' });
  pick.addEventListener('change', () => api.postMessage({ type: 'select', id: pick.value === '' ? null : Number(pick.value) }));
  const exportButton = el('button', { id: 'export', type: 'button', title: s.exportHint }, s.export);
  exportButton.addEventListener('click', () => api.postMessage({ type: 'export' }));

  document.getElementById('app')!.replaceChildren(
    el('header', { class: 'bar' }, el('h1', {}, s.title), el('span', { id: 'since', class: 'since' }, fmt(s.since, since)), exportButton),
    el('p', { id: 'not-running', class: 'notice', role: 'status' }, s.notRunning),
    el(
      'div',
      { class: 'grid' },
      el('section', { class: 'card wide', 'aria-labelledby': 'h-total' }, el('h2', { id: 'h-total' }, s.totalHeading), legend(), total.figure, el('p', { id: 'total-summary', class: 'summary' }), details),
      el('section', { class: 'card', 'aria-labelledby': 'h-now' }, el('h2', { id: 'h-now' }, s.nowHeading), el('dl', { id: 'counts', class: 'counts' })),
      el(
        'section',
        { class: 'card wide', id: 'selected-box', 'aria-labelledby': 'h-selected' },
        el('h2', { id: 'h-selected' }, s.selectedHeading),
        el('label', { class: 'picker' }, el('span', {}, s.connectionPicker), pick),
        legend(),
        sel.figure,
        el('p', { id: 'selected-summary', class: 'summary' }),
      ),
      el('section', { class: 'card wide', 'aria-labelledby': 'h-destinations' }, el('h2', { id: 'h-destinations' }, s.destinationsHeading), table('destinations', s.colDestination)),
      el('section', { class: 'card wide', id: 'users-box', 'aria-labelledby': 'h-users' }, el('h2', { id: 'h-users' }, s.usersHeading), table('users', s.colUser)),
    ),
  );
}

function setState(running: boolean, auth: boolean, since: string): void {
  if (!S) return;
  $('not-running').hidden = running;
  $('users-box').hidden = !auth && tables.users.order.length === 0;
  $('since').textContent = fmt(S.since, since);
}

// ---------------------------------------------------------------------------------------------
// Messages

function onMessage(m: ToWebview): void {
  switch (m.type) {
    case 'init': {
      S = m.strings;
      windowMs = m.windowSeconds * 1000;
      lastAt = m.at;
      total = m.total;
      history = [];
      selected = null;
      tables.destinations = { rows: new Map(), order: [] };
      tables.users = { rows: new Map(), order: [] };
      document.title = S.title;
      build(S, m.since);
      setState(m.running, m.auth, m.since);
      renderTable('destinations');
      renderTable('users');
      renderCounts({ active: 0, items: [], refused: 0, failed: 0 });
      renderPicker([]);
      drawTotal();
      drawSelected();
      document.getElementById('app')!.setAttribute('aria-busy', 'false');
      break;
    }
    case 'state':
      setState(m.running, m.auth, m.since);
      break;
    case 'tick': {
      if (!S) return;
      lastAt = m.at;
      if (m.point) total.push(m.point);
      renderCounts(m.counts);
      if (m.destinations) applyTable('destinations', m.destinations);
      if (m.users) {
        applyTable('users', m.users);
        if (tables.users.order.length > 0) $('users-box').hidden = false;
      }
      if (m.selected !== undefined) {
        selected = m.selected;
        if (!m.selected) history = [];
        else history = m.selected.reset ? m.selected.points : history.concat(m.selected.points);
        drawSelected();
      }
      if (m.connections) renderPicker(m.connections);
      else if (m.selected !== undefined) $<HTMLSelectElement>('pick').value = selected ? String(selected.id) : '';
      drawTotal();
      break;
    }
  }
}

window.addEventListener('message', (e: MessageEvent<ToWebview>) => onMessage(e.data));
api.postMessage({ type: 'ready' });
