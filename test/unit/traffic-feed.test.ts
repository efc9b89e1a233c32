// The Traffic webview's messages (src/vscode/trafficFeed.ts): an init with the whole series, then
// per tick only what changed (the new point, moved rows, picker changes, new history points).
import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { TrafficTracker, type LiveSession } from '../../src/engine/traffic';
import type { ClosedConnectionInfo } from '../../src/engine/types';
import { TrafficFeed } from '../../src/vscode/trafficFeed';
import type { ToWebview, TrafficStrings } from '../../src/vscode/trafficProtocol';

type Tick = Extract<ToWebview, { type: 'tick' }>;

class Source extends EventEmitter {
  readonly live = new Map<number, LiveSession & { bytesDown: number; bytesUp: number }>();
  liveSessions(): Iterable<LiveSession> {
    return this.live.values();
  }
  connections(): LiveSession[] {
    return [...this.live.values()];
  }
  stats(): { refused: number } {
    return { refused: 0 };
  }
}

function setup() {
  const clock = { t: 5_000_000 };
  const src = new Source();
  const tracker = new TrafficTracker({ now: () => clock.t, historyPoints: 4 });
  tracker.attach(src);
  const feed = new TrafficFeed((id) => id.toUpperCase());
  const open = (id: number, host: string) => {
    const s = { id, bytesUp: 0, bytesDown: 0, startedAt: clock.t, command: 'connect' as const, protocol: 'socks5' as const, destination: { type: 'domain' as const, host, port: 443 } };
    src.live.set(id, s);
    return s;
  };
  const step = (): Tick => {
    clock.t += 1000;
    return feed.tick(tracker, tracker.tick());
  };
  return { clock, src, tracker, feed, open, step };
}

describe('TrafficFeed', () => {
  it('sends the whole series once, then one point and only the rows that changed', () => {
    const { tracker, feed, open, step } = setup();
    const a = open(1, 'a.test');
    open(2, 'b.test');
    tracker.tick();
    const first = step();
    assert.equal(first.destinations!.rows.length, 2);
    assert.deepEqual(first.destinations!.order, ['destination:a.test:443', 'destination:b.test:443']);
    assert.deepEqual(first.counts.items, [
      { label: 'SOCKS5', value: 2 },
      { label: 'CONNECT', value: 2 },
    ]);
    assert.deepEqual(first.connections!.map((c) => c.label), ['#2 b.test:443', '#1 a.test:443']);
    // Only a.test moves: one row, no order (a.test was first already), no picker change.
    a.bytesDown += 5000;
    const second = step();
    assert.equal(second.point!.down, 5000);
    assert.deepEqual(second.destinations, { rows: [second.destinations!.rows[0]] });
    assert.equal(second.destinations.rows[0].key, 'destination:a.test:443');
    assert.equal(second.connections, undefined);
    // Nothing moves: no table delta at all.
    const third = step();
    assert.equal(third.destinations, undefined);
    assert.ok(JSON.stringify(third).length < 300, JSON.stringify(third));
    // The webview reloads: init carries the series so far.
    const init = feed.init(tracker, {} as TrafficStrings, { running: true, auth: false, since: '10:00:00' }, 0);
    assert.equal(init.type, 'init');
    assert.equal((init).total.length, 4);
    assert.equal(step().destinations!.rows.length, 2, 'after an init everything is sent again');
  });

  it('sends a selected connection in full once, then appends, and resets after a merge', () => {
    const { feed, open, step, tracker } = setup();
    const a = open(7, 'a.test');
    tracker.tick();
    feed.selected = 7;
    a.bytesDown += 1000;
    const t1 = step();
    assert.equal(t1.selected!.reset, true);
    assert.equal(t1.selected!.points.length, 2, 'the baseline tick and this one');
    assert.equal(t1.selected!.label, '#7 a.test:443');
    a.bytesDown += 1000;
    const t2 = step();
    assert.equal(t2.selected!.reset, false);
    assert.equal(t2.selected!.points.length, 1);
    step(); // 4 points: full
    const merged = step(); // halves to 2, no new point yet (each point now spans 2 ticks)
    assert.equal(merged.selected!.reset, true);
    assert.equal(merged.selected!.points.length, 2);
    feed.selected = undefined;
    assert.equal(step().selected, null);
    assert.equal(step().selected, undefined);
  });

  it('adds no point for a read between samples', () => {
    const { feed, tracker, open, step } = setup();
    open(1, 'a.test');
    tracker.tick();
    step();
    const between = feed.tick(tracker, tracker.tick({ record: false }));
    assert.equal(between.point, undefined);
  });

  it('names UDP, others and connections in the handshake', () => {
    const { src, tracker, step } = setup();
    src.live.set(3, { id: 3, bytesUp: 0, bytesDown: 0, startedAt: 0 });
    src.live.set(4, { id: 4, bytesUp: 0, bytesDown: 0, startedAt: 0, command: 'udpAssociate', destination: { type: 'ipv4', host: '0.0.0.0', port: 0 } });
    tracker.tick();
    const t = step();
    assert.deepEqual(t.connections!.map((c) => c.label), ['#4 UDP relay', '#3 handshake…']);
    assert.equal(t.destinations!.rows[0].name, 'UDP (all associations)');
    assert.deepEqual(
      t.counts.items.map((i) => i.label),
      ['in handshake', 'UDP ASSOCIATE'],
    );
    const info: ClosedConnectionInfo = { id: 3, client: { host: '127.0.0.1', port: 1 }, bytesUp: 0, bytesDown: 0, startedAt: 0, state: 'closed', endedAt: 0, outcome: { kind: 'closed', message: '' } };
    src.live.delete(3);
    src.emit('close', info);
    assert.deepEqual(step().connections!.map((c) => c.label), ['#4 UDP relay']);
  });
});
