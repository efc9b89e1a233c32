// Host-free: coalesces bursts of "something changed" into at most one call per interval.
// The first schedule() of a quiet period runs on the next tick (so a burst of synchronous events
// costs one call); later ones wait until `intervalMs` has passed since the last call.

export class Throttle {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastRun = Number.NEGATIVE_INFINITY;
  private disposed = false;

  constructor(
    private readonly fn: () => void,
    private readonly intervalMs: number,
  ) {}

  /** Asks for a call; cheap when one is already pending. */
  schedule(): void {
    if (this.disposed || this.timer !== undefined) return;
    const wait = Math.max(0, this.lastRun + this.intervalMs - Date.now());
    this.timer = setTimeout(() => this.run(), wait);
  }

  /** Runs now (cancelling a pending call). */
  flush(): void {
    if (this.disposed) return;
    this.cancel();
    this.run();
  }

  get pending(): boolean {
    return this.timer !== undefined;
  }

  cancel(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  dispose(): void {
    this.cancel();
    this.disposed = true;
  }

  private run(): void {
    this.timer = undefined;
    this.lastRun = Date.now();
    try {
      this.fn();
    } catch (err) {
      // A UI refresh must never throw into a timer callback (that would be an uncaught exception).
      console.error('[socks5] throttled update failed', err);
    }
  }
}
