// Host-free (no `vscode` import): how many clients the proxy refused in the last minute (it was
// full: socks5.maxConnections), from the engine's cumulative `stats().refused` counter, and when
// to tell the user. Memory is bounded: one counter per second of the window, whatever the rate.

/** The window the status bar counts refusals over. */
export const REFUSAL_WINDOW_MS = 60_000;
/** After a "the proxy is full" notification, no other one for this long. */
export const REFUSAL_NOTICE_QUIET_MS = 10 * 60_000;

const SLOT_MS = 1_000;
const SLOTS = REFUSAL_WINDOW_MS / SLOT_MS;

/** Refusals per second over a sliding minute: a ring of 60 one-second slots. */
export class RefusalWindow {
  private readonly slotSecond = new Float64Array(SLOTS).fill(Number.NEGATIVE_INFINITY);
  private readonly slotCount = new Float64Array(SLOTS);

  /** Records `n` refusals at `now` (ms). */
  add(n: number, now: number): void {
    if (!(n > 0)) return;
    const second = Math.floor(now / SLOT_MS);
    const i = ((second % SLOTS) + SLOTS) % SLOTS;
    if (this.slotSecond[i] !== second) {
      this.slotSecond[i] = second;
      this.slotCount[i] = 0;
    }
    this.slotCount[i] += n;
  }

  /** Refusals in the minute up to `now` (the current second included). */
  count(now: number): number {
    const second = Math.floor(now / SLOT_MS);
    let sum = 0;
    for (let i = 0; i < SLOTS; i++) {
      const s = this.slotSecond[i];
      if (s > second - SLOTS && s <= second) sum += this.slotCount[i];
    }
    return sum;
  }

  clear(): void {
    this.slotSecond.fill(Number.NEGATIVE_INFINITY);
    this.slotCount.fill(0);
  }
}

/**
 * Turns samples of a cumulative refusal counter into a sliding-minute count, and decides when a
 * notification is due: the first time refusals happen, then not again for REFUSAL_NOTICE_QUIET_MS
 * (one burst after another within minutes never brings a second one).
 */
export class RefusalTracker {
  private readonly window = new RefusalWindow();
  private last: number | undefined;
  private noticeAt = Number.NEGATIVE_INFINITY;

  /**
   * A new reading of the cumulative counter. A reading below the previous one means a new server
   * (its counter starts at 0): the reading itself is then the increase. Returns the increase.
   */
  sample(total: number, now: number): number {
    const prev = this.last;
    this.last = total;
    if (prev === undefined) return 0;
    const delta = total >= prev ? total - prev : total;
    this.window.add(delta, now);
    return delta;
  }

  /** Starts counting from the next reading (a new server whose counter is unrelated to the old one). */
  reset(): void {
    this.last = undefined;
  }

  count(now: number): number {
    return this.window.count(now);
  }

  /** Forgets the refusals counted so far (the limit was raised); the notice's quiet period stays. */
  clearCount(): void {
    this.window.clear();
  }

  /** True (once) when refusals happened and no notification was shown in the quiet period. */
  takeNotice(now: number): boolean {
    if (this.window.count(now) === 0 || now - this.noticeAt < REFUSAL_NOTICE_QUIET_MS) return false;
    this.noticeAt = now;
    return true;
  }
}

/** The limit "Raise the limit" proposes: double, at most `max`; undefined when already at `max`. */
export function raisedLimit(current: number, max: number): number | undefined {
  if (current >= max) return undefined;
  return Math.min(max, Math.max(current + 1, current * 2));
}
