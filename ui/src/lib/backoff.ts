/*
 * Reconnect delays for the WebSocket: exponential from `baseMs`, capped at
 * `maxMs`, with "equal jitter" (half fixed, half random) so that many
 * dashboards do not reconnect in lockstep after the operator restarts.
 * `random` is injectable for tests.
 */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 10_000 };

/** Delay before reconnect attempt `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  const random = opts.random ?? Math.random;
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, Math.min(attempt, 30)));
  return Math.round(exp / 2 + (exp / 2) * random());
}

/** How a close code should be handled. */
export type CloseVerdict = 'reauth' | 'retry';

/** 4401 means the token is bad (sign in again); everything else is retried. */
export function closeVerdict(code: number): CloseVerdict {
  return code === 4401 ? 'reauth' : 'retry';
}
