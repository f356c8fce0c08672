/**
 * Overrides as the dashboard shows them: who holds a point, at which priority, until when.
 * The server decides what an override is (a slot held by an operator or the API); this only words it.
 */
import type { OverrideItem, PointOverride } from "../api/types";
import { formatTime } from "./format";

/** "Overridden at priority 8 by ann@example.com until 14 Mar 2025, 09:41:07 (hot call)". */
export function overrideLabel(o: Pick<PointOverride, "priority" | "requested_by" | "expires_at" | "reason">): string {
  const who = o.requested_by ? ` by ${o.requested_by}` : "";
  const until = o.expires_at === null ? ", until released" : ` until ${formatTime(o.expires_at * 1000)}`;
  const why = o.reason ? ` (${o.reason})` : "";
  return `Overridden at priority ${o.priority}${who}${until}${why}`;
}

/** A list item as the override a point summary carries. */
export function asPointOverride(o: OverrideItem): PointOverride {
  return {
    priority: o.priority,
    value: o.value,
    source: o.source,
    requested_by: o.requested_by,
    reason: o.reason,
    since: o.since,
    expires_at: o.expires_at,
    command_id: o.command_id,
  };
}

/** The winning override of each overridden point (the slot whose value the point has). */
export function winningByPoint(items: readonly OverrideItem[]): Map<string, PointOverride> {
  const out = new Map<string, PointOverride>();
  for (const o of items) if (o.winning) out.set(o.point, asPointOverride(o));
  return out;
}

/** How many points are overridden (their value is an override's), and how many slots people hold. */
export function overrideCounts(items: readonly OverrideItem[]): { points: number; slots: number } {
  return { points: new Set(items.filter((o) => o.winning).map((o) => o.point)).size, slots: items.length };
}
