/*
 * PushGovernor: how often the map may take new data. Re-tiling and
 * drawing 1,000 moving vehicles is cheap on a GPU but on a software
 * renderer (SwiftShader) or a busy machine one map frame can block the
 * page for hundreds of milliseconds; pushed 10 times a second, frames
 * then fill the main thread, WebSocket messages queue up behind them and
 * the dashboard falls seconds behind. The governor watches event-loop lag
 * (how late a periodic timer fires): a late timer is a stall whose length
 * is what a frame costs now. It keeps a decaying estimate of that cost
 * and spaces pushes `duty` times the cost apart, so frames take at most
 * about 1/duty of the main thread; when stalls stop, the estimate decays
 * and pushes go back to every animation frame. Pure state; the map feeds
 * it lag samples.
 */
export interface GovernorOptions {
  /** Lag (ms) from which a sample counts as a stall. */
  stallMs: number;
  /** Below this cost estimate (ms) pushes are not throttled. */
  freeMs: number;
  /** Pushes are spaced this many times the estimated frame cost. */
  duty: number;
  /** Decay of the estimate per on-time sample. */
  decay: number;
  maxIntervalMs: number;
}

export const DEFAULT_GOVERNOR: GovernorOptions = {
  stallMs: 40,
  freeMs: 25,
  duty: 2.5,
  decay: 0.95,
  maxIntervalMs: 2000,
};

export class PushGovernor {
  /** The estimated cost (ms) of a map frame, from recent stalls. */
  costMs = 0;

  constructor(private readonly o: GovernorOptions = DEFAULT_GOVERNOR) {}

  /** Minimum milliseconds between two vehicle pushes to the map. */
  get intervalMs(): number {
    return this.costMs < this.o.freeMs ? 0 : Math.min(this.o.maxIntervalMs, this.costMs * this.o.duty);
  }

  /** One lag sample: how many ms later than scheduled a timer fired. */
  observeLag(lagMs: number): void {
    if (lagMs >= this.o.stallMs) this.costMs = Math.max(lagMs, (this.costMs + lagMs) / 2);
    else this.costMs *= this.o.decay;
  }

  /** Whether a push at `now` is allowed after the last one at `last`. */
  mayPush(now: number, last: number): boolean {
    return now - last >= this.intervalMs;
  }
}
