/**
 * Whether a value on screen may be shown as a fresh number. A value is fresh
 * only if the point reports `ok` (or `overridden`), its sample is recent, and
 * the live connection that would have told us otherwise is up.
 */

export type PointStatus = "ok" | "stale" | "fault" | "offline" | "overridden";

/** How a value is displayed: a live number, a number marked as old, or no number. */
export type Freshness = "fresh" | "stale" | "offline" | "fault" | "unknown";

export interface FreshnessInput {
  status: string | null | undefined;
  /** Epoch ms of the sample, or null when the point never had one. */
  tsMs: number | null | undefined;
  nowMs: number;
  /** Whether the live feed is connected and not stale. */
  live: boolean;
  /** A sample older than this is stale even if its status says ok (default 15 min). */
  maxAgeMs?: number;
}

export const DEFAULT_MAX_AGE_MS = 15 * 60_000;

/**
 * The rules, in order: offline and fault show no number; a point the server
 * calls stale is stale; no sample is unknown; an `ok` sample older than
 * `maxAgeMs`, or any sample while the live feed is down, is stale.
 */
export function freshness(input: FreshnessInput): Freshness {
  const status = (input.status ?? "").toLowerCase();
  if (status === "offline") return "offline";
  if (status === "fault") return "fault";
  if (status === "stale") return "stale";
  if (input.tsMs === null || input.tsMs === undefined || !Number.isFinite(input.tsMs)) return "unknown";
  if (!input.live) return "stale";
  const maxAge = input.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  if (input.nowMs - input.tsMs > maxAge) return "stale";
  return "fresh";
}

/** Whether a number may be shown at all (dimmed and labelled when stale). */
export function showsNumber(f: Freshness): boolean {
  return f === "fresh" || f === "stale";
}
