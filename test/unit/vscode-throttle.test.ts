// The throttle that bounds UI refreshes (status bar, connections view) to a few per second.
import { strict as assert } from 'node:assert';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { Throttle } from '../../src/vscode/throttle';

describe('Throttle', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('coalesces a synchronous burst into one call on the next tick', () => {
    let calls = 0;
    const t = new Throttle(() => calls++, 250);
    for (let i = 0; i < 1000; i++) t.schedule();
    assert.equal(calls, 0);
    mock.timers.tick(0);
    assert.equal(calls, 1);
    t.dispose();
  });

  it('runs at most once per interval under a steady stream of changes', () => {
    let calls = 0;
    const t = new Throttle(() => calls++, 250);
    // 10 simulated seconds, a change every 10 ms.
    for (let ms = 0; ms < 10_000; ms += 10) {
      t.schedule();
      mock.timers.tick(10);
    }
    assert.ok(calls <= 41, `calls=${calls}`);
    assert.ok(calls >= 39, `calls=${calls}`);
    t.dispose();
  });

  it('delivers the trailing change (never drops the last update)', () => {
    let calls = 0;
    const t = new Throttle(() => calls++, 250);
    t.schedule();
    mock.timers.tick(0);
    t.schedule(); // within the interval: deferred, not lost
    assert.equal(calls, 1);
    mock.timers.tick(249);
    assert.equal(calls, 1);
    mock.timers.tick(1);
    assert.equal(calls, 2);
    t.dispose();
  });

  it('does nothing after dispose, and survives a throwing callback', () => {
    let calls = 0;
    const errors = mock.method(console, 'error', () => {});
    const t = new Throttle(() => {
      calls++;
      throw new Error('boom');
    }, 100);
    t.schedule();
    mock.timers.tick(0);
    assert.equal(calls, 1);
    assert.equal(errors.mock.callCount(), 1);
    t.schedule();
    t.dispose();
    mock.timers.tick(1000);
    assert.equal(calls, 1);
    errors.mock.restore();
  });

  it('flush runs immediately and cancels the pending call', () => {
    let calls = 0;
    const t = new Throttle(() => calls++, 250);
    t.schedule();
    assert.ok(t.pending);
    t.flush();
    assert.equal(calls, 1);
    assert.ok(!t.pending);
    mock.timers.tick(1000);
    assert.equal(calls, 1);
    t.dispose();
  });
});
