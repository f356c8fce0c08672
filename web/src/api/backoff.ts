/** Reconnection delays: exponential, capped, with jitter so clients do not reconnect in step. */

export interface BackoffOptions {
  /** Delay before the first retry, ms. */
  baseMs: number;
  /** Longest delay, ms. */
  maxMs: number;
  factor: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000, factor: 2 };

/** The delay before retry number `attempt` (0 for the first) without jitter. */
export function backoffCeiling(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  const exp = opts.baseMs * Math.pow(opts.factor, Math.max(0, attempt));
  return Math.min(opts.maxMs, exp);
}

/**
 * The jittered delay before retry number `attempt`: uniform between half the
 * ceiling and the ceiling ("equal jitter"). Half is kept so that a restarted
 * server is not hammered by clients that drew zero; the other half spreads
 * a hundred dashboards over the window.
 */
export function backoffDelay(
  attempt: number,
  opts: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const ceiling = backoffCeiling(attempt, opts);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
