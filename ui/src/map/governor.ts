/*
 * PushGovernor: how often the map may take new data. Re-tiling and
 * drawing 1,000 moving vehicles is cheap on a GPU, but on a software
 * renderer (SwiftShader) or a busy machine one map frame can block the
 * page for hundreds of milliseconds, and a push costs about two frames
 * (one when the worker has the data, one when the tiles are back); pushed
 * 10 times a second, frames then fill the main thread, WebSocket messages
 * queue up behind them and the dashboard falls seconds behind.
 *
 * The governor watches event-loop lag (how late a periodic timer fires):
 * a late timer is a stall, and the longest stall of the last few seconds
 * is what a frame costs now. Pushes are spaced `duty` times that cost
 * apart, so frames keep to a minority of the main thread; once no stall
 * has been seen for the window, pushes go back to every animation frame.
 * Pure state (time is passed in); the map feeds it lag samples.
 */
export interface GovernorOptions {
  /** Lag (ms) from which a sample counts as a stall. */
  stallMs: number;
  /** How long (ms) a stall is remembered. */
  windowMs: number;
  /** Pushes are spaced this many times the frame cost (a push is ~2 frames). */
  duty: number;
  maxIntervalMs: number;
}

export const DEFAULT_GOVERNOR: GovernorOptions = {
  stallMs: 40,
  windowMs: 3000,
  duty: 5,
  maxIntervalMs: 2500,
};

export class PushGovernor {
  /** Recent stalls: [when (ms), how long (ms)]. */
  private stalls: [number, number][] = [];

  constructor(private readonly o: GovernorOptions = DEFAULT_GOVERNOR) {}

  /** The estimated cost (ms) of a map frame: the longest recent stall, 0 if none. */
  costMs(now: number): number {
    while (this.stalls.length && this.stalls[0]![0] < now - this.o.windowMs) this.stalls.shift();
    let max = 0;
    for (const [, ms] of this.stalls) max = Math.max(max, ms);
    return max;
  }

  /** Minimum milliseconds between two vehicle pushes at `now`. */
  intervalMs(now: number): number {
    return Math.min(this.o.maxIntervalMs, this.costMs(now) * this.o.duty);
  }

  /** One lag sample at `now`: how many ms later than scheduled a timer fired. */
  observeLag(now: number, lagMs: number): void {
    if (lagMs >= this.o.stallMs) this.stalls.push([now, lagMs]);
  }

  /** Whether a push at `now` is allowed after the last one at `last`. */
  mayPush(now: number, last: number): boolean {
    return now - last >= this.intervalMs(now);
  }
}
