/** Which history resolution a chart asks for, by the length of its range. */

export type Rollup = "raw" | "hour" | "day";

const DAY_MS = 86_400_000;

/** raw up to one day, hourly up to 30 days, daily beyond: a few thousand points at most per series. */
export function chooseRollup(sinceMs: number, untilMs: number): Rollup {
  const span = untilMs - sinceMs;
  if (span <= DAY_MS) return "raw";
  if (span <= 30 * DAY_MS) return "hour";
  return "day";
}

/** The preset ranges of the trend chart. */
export const RANGES: readonly { id: string; label: string; ms: number }[] = [
  { id: "1h", label: "1 hour", ms: 3_600_000 },
  { id: "6h", label: "6 hours", ms: 6 * 3_600_000 },
  { id: "24h", label: "24 hours", ms: DAY_MS },
  { id: "7d", label: "7 days", ms: 7 * DAY_MS },
  { id: "30d", label: "30 days", ms: 30 * DAY_MS },
  { id: "90d", label: "90 days", ms: 90 * DAY_MS },
  { id: "1y", label: "1 year", ms: 365 * DAY_MS },
];
