// The traffic model (src/engine/traffic.ts): rings, histories, tables and the tracker's ticks.
// The tracker reads a server-shaped source: here a small one whose counters the test moves, so
// that every interval and byte count is exact.
import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  RateHistory,
  Ring,
  TrafficTable,
  TrafficTracker,
  WindowCounter,
  classifyOutcome,
  type LiveSession,
} from '../../src/engine/traffic';
import { CSV_COLUMNS, csvField, reportToCsv, reportToJson, summaryLine, tableText, trafficReport, type TrafficReport } from '../../src/engine/trafficReport';
import type { ClosedConnectionInfo, Command, Destination, Outcome, Protocol } from '../../src/engine/types';

interface FakeSession {
  id: number;
  bytesUp: number;
  bytesDown: number;
  startedAt: number;
  destination?: Destination;
  user?: string;
  command?: Command;
  protocol?: Protocol;
}

class FakeServer extends EventEmitter {
  readonly sessions = new Map<number, FakeSession>();
  refused = 0;
  private nextId = 1;
  constructor(private readonly clock: { t: number }) {
    super();
  }
  liveSessions(): Iterable<LiveSession> {
    return this.sessions.values();
  }
  connections(): LiveSession[] {
    return [...this.sessions.values()].map((s) => ({ ...s }));
  }
  stats(): { refused: number } {
    return { refused: this.refused };
  }
  open(host = 'example.com', port = 443, extra: Partial<FakeSession> = {}): FakeSession {
    const s: FakeSession = {
      id: this.nextId++,
      bytesUp: 0,
      bytesDown: 0,
      startedAt: this.clock.t,
      command: 'connect',
      protocol: 'socks5',
      destination: { type: 'domain', host, port },
      ...extra,
    };
    this.sessions.set(s.id, s);
    return s;
  }
  close(s: FakeSession, outcome: Outcome = { kind: 'closed-by-client', message: 'closed by client' }): void {
    this.sessions.delete(s.id);
    const info: ClosedConnectionInfo = {
      id: s.id,
      client: { host: '127.0.0.1', port: 40000 + s.id },
      bytesUp: s.bytesUp,
      bytesDown: s.bytesDown,
      startedAt: s.startedAt,
      state: 'closed',
      endedAt: this.clock.t,
      outcome,
      ...(s.destination ? { destination: s.destination } : {}),
      ...(s.user !== undefined ? { user: s.user } : {}),
      ...(s.command ? { command: s.command } : {}),
    };
    this.emit('close', info);
  }
}

function setup(options: ConstructorParameters<typeof TrafficTracker>[0] = {}) {
  const clock = { t: 1_000_000 };
  const server = new FakeServer(clock);
  const tracker = new TrafficTracker({ now: () => clock.t, ...options });
  tracker.attach(server);
  const advance = (ms: number): void => {
    clock.t += ms;
  };
  return { clock, server, tracker, advance };
}

describe('Ring', () => {
  it('keeps the last `capacity` records in order across wrap-around', () => {
    const r = new Ring(5, 2);
    for (let i = 0; i < 12; i++) r.push(i, i * 10);
    assert.equal(r.length, 5);
    assert.deepEqual(r.columns(), [
      [7, 8, 9, 10, 11],
      [70, 80, 90, 100, 110],
    ]);
    assert.equal(r.get(0), 7);
    assert.equal(r.get(4, 1), 110);
    assert.ok(Number.isNaN(r.get(5)));
    assert.deepEqual(r.columns(3), [
      [10, 11],
      [100, 110],
    ]);
    assert.equal(r.byteLength, 5 * 2 * 8);
  });
});

describe('RateHistory', () => {
  it('halves its resolution when full, keeping exact byte-weighted averages', () => {
    const h = new RateHistory(0, 4);
    // 1 s ticks: 1000, 3000, 1000, 3000 B/s down; then 2000 B/s for 4 more ticks.
    const rates = [1000, 3000, 1000, 3000, 2000, 2000, 2000, 2000];
    rates.forEach((r, i) => h.add((i + 1) * 1000, r / 10, r));
    assert.ok(h.length <= 4);
    assert.equal(h.ticksPerPoint, 2);
    const pts = h.points();
    assert.deepEqual(
      pts.map((p) => [p.start, p.end, p.down, p.up]),
      [
        [0, 2000, 2000, 200],
        [2000, 4000, 2000, 200],
        [4000, 6000, 2000, 200],
        [6000, 8000, 2000, 200],
      ],
    );
    assert.equal(h.version, 1);
    // Total bytes over the life are preserved.
    const bytes = pts.reduce((sum, p) => sum + (p.down * (p.end - p.start)) / 1000, 0);
    assert.equal(bytes, rates.reduce((a, b) => a + b, 0));
  });

  it('stays within its capacity over a long life (an hour of ticks)', () => {
    const h = new RateHistory(0, 64);
    for (let i = 1; i <= 3600; i++) h.add(i * 1000, 10, 100);
    assert.ok(h.length <= 64 && h.length >= 32, `length ${h.length}`);
    assert.equal(h.byteLength, 64 * 3 * 8);
    for (const p of h.points()) assert.ok(Math.abs(p.down - 100) < 1e-9);
  });
});

describe('WindowCounter', () => {
  it('counts the last minute only', () => {
    const w = new WindowCounter(60);
    w.add(0);
    w.add(500, 2);
    w.add(30_000);
    assert.equal(w.total(30_000), 4);
    assert.equal(w.total(59_999), 4);
    assert.equal(w.total(60_000), 1); // second 0 has left the window
    assert.equal(w.total(90_000), 0);
    w.add(150_000); // the bucket of second 30 is reused for second 150
    assert.equal(w.total(150_000), 1);
  });
});

describe('TrafficTable', () => {
  it('folds the smallest idle rows into "others" beyond its capacity and keeps the sums', () => {
    const t = new TrafficTable(8, 'destination');
    for (let i = 0; i < 100; i++) {
      const r = t.row(`h${i}:80`);
      r.bytesDown += i;
      r.connections++;
    }
    assert.ok(t.size <= 8);
    const rows = t.top();
    const sum = rows.reduce((a, r) => a + r.bytesDown, 0);
    assert.equal(sum, (99 * 100) / 2);
    assert.equal(rows.reduce((a, r) => a + r.connections, 0), 100);
    assert.equal(rows.at(-1)!.kind, 'others');
    assert.equal(rows[0].key, 'h99:80');
  });

  it('never folds a row with an open connection', () => {
    const t = new TrafficTable(4, 'destination');
    const busy = t.row('busy:1');
    busy.active = 1;
    for (let i = 0; i < 50; i++) t.row(`x${i}:1`).bytesDown = 1000 + i;
    assert.ok(t.get('busy:1'));
  });
});

describe('classifyOutcome', () => {
  it('tells policy refusals from failures', () => {
    assert.equal(classifyOutcome({ kind: 'closed-by-target', message: '' }), 'ok');
    assert.equal(classifyOutcome({ kind: 'idle-timeout', message: '' }), 'ok');
    assert.equal(classifyOutcome({ kind: 'auth-failed', message: '' }), 'refused');
    assert.equal(classifyOutcome({ kind: 'reply', reply: 2, message: '' }), 'refused');
    assert.equal(classifyOutcome({ kind: 'reply', reply: 7, message: '' }), 'refused');
    assert.equal(classifyOutcome({ kind: 'reply', reply: 5, message: '' }), 'failed');
    assert.equal(classifyOutcome({ kind: 'handshake-timeout', message: '' }), 'failed');
    // The protocol-neutral failure kind decides when present (SOCKS4 and HTTP replies differ).
    assert.equal(classifyOutcome({ kind: 'reply', reply: 0x5b, failure: 'not-allowed', message: '' }), 'refused');
    assert.equal(classifyOutcome({ kind: 'reply', reply: 0x5b, failure: 'timeout', message: '' }), 'failed');
    assert.equal(classifyOutcome({ kind: 'reply', failure: 'unsupported-command', message: '' }), 'refused');
  });
});

describe('TrafficTracker', () => {
  it('computes total and per-connection rates from the counters between ticks', () => {
    const { server, tracker, advance } = setup();
    const a = server.open('a.test', 80);
    const b = server.open('b.test', 443);
    const first = tracker.tick();
    assert.ok(Number.isNaN(first.rateDown), 'no rate on the first tick');
    advance(1000);
    a.bytesDown += 5000;
    a.bytesUp += 100;
    b.bytesDown += 1000;
    const t = tracker.tick();
    assert.equal(t.dtMs, 1000);
    assert.equal(t.rateDown, 6000);
    assert.equal(t.rateUp, 100);
    assert.equal(tracker.connection(a.id)!.rateDown, 5000);
    assert.equal(tracker.connection(b.id)!.rateDown, 1000);
    advance(500);
    a.bytesDown += 5000;
    const half = tracker.tick();
    assert.equal(half.rateDown, 10_000, 'rate over the real interval, not a nominal second');
    assert.equal(tracker.connection(a.id)!.rateDown, 10_000);
    assert.equal(tracker.connection(b.id)!.rateDown, 0);
    const [ts, up, down] = tracker.total.columns();
    assert.equal(ts.length, 3);
    assert.deepEqual(down.slice(1), [6000, 10_000]);
    assert.deepEqual(up.slice(1), [100, 0]);
    assert.deepEqual(
      tracker.busiest(5).map((c) => c.id),
      [a.id, b.id],
    );
    const totals = tracker.totals();
    assert.equal(totals.bytesDown, 11_000);
    assert.equal(totals.connections, 2);
    assert.equal(totals.active, 2);
  });

  it('counts connections that open and close between two ticks, from their close event', () => {
    const { server, tracker, advance } = setup();
    tracker.tick();
    advance(400);
    const quick = server.open('quick.test', 80);
    quick.bytesDown = 7000;
    quick.bytesUp = 70;
    server.close(quick);
    advance(600);
    const t = tracker.tick();
    assert.equal(t.bytesDown, 7000);
    assert.equal(t.rateDown, 7000);
    const row = tracker.destinations.get('quick.test:80')!;
    assert.deepEqual(
      { down: row.bytesDown, up: row.bytesUp, connections: row.connections, active: row.active, failures: row.failures + row.refusals },
      { down: 7000, up: 70, connections: 1, active: 0, failures: 0 },
    );
    assert.equal(tracker.totals().connections, 1);
    assert.equal(tracker.totals().active, 0);
  });

  it('adds only the bytes since the last tick when a sampled connection closes', () => {
    const { server, tracker, advance } = setup();
    const s = server.open('c.test', 80);
    tracker.tick();
    advance(1000);
    s.bytesDown = 1000;
    tracker.tick();
    advance(300);
    s.bytesDown = 1500;
    server.close(s);
    advance(700);
    const t = tracker.tick();
    assert.equal(t.bytesDown, 500);
    assert.equal(tracker.destinations.get('c.test:80')!.bytesDown, 1500);
    assert.equal(tracker.totals().bytesDown, 1500);
    // Its history stays viewable after it closed.
    const closed = tracker.connection(s.id)!;
    assert.equal(closed.closed, true);
    assert.equal(closed.bytesDown, 1500);
    assert.ok(tracker.history(s.id)!.length >= 1);
  });

  it('leaves a gap instead of a rate after a pause, and keeps the totals', () => {
    const { server, tracker, advance } = setup();
    const s = server.open();
    tracker.tick();
    tracker.pause();
    advance(60_000);
    s.bytesDown = 60_000;
    const t = tracker.tick();
    assert.ok(Number.isNaN(t.rateDown));
    assert.equal(t.bytesDown, 60_000);
    assert.equal(tracker.totals().bytesDown, 60_000);
    // The connection's history spans the pause with the average rate over it.
    const pts = tracker.history(s.id)!.points();
    assert.equal(pts.at(-1)!.down, 1000);
    advance(1000);
    s.bytesDown += 2000;
    assert.equal(tracker.tick().rateDown, 2000);
  });

  it('an unrecorded tick (an export) updates the totals and the next point still has every byte', () => {
    const { server, tracker, advance } = setup();
    const s = server.open();
    tracker.tick();
    advance(500);
    s.bytesDown = 500;
    tracker.tick({ record: false });
    assert.equal(tracker.totals().bytesDown, 500);
    advance(500);
    s.bytesDown = 1000;
    assert.equal(tracker.tick().rateDown, 1000);
    assert.equal(tracker.total.length, 2);
  });

  it('counts failures and refusals per destination, per user and in the last minute', () => {
    const { server, tracker, advance } = setup();
    const refused = server.open('down.test', 80);
    server.close(refused, { kind: 'reply', reply: 5, message: 'connection refused' });
    const denied = server.open('x.test', 25, { user: 'alice' });
    server.close(denied, { kind: 'reply', reply: 2, message: 'not allowed' });
    const noDest = server.open('', 0, { command: undefined });
    delete noDest.destination;
    server.close(noDest, { kind: 'auth-failed', message: 'auth failed' });
    server.refused = 3; // three clients turned away at maxConnections
    tracker.tick();
    let c = tracker.counts();
    assert.equal(c.failedLastMinute, 1);
    assert.equal(c.refusedLastMinute, 5);
    assert.equal(tracker.destinations.get('down.test:80')!.failures, 1);
    assert.equal(tracker.users.get('alice')!.refusals, 1);
    assert.equal(tracker.users.get('alice')!.failures, 0);
    assert.equal(tracker.users.get('alice')!.connections, 1);
    assert.deepEqual({ r: tracker.totals().refusals, f: tracker.totals().failures }, { r: 5, f: 1 });
    advance(61_000);
    c = tracker.counts();
    assert.equal(c.failedLastMinute + c.refusedLastMinute, 0);
    assert.equal(tracker.totals().failures, 1, 'totals since start stay');
  });

  it('counts active sessions per command and protocol, learning what they name later', () => {
    const { server, tracker } = setup();
    server.open('a.test', 80);
    server.open('b.test', 80, { command: 'bind' });
    const pending = server.open('', 0, { command: undefined, protocol: undefined });
    delete pending.destination;
    server.open('0.0.0.0', 0, { command: 'udpAssociate' });
    tracker.tick();
    const c = tracker.counts();
    assert.deepEqual(c.byCommand, { connect: 1, bind: 1, handshake: 1, udpAssociate: 1 });
    assert.deepEqual(c.byProtocol, { socks5: 3 }, 'the pending one has not told its protocol yet');
    assert.equal(tracker.destinations.get('udp')!.kind, 'udp');
    // The handshake finishes: the next tick puts it under its destination.
    pending.command = 'connect';
    pending.destination = { type: 'domain', host: 'late.test', port: 443 };
    pending.bytesDown = 10;
    tracker.tick();
    assert.equal(tracker.destinations.get('late.test:443')!.bytesDown, 10);
    assert.equal(tracker.counts().byCommand.handshake, undefined);
  });

  it('stays bounded with 10,000 connections: histories, tables and closed histories are capped', () => {
    const { server, tracker, advance } = setup({ maxHistories: 1000, tableSize: 500, keepClosed: 16 });
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    let expectedDown = 0;
    for (let round = 0; round < 2; round++) {
      const open: FakeSession[] = [];
      for (let i = 0; i < 10_000; i++) open.push(server.open(`host${round}-${i}.test`, 443));
      for (let tick = 0; tick < 3; tick++) {
        advance(1000);
        for (const s of open) {
          s.bytesDown += 100;
          expectedDown += 100;
        }
        tracker.tick();
      }
      const f = tracker.footprint();
      assert.equal(f.live, 10_000);
      assert.ok(f.histories <= 1000, `histories ${f.histories}`);
      for (const s of open) server.close(s);
      advance(1000);
      tracker.tick();
      const after = tracker.footprint();
      assert.equal(after.live, 0);
      assert.equal(after.histories, 0);
      assert.ok(after.closedKept <= 16);
      assert.ok(after.destinations <= 500, `destinations ${after.destinations}`);
    }
    // Nothing was lost by folding rows: the table (with "others") still sums to the totals.
    const rows = tracker.destinations.top();
    assert.equal(
      rows.reduce((a, r) => a + r.bytesDown, 0),
      expectedDown,
    );
    assert.equal(tracker.totals().bytesDown, expectedDown);
    assert.equal(tracker.totals().connections, 20_000);
    assert.equal(rows.reduce((a, r) => a + r.connections, 0), 20_000);
    assert.ok(rows.length <= 501);
    // 20,000 sessions came and went; what stays is bounded (well under 10 MB of heap).
    gc();
    const grown = process.memoryUsage().heapUsed - heap0;
    assert.ok(grown < 10 * 1024 * 1024, `heap grew ${grown} bytes`);
    assert.ok(tracker.footprint().bytes < 2 * 1024 * 1024);
  });

  it('a pinned (selected) connection gets a history even when every slot is taken', () => {
    const { server, tracker, advance } = setup({ maxHistories: 2 });
    const a = server.open('a.test', 1);
    const b = server.open('b.test', 1);
    tracker.tick();
    const c = server.open('c.test', 1);
    advance(1000);
    tracker.tick();
    assert.ok(tracker.history(a.id) && tracker.history(b.id));
    assert.equal(tracker.history(c.id), undefined);
    tracker.pin(c.id);
    advance(1000);
    c.bytesDown = 1000;
    tracker.tick();
    assert.equal(tracker.history(c.id)!.points().at(-1)!.down, 1000);
  });

  it('stops following a detached source', () => {
    const { server, tracker } = setup();
    tracker.detach();
    const s = server.open();
    s.bytesDown = 5;
    server.close(s);
    tracker.tick();
    assert.equal(tracker.totals().bytesDown, 0);
    assert.equal(server.listenerCount('close'), 0);
  });
});

describe('traffic report (CSV, JSON, CLI text)', () => {
  it('quotes CSV fields per RFC 4180 and defuses spreadsheet formulas', () => {
    assert.equal(csvField('example.com:443'), 'example.com:443');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(csvField(' edge'), '" edge"');
    assert.equal(csvField('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvField('@cmd'), "'@cmd");
    assert.equal(csvField(52428800), '52428800');
    assert.equal(csvField(NaN), '');
  });

  it('writes totals, destinations and users as one CSV table and as JSON with the same numbers', () => {
    const { server, tracker, advance } = setup();
    const s = server.open('evil,"name".test', 80, { user: 'bob' });
    s.bytesDown = 52_428_800;
    s.bytesUp = 120;
    server.close(s);
    server.close(server.open('down.test', 81), { kind: 'reply', reply: 5, message: 'refused' });
    advance(1000);
    tracker.tick();
    const report = trafficReport(tracker, 1_001_000);
    const csv = reportToCsv(report);
    const lines = csv.split('\r\n');
    assert.equal(lines[0], CSV_COLUMNS.join(','));
    assert.match(lines[1], /^total,since 1970-01-01T00:16:40\.000Z,120,52428800,2,0,1,0$/);
    assert.equal(lines[2], 'destination,"evil,""name"".test:80",120,52428800,1,0,0,0');
    assert.equal(lines[3], 'destination,down.test:81,0,0,1,0,1,0');
    assert.equal(lines[4], 'user,bob,120,52428800,1,0,0,0');
    assert.equal(lines[5], '');
    const json = JSON.parse(reportToJson(report)) as TrafficReport;
    assert.equal(json.totals.bytesDown, 52_428_800);
    assert.equal(json.destinations[0].key, 'evil,"name".test:80');
    assert.equal(json.destinations[0].bytesDown, 52_428_800);
    assert.equal(json.users[0].key, 'bob');
  });

  it('summarizes a tick in one line and prints tables aligned', () => {
    const { server, tracker, advance } = setup();
    tracker.tick();
    const s = server.open('a.test', 443);
    server.open('', 0, { command: 'udpAssociate' });
    advance(1000);
    s.bytesDown = 3 * 1024 * 1024;
    const line = summaryLine(tracker.tick(), tracker.totals(), tracker.counts());
    assert.equal(
      line,
      'traffic: ↑ 0 B/s ↓ 3.0 MiB/s · active 2 (SOCKS5 2; CONNECT 1, UDP ASSOCIATE 1) · since start 2 connections, ↑ 0 B ↓ 3.0 MiB · last minute 0 refused, 0 failed',
    );
    const text = tableText('by destination:', tracker.destinations.top(), 'destination');
    assert.deepEqual(text.split('\n'), [
      'by destination:',
      '  destination                down   up  connections  active  failed  refused',
      '  a.test:443              3.0 MiB  0 B            1       1       0        0',
      '  UDP (all associations)      0 B  0 B            1       1       0        0',
    ]);
  });
});
