/*
 * PushGovernor: how often the map may take new data. Re-tiling and
 * drawing 1,000 moving vehicles is cheap on a GPU but can eat the whole
 * main thread on a software renderer (SwiftShader) or a busy machine, and
 * then WebSocket messages queue up behind the frames and the dashboard
 * falls seconds behind. The governor watches event-loop lag (how late a
 * periodic timer fires) and widens the minimum interval between map
 * pushes while the main thread is late (multiplicative increase), and
 * narrows it again while it is on time (multiplicative decrease), so the
 * map always leaves room for messages and panels. Pure state; the map
 * feeds it lag samples.
 */
export interface GovernorOptions {
  /** Lag (ms) above which the interval grows. */
  highLagMs: number;
  /** Lag (ms) below which the interval shrinks. */
  lowLagMs: number;
  minIntervalMs: number;
  maxIntervalMs: number;
  grow: number;
  shrink: number;
}

export const DEFAULT_GOVERNOR: GovernorOptions = {
  highLagMs: 40,
  lowLagMs: 12,
  minIntervalMs: 0,
  maxIntervalMs: 1000,
  grow: 1.5,
  shrink: 0.85,
};

export class PushGovernor {
  /** Minimum milliseconds between two vehicle pushes to the map. */
  intervalMs: number;

  constructor(private readonly o: GovernorOptions = DEFAULT_GOVERNOR) {
    this.intervalMs = o.minIntervalMs;
  }

  /** One lag sample: how many ms later than scheduled a timer fired. */
  observeLag(lagMs: number): void {
    if (lagMs > this.o.highLagMs) this.intervalMs = Math.max(this.intervalMs * this.o.grow, 50);
    else if (lagMs < this.o.lowLagMs) this.intervalMs *= this.o.shrink;
    if (this.intervalMs < 20) this.intervalMs = this.o.minIntervalMs;
    this.intervalMs = Math.min(this.o.maxIntervalMs, Math.max(this.o.minIntervalMs, this.intervalMs));
  }

  /** Whether a push at `now` is allowed after the last one at `last`. */
  mayPush(now: number, last: number): boolean {
    return now - last >= this.intervalMs;
  }
}
