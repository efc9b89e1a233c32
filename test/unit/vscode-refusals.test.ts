// Host-free refusal counting (the proxy is full): the sliding minute, its bounded memory, the
// cumulative-counter readings and the one-notification policy.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { REFUSAL_NOTICE_QUIET_MS, REFUSAL_WINDOW_MS, RefusalTracker, RefusalWindow, raisedLimit } from '../../src/vscode/refusals';

const T0 = 1_700_000_000_000;

describe('RefusalWindow', () => {
  it('counts refusals of the last minute and forgets older ones', () => {
    const w = new RefusalWindow();
    w.add(5, T0);
    w.add(3, T0 + 30_000);
    assert.equal(w.count(T0 + 30_000), 8);
    assert.equal(w.count(T0 + REFUSAL_WINDOW_MS - 1), 8);
    assert.equal(w.count(T0 + REFUSAL_WINDOW_MS + 1_000), 3);
    assert.equal(w.count(T0 + 30_000 + REFUSAL_WINDOW_MS + 1_000), 0);
  });

  it('stays bounded: a refusal every 10 ms for 10 minutes keeps only the last minute', () => {
    const w = new RefusalWindow();
    let t = T0;
    for (let i = 0; i < 60_000; i++, t += 10) w.add(1, t);
    // 100 per second, 60 one-second slots.
    const c = w.count(t - 10);
    assert.ok(c >= 5_900 && c <= 6_000, String(c));
    // The slots are fixed-size arrays: nothing grows with the number of refusals.
    assert.equal(Object.keys(w).length, 2);
  });

  it('ignores zero and negative additions, and a reading in the past counts nothing ahead', () => {
    const w = new RefusalWindow();
    w.add(0, T0);
    w.add(-4, T0);
    assert.equal(w.count(T0), 0);
    w.add(2, T0 + 5_000);
    assert.equal(w.count(T0), 0);
    assert.equal(w.count(T0 + 5_000), 2);
  });
});

describe('RefusalTracker', () => {
  it('turns cumulative readings into increases; a lower reading is a new server', () => {
    const r = new RefusalTracker();
    assert.equal(r.sample(10, T0), 0, 'the first reading is the baseline');
    assert.equal(r.sample(10, T0 + 1_000), 0);
    assert.equal(r.sample(86, T0 + 2_000), 76);
    assert.equal(r.count(T0 + 2_000), 76);
    assert.equal(r.sample(4, T0 + 3_000), 4, 'a restarted server counts from 0');
    assert.equal(r.count(T0 + 3_000), 80);
    r.reset();
    assert.equal(r.sample(1_000, T0 + 4_000), 0);
    assert.equal(r.count(T0 + 4_000), 80);
  });

  it('asks for one notification, not one per burst, and none again within the quiet period', () => {
    const r = new RefusalTracker();
    r.sample(0, T0);
    assert.equal(r.takeNotice(T0), false, 'nothing refused yet');
    r.sample(76, T0 + 1_000);
    assert.equal(r.takeNotice(T0 + 1_000), true);
    assert.equal(r.takeNotice(T0 + 1_500), false);
    // Burst after burst for 9 minutes: no second notification.
    for (let s = 2; s < 540; s += 30) {
      r.sample(76 + s, T0 + s * 1_000);
      assert.equal(r.takeNotice(T0 + s * 1_000), false, `burst at ${s} s`);
    }
    // After the quiet period, a new burst may be told again.
    const later = T0 + 1_000 + REFUSAL_NOTICE_QUIET_MS + 1;
    r.sample(2_000, later);
    assert.equal(r.takeNotice(later), true);
  });
});

describe('raisedLimit', () => {
  it('doubles, up to the maximum', () => {
    assert.equal(raisedLimit(1024, 100_000), 2048);
    assert.equal(raisedLimit(1, 100_000), 2);
    assert.equal(raisedLimit(60_000, 100_000), 100_000);
    assert.equal(raisedLimit(100_000, 100_000), undefined);
  });
});
