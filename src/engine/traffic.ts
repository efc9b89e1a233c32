// Host-free traffic model, shared by the extension's Traffic panel and the CLI's --stats-interval:
// a sampler that, when its owner ticks it (once a second while someone looks), reads every live
// session's byte counters, and keeps
// - the total up/down rate in a fixed ring (5 minutes at 1 s);
// - each live connection's rate over its life (a bounded history per connection that halves its
//   resolution when full; at most `maxHistories` of them at once);
// - per-destination and per-user totals since the proxy started (bytes, connections, failures),
//   in a bounded table (the smallest finished rows fold into "others");
// - the counts of now (active per protocol and command, refusals and failures in the last minute).
//
// Nothing here runs per data chunk: a tick reads counters the sockets keep anyway, and a closed
// session's final counts come from the server's 'close' event (which it emits in any case).
// Connections that open and close between two ticks are counted from their 'close' alone.

import { formatHostPort } from './address';
import type { ClosedConnectionInfo, Command, Destination, FailureKind, Outcome, Protocol } from './types';

// ---------------------------------------------------------------------------------------------
// What the tracker reads

/** What a tick reads of one live session; the server hands out its sessions as these (no copy). */
export interface LiveSession {
  readonly id: number;
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly startedAt: number;
  readonly destination?: Destination | undefined;
  readonly user?: string | undefined;
  readonly command?: Command | undefined;
  readonly protocol?: Protocol | undefined;
}

/** The server as the tracker sees it (Socks5Server fits). */
export interface TrafficSource {
  /** Live sessions without a snapshot each (preferred when present). */
  liveSessions?(): Iterable<LiveSession>;
  /** Snapshots of the live sessions (used when liveSessions is absent). */
  connections(): Iterable<LiveSession>;
  /** Clients turned away before they became a session (maxConnections, client allow-list), cheaply. */
  readonly refusedCount?: number;
  /** The same through stats() (used when refusedCount is absent). */
  stats(): { refused?: number; clientsRefused?: number };
  on(event: 'close', listener: (info: ClosedConnectionInfo) => void): unknown;
  off(event: 'close', listener: (info: ClosedConnectionInfo) => void): unknown;
}

// ---------------------------------------------------------------------------------------------
// Fixed-size storage

/** A ring of `capacity` records of `width` numbers each; the oldest record is overwritten. */
export class Ring {
  private readonly data: Float64Array;
  private head = 0;
  private count = 0;

  constructor(
    readonly capacity: number,
    readonly width: number,
  ) {
    this.data = new Float64Array(capacity * width);
  }

  get length(): number {
    return this.count;
  }

  push(...values: number[]): void {
    const at = ((this.head + this.count) % this.capacity) * this.width;
    for (let i = 0; i < this.width; i++) this.data[at + i] = values[i] ?? NaN;
    if (this.count < this.capacity) this.count++;
    else this.head = (this.head + 1) % this.capacity;
  }

  /** Field `field` of the i-th oldest record. */
  get(i: number, field = 0): number {
    if (i < 0 || i >= this.count) return NaN;
    return this.data[((this.head + i) % this.capacity) * this.width + field];
  }

  /** One array per field, oldest first. */
  columns(from = 0): number[][] {
    const out: number[][] = [];
    for (let f = 0; f < this.width; f++) {
      const col: number[] = [];
      for (let i = Math.max(0, from); i < this.count; i++) col.push(this.get(i, f));
      out.push(col);
    }
    return out;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }

  /** Bytes held (fixed at construction). */
  get byteLength(): number {
    return this.data.byteLength;
  }
}

/** A point of a rate series: the interval (start, end] in ms since epoch and its rates in B/s. */
export interface RatePoint {
  start: number;
  end: number;
  up: number;
  down: number;
}

/**
 * One connection's rate over its whole life in at most `capacity` points: when full, neighbouring
 * points merge in pairs (byte-weighted, so rates stay exact averages) and each new point then
 * spans twice as many ticks. A long download keeps its shape at a coarser grain; memory is fixed.
 */
export class RateHistory {
  private readonly data: Float64Array; // per point: end (ms), bytes up, bytes down
  private n = 0;
  /** Ticks per point. */
  private step = 1;
  private pendingTicks = 0;
  private pendingUp = 0;
  private pendingDown = 0;
  /** Bumped whenever existing points change (a merge): a viewer must reload them. */
  version = 0;

  constructor(
    /** Start of the first point (ms): when the history started. */
    readonly start: number,
    readonly capacity = 64,
  ) {
    if (capacity < 4 || capacity % 2 !== 0) throw new RangeError('capacity must be even and ≥ 4');
    this.data = new Float64Array(capacity * 3);
  }

  get length(): number {
    return this.n;
  }

  get ticksPerPoint(): number {
    return this.step;
  }

  /** One tick's bytes, ending at `end`. True when a point was completed. */
  add(end: number, bytesUp: number, bytesDown: number): boolean {
    // Full: halve first, so that this tick already starts a point of the new, coarser step.
    if (this.n === this.capacity && this.pendingTicks === 0) this.halve();
    this.pendingUp += bytesUp;
    this.pendingDown += bytesDown;
    if (++this.pendingTicks < this.step) return false;
    const at = this.n * 3;
    this.data[at] = end;
    this.data[at + 1] = this.pendingUp;
    this.data[at + 2] = this.pendingDown;
    this.n++;
    this.pendingTicks = 0;
    this.pendingUp = 0;
    this.pendingDown = 0;
    return true;
  }

  private halve(): void {
    const d = this.data;
    for (let i = 0; i < this.n / 2; i++) {
      const a = 2 * i * 3;
      const b = a + 3;
      d[i * 3] = d[b]!;
      d[i * 3 + 1] = d[a + 1] + d[b + 1];
      d[i * 3 + 2] = d[a + 2] + d[b + 2];
    }
    this.n /= 2;
    this.step *= 2;
    this.version++;
  }

  /** Points from index `from` on. */
  points(from = 0): RatePoint[] {
    const out: RatePoint[] = [];
    for (let i = Math.max(0, from); i < this.n; i++) {
      const start = i === 0 ? this.start : this.data[(i - 1) * 3];
      const end = this.data[i * 3];
      const s = Math.max(1, end - start) / 1000;
      out.push({ start, end, up: this.data[i * 3 + 1] / s, down: this.data[i * 3 + 2] / s });
    }
    return out;
  }

  get byteLength(): number {
    return this.data.byteLength;
  }
}

/** Events per second over the last `seconds`, in fixed buckets indexed by the second. */
export class WindowCounter {
  private readonly counts: Float64Array;
  private readonly stamps: Float64Array;

  constructor(readonly seconds = 60) {
    this.counts = new Float64Array(seconds);
    this.stamps = new Float64Array(seconds).fill(-1);
  }

  add(now: number, n = 1): void {
    const sec = Math.floor(now / 1000);
    const i = sec % this.seconds;
    if (this.stamps[i] !== sec) {
      this.stamps[i] = sec;
      this.counts[i] = 0;
    }
    this.counts[i] += n;
  }

  /** Events in the last `seconds` seconds before `now` (this second included). */
  total(now: number): number {
    const sec = Math.floor(now / 1000);
    let sum = 0;
    for (let i = 0; i < this.seconds; i++) {
      const s = this.stamps[i];
      if (s > sec - this.seconds && s <= sec) sum += this.counts[i];
    }
    return sum;
  }
}

// ---------------------------------------------------------------------------------------------
// Tables

export type RowKind = 'destination' | 'udp' | 'user' | 'others';

/** A per-destination or per-user total since the proxy started. */
export interface TrafficRow {
  /** `host:port`, a user name, `udp` (every UDP association) or `others` (folded rows). */
  key: string;
  kind: RowKind;
  bytesUp: number;
  bytesDown: number;
  /** Connections that named this destination / logged in as this user, ever. */
  connections: number;
  /** Of those, open now. */
  active: number;
  /** Ended with a failure (the target refused or was unreachable, a timeout, an error…). */
  failures: number;
  /** Turned away by this proxy's policy (auth failed, command not allowed…). */
  refusals: number;
}

/**
 * Rows by key, at most about `capacity` of them: past it, the smallest rows without an open
 * connection are folded into one `others` row (their sums are kept, their names dropped).
 */
export class TrafficTable {
  private readonly rows = new Map<string, TrafficRow>();
  readonly others: TrafficRow;

  constructor(
    readonly capacity: number,
    private readonly kind: Exclude<RowKind, 'others'>,
  ) {
    this.others = { key: 'others', kind: 'others', bytesUp: 0, bytesDown: 0, connections: 0, active: 0, failures: 0, refusals: 0 };
  }

  get size(): number {
    return this.rows.size;
  }

  /** The row for `key`, made if needed (a new row may fold old ones). */
  row(key: string, kind: Exclude<RowKind, 'others'> = this.kind): TrafficRow {
    let r = this.rows.get(key);
    if (!r) {
      if (this.rows.size >= this.capacity) this.prune();
      r = { key, kind, bytesUp: 0, bytesDown: 0, connections: 0, active: 0, failures: 0, refusals: 0 };
      this.rows.set(key, r);
    }
    return r;
  }

  get(key: string): TrafficRow | undefined {
    return this.rows.get(key);
  }

  /** Folds rows once over capacity (rows of open connections wait until those close). */
  trim(): void {
    if (this.rows.size > this.capacity) this.prune();
  }

  /** Folds the smallest idle rows into `others` until a quarter of the capacity is free. */
  private prune(): void {
    const idle = [...this.rows.values()].filter((r) => r.active === 0);
    idle.sort((a, b) => a.bytesUp + a.bytesDown - (b.bytesUp + b.bytesDown) || a.connections - b.connections);
    const target = Math.floor(this.capacity * 0.75);
    const o = this.others;
    for (const r of idle) {
      if (this.rows.size <= target) break;
      this.rows.delete(r.key);
      o.bytesUp += r.bytesUp;
      o.bytesDown += r.bytesDown;
      o.connections += r.connections;
      o.failures += r.failures;
      o.refusals += r.refusals;
    }
  }

  /** The top `limit` rows by bytes (then connections), and `others` when it holds anything. */
  top(limit = Infinity): TrafficRow[] {
    const all = [...this.rows.values()].sort(
      (a, b) => b.bytesUp + b.bytesDown - (a.bytesUp + a.bytesDown) || b.connections - a.connections || (a.key < b.key ? -1 : 1),
    );
    const out = all.slice(0, limit);
    if (all.length > out.length) {
      // What does not fit in `limit` is shown summed, with what was folded earlier.
      const rest = { ...this.others };
      for (const r of all.slice(out.length)) {
        rest.bytesUp += r.bytesUp;
        rest.bytesDown += r.bytesDown;
        rest.connections += r.connections;
        rest.active += r.active;
        rest.failures += r.failures;
        rest.refusals += r.refusals;
      }
      out.push(rest);
    } else if (this.others.connections > 0) {
      out.push({ ...this.others });
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Outcomes

/** How a session ended, for the counters: fine, refused by this proxy's policy, or failed. */
export type OutcomeClass = 'ok' | 'refused' | 'failed';

const refusedOf = (s: TrafficSource): number => {
  if (s.refusedCount !== undefined) return s.refusedCount;
  const st = s.stats();
  return (st.refused ?? 0) + (st.clientsRefused ?? 0);
};

/** Failures that mean "this proxy would not" rather than "it could not". */
const REFUSALS: ReadonlySet<FailureKind> = new Set<FailureKind>(['not-allowed', 'unsupported-command', 'unsupported-address']);
/** The same as SOCKS5 replies (an outcome without a failure kind). */
const REFUSAL_REPLIES = new Set([0x02, 0x07, 0x08]);

export function classifyOutcome(outcome: Outcome): OutcomeClass {
  switch (outcome.kind) {
    case 'closed':
    case 'closed-by-client':
    case 'closed-by-target':
    case 'closed-by-user':
    case 'idle-timeout':
      return 'ok';
    case 'auth-failed':
    case 'no-acceptable-method':
      return 'refused';
    case 'reply':
      if (outcome.failure) return REFUSALS.has(outcome.failure) ? 'refused' : 'failed';
      return REFUSAL_REPLIES.has(outcome.reply ?? 1) ? 'refused' : 'failed';
    default:
      return 'failed';
  }
}

// ---------------------------------------------------------------------------------------------
// The tracker

export interface TrafficOptions {
  /** Seconds of total rate kept at 1 s (default 300). */
  windowSeconds?: number;
  /** Points per connection history (default 64). */
  historyPoints?: number;
  /** Connections with a history at once (default 1,000); others get one when a slot frees. */
  maxHistories?: number;
  /** Rows per table before the smallest fold into "others" (default 500). */
  tableSize?: number;
  /** Closed connections whose history stays viewable (default 16). */
  keepClosed?: number;
  /** Clock (ms since epoch); tests pass their own. */
  now?: () => number;
}

/** A tick later than this after the previous one leaves a gap in the total series, not a point. */
const GAP_MS = 3000;

/** The destination row key of a session (`host:port`, or `udp` for every UDP association). */
export function destinationKey(s: Pick<LiveSession, 'command' | 'destination'>): string | undefined {
  if (s.command === 'udpAssociate') return 'udp';
  return s.destination ? formatHostPort(s.destination.host, s.destination.port) : undefined;
}

interface Rec {
  id: number;
  startedAt: number;
  /** Counters at the last tick (what is already in the totals). */
  up: number;
  down: number;
  rateUp: number;
  rateDown: number;
  dest: TrafficRow | undefined;
  user: TrafficRow | undefined;
  command: Command | undefined;
  protocol: Protocol | undefined;
  history: RateHistory | undefined;
  /** The tick that last saw it (sweeps sessions that vanished without a 'close'). */
  seen: number;
}

export interface TickResult {
  /** When this tick ran and how long since the previous one (0 for the first). */
  at: number;
  dtMs: number;
  /** Bytes moved since the previous tick (closed sessions included). */
  bytesUp: number;
  bytesDown: number;
  /** A point of the total series (tick() without `record: false`). */
  recorded: boolean;
  /** B/s over dtMs; NaN on the first tick and after pause() (nobody was sampling). */
  rateUp: number;
  rateDown: number;
}

export interface NowCounts {
  active: number;
  /** Active sessions per protocol (once their first bytes told) and per command (`handshake` before the request). */
  byProtocol: Partial<Record<Protocol, number>>;
  byCommand: Partial<Record<Command | 'handshake', number>>;
  refusedLastMinute: number;
  failedLastMinute: number;
}

export interface TrafficTotals {
  /** When the tracker started (the proxy start). */
  since: number;
  bytesUp: number;
  bytesDown: number;
  connections: number;
  active: number;
  refusals: number;
  failures: number;
}

export interface ConnectionSummary {
  id: number;
  destination?: string;
  user?: string;
  command?: Command;
  protocol?: Protocol;
  startedAt: number;
  bytesUp: number;
  bytesDown: number;
  rateUp: number;
  rateDown: number;
  closed: boolean;
  /** When it ended (closed connections). */
  endedAt?: number;
}

interface Kept {
  summary: ConnectionSummary;
  history: RateHistory | undefined;
}

export class TrafficTracker {
  readonly since: number;
  private readonly now: () => number;
  private readonly historyPoints: number;
  private readonly maxHistories: number;
  private readonly keepClosed: number;
  private readonly recs = new Map<number, Rec>();
  /** Per tick: end (ms), up B/s, down B/s (NaN for a gap). */
  readonly total: Ring;
  readonly destinations: TrafficTable;
  readonly users: TrafficTable;
  private readonly refusedWindow = new WindowCounter(60);
  private readonly failedWindow = new WindowCounter(60);
  private readonly closedKept = new Map<number, Kept>();
  private histories = 0;
  private tickNo = 0;
  private lastTick: number | undefined;
  /** Bytes of closed sessions (and of unrecorded ticks) since the last tick: not yet in a total point. */
  private closedUp = 0;
  private closedDown = 0;
  private bytesUp = 0;
  private bytesDown = 0;
  private connectionCount = 0;
  private refusals = 0;
  private failures = 0;
  private sourceRefused = 0;
  private source: TrafficSource | undefined;
  private pinned: number | undefined;
  private readonly onClose = (info: ClosedConnectionInfo): void => this.closed(info);
  /** Time spent in tick(), for the benchmark. */
  readonly cost = { ticks: 0, ms: 0 };

  constructor(options: TrafficOptions = {}) {
    this.now = options.now ?? Date.now;
    this.since = this.now();
    this.total = new Ring(options.windowSeconds ?? 300, 3);
    this.historyPoints = options.historyPoints ?? 64;
    this.maxHistories = options.maxHistories ?? 1000;
    this.keepClosed = options.keepClosed ?? 16;
    this.destinations = new TrafficTable(options.tableSize ?? 500, 'destination');
    this.users = new TrafficTable(options.tableSize ?? 500, 'user');
  }

  /** Follows `source`'s sessions (its 'close' events now; its counters at every tick). */
  attach(source: TrafficSource): () => void {
    this.detach();
    this.source = source;
    source.on('close', this.onClose);
    this.sourceRefused = refusedOf(source);
    return () => this.detach();
  }

  detach(): void {
    this.source?.off('close', this.onClose);
    this.source = undefined;
  }

  /**
   * Reads every live session's counters: rates, histories and totals. `record: false` updates the
   * totals only (an export while nobody samples) and leaves no point in the series.
   */
  tick(options: { record?: boolean } = {}): TickResult {
    const t0 = performance.now();
    const at = this.now();
    const record = options.record !== false;
    const dtMs = this.lastTick === undefined ? 0 : Math.max(0, at - this.lastTick);
    const rated = this.lastTick !== undefined && dtMs > 0;
    const no = ++this.tickNo;
    let up = this.closedUp;
    let down = this.closedDown;
    this.closedUp = 0;
    this.closedDown = 0;
    const src = this.source;
    if (src) {
      const live = src.liveSessions ? src.liveSessions() : src.connections();
      for (const s of live) {
        let r = this.recs.get(s.id);
        if (!r) r = this.open(s);
        else if (r.dest === undefined || r.user === undefined || r.command === undefined || r.protocol === undefined) this.learn(r, s);
        r.seen = no;
        const du = s.bytesUp - r.up;
        const dd = s.bytesDown - r.down;
        r.up = s.bytesUp;
        r.down = s.bytesDown;
        if (du !== 0 || dd !== 0) this.addBytes(r, du, dd);
        up += du;
        down += dd;
        if (record) {
          r.rateUp = rated ? (du * 1000) / dtMs : 0;
          r.rateDown = rated ? (dd * 1000) / dtMs : 0;
          if (!r.history && (this.histories < this.maxHistories || r.id === this.pinned)) {
            r.history = new RateHistory(Math.max(r.startedAt, this.lastTick ?? r.startedAt), this.historyPoints);
            this.histories++;
          }
        }
        r.history?.add(at, du, dd);
      }
      // Sessions gone without a 'close' (never expected): forget them.
      if (this.recs.size > 0) for (const r of this.recs.values()) if (r.seen !== no) this.forget(r);
      const refused = refusedOf(src);
      if (refused > this.sourceRefused) {
        const n = refused - this.sourceRefused;
        this.refusals += n;
        this.refusedWindow.add(at, n);
      }
      this.sourceRefused = refused;
    }
    const result: TickResult = {
      at,
      dtMs,
      recorded: record,
      bytesUp: up,
      bytesDown: down,
      rateUp: rated ? (up * 1000) / dtMs : NaN,
      rateDown: rated ? (down * 1000) / dtMs : NaN,
    };
    this.destinations.trim();
    this.users.trim();
    if (record) {
      const gap = dtMs > GAP_MS;
      this.total.push(at, gap ? NaN : result.rateUp, gap ? NaN : result.rateDown);
      this.lastTick = at;
    } else {
      // Not a point of the series: the next recorded tick reports these bytes in its interval.
      this.closedUp += up;
      this.closedDown += down;
    }
    this.cost.ticks++;
    this.cost.ms += performance.now() - t0;
    return result;
  }

  /** Marks the end of sampling: the next tick starts a new stretch (no rate across the pause). */
  pause(): void {
    this.lastTick = undefined;
  }

  /** A session ended (the server's 'close' event): its last bytes and how it ended. */
  closed(info: ClosedConnectionInfo): void {
    const at = this.now();
    const r = this.recs.get(info.id) ?? this.open(info);
    this.learn(r, info);
    const du = info.bytesUp - r.up;
    const dd = info.bytesDown - r.down;
    this.addBytes(r, du, dd);
    this.closedUp += du;
    this.closedDown += dd;
    const cls = classifyOutcome(info.outcome);
    if (cls === 'refused') {
      this.refusals++;
      this.refusedWindow.add(at);
      if (r.dest) r.dest.refusals++;
      if (r.user) r.user.refusals++;
    } else if (cls === 'failed') {
      this.failures++;
      this.failedWindow.add(at);
      if (r.dest) r.dest.failures++;
      if (r.user) r.user.failures++;
    }
    const summary = this.summaryOf(r, info.bytesUp, info.bytesDown, true);
    summary.endedAt = info.endedAt;
    this.forget(r);
    if (r.history) {
      // Keep the last few closed histories: a selected connection stays viewable after it ends.
      this.closedKept.set(r.id, { summary, history: r.history });
      if (this.closedKept.size > this.keepClosed) this.closedKept.delete(this.closedKept.keys().next().value!);
    }
  }

  /** Keeps a history for `id` even when the history slots are full (the selected connection). */
  pin(id: number | undefined): void {
    this.pinned = id;
  }

  // --- reading ---------------------------------------------------------------------------------

  totals(): TrafficTotals {
    return {
      since: this.since,
      bytesUp: this.bytesUp,
      bytesDown: this.bytesDown,
      connections: this.connectionCount,
      active: this.recs.size,
      refusals: this.refusals,
      failures: this.failures,
    };
  }

  counts(): NowCounts {
    const byProtocol: NowCounts['byProtocol'] = {};
    const byCommand: NowCounts['byCommand'] = {};
    for (const r of this.recs.values()) {
      if (r.protocol !== undefined) byProtocol[r.protocol] = (byProtocol[r.protocol] ?? 0) + 1;
      const c = r.command ?? 'handshake';
      byCommand[c] = (byCommand[c] ?? 0) + 1;
    }
    const at = this.now();
    return {
      active: this.recs.size,
      byProtocol,
      byCommand,
      refusedLastMinute: this.refusedWindow.total(at),
      failedLastMinute: this.failedWindow.total(at),
    };
  }

  /** The live connection's (or a recently closed one's) figures. */
  connection(id: number): ConnectionSummary | undefined {
    const r = this.recs.get(id);
    if (r) return this.summaryOf(r, r.up, r.down, false);
    return this.closedKept.get(id)?.summary;
  }

  history(id: number): RateHistory | undefined {
    return this.recs.get(id)?.history ?? this.closedKept.get(id)?.history;
  }

  /** Live connections, busiest first (rate, then bytes), at most `limit`. */
  busiest(limit: number): ConnectionSummary[] {
    const all = [...this.recs.values()];
    all.sort((a, b) => b.rateUp + b.rateDown - (a.rateUp + a.rateDown) || b.up + b.down - (a.up + a.down) || a.id - b.id);
    return all.slice(0, limit).map((r) => this.summaryOf(r, r.up, r.down, false));
  }

  /** For tests and the benchmark: what the tracker holds. */
  footprint(): { live: number; histories: number; closedKept: number; destinations: number; users: number; bytes: number } {
    return {
      live: this.recs.size,
      histories: this.histories,
      closedKept: this.closedKept.size,
      destinations: this.destinations.size,
      users: this.users.size,
      bytes: this.total.byteLength + (this.histories + this.closedKept.size) * this.historyPoints * 24,
    };
  }

  // --- internals -------------------------------------------------------------------------------

  private open(s: LiveSession): Rec {
    const r: Rec = {
      id: s.id,
      startedAt: s.startedAt,
      up: 0,
      down: 0,
      rateUp: 0,
      rateDown: 0,
      dest: undefined,
      user: undefined,
      command: undefined,
      protocol: undefined,
      history: undefined,
      seen: this.tickNo,
    };
    this.recs.set(s.id, r);
    this.connectionCount++;
    this.learn(r, s);
    return r;
  }

  /** Picks up what a session learnt since (its command, destination, user, protocol). */
  private learn(r: Rec, s: LiveSession): void {
    if (r.command === undefined && s.command !== undefined) r.command = s.command;
    if (r.protocol === undefined && s.protocol !== undefined) r.protocol = s.protocol;
    if (r.dest === undefined) {
      const key = destinationKey(s);
      if (key !== undefined) {
        r.dest = this.destinations.row(key, key === 'udp' && s.command === 'udpAssociate' ? 'udp' : 'destination');
        r.dest.connections++;
        r.dest.active++;
        this.addTo(r.dest, r.up, r.down);
      }
    }
    if (r.user === undefined && s.user !== undefined) {
      r.user = this.users.row(s.user);
      r.user.connections++;
      r.user.active++;
      this.addTo(r.user, r.up, r.down);
    }
  }

  private addBytes(r: Rec, du: number, dd: number): void {
    this.bytesUp += du;
    this.bytesDown += dd;
    if (r.dest) this.addTo(r.dest, du, dd);
    if (r.user) this.addTo(r.user, du, dd);
  }

  private addTo(row: TrafficRow, du: number, dd: number): void {
    row.bytesUp += du;
    row.bytesDown += dd;
  }

  private forget(r: Rec): void {
    if (!this.recs.delete(r.id)) return;
    if (r.dest) r.dest.active--;
    if (r.user) r.user.active--;
    if (r.history) this.histories--;
  }

  private summaryOf(r: Rec, up: number, down: number, closed: boolean): ConnectionSummary {
    const s: ConnectionSummary = {
      id: r.id,
      startedAt: r.startedAt,
      bytesUp: up,
      bytesDown: down,
      rateUp: closed ? 0 : r.rateUp,
      rateDown: closed ? 0 : r.rateDown,
      closed,
    };
    if (r.dest) s.destination = r.dest.key;
    if (r.user) s.user = r.user.key;
    if (r.command) s.command = r.command;
    if (r.protocol) s.protocol = r.protocol;
    return s;
  }
}
