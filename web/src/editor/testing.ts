/**
 * Testing a program before deploying it, as the editor shows it: a replay's
 * output as a trend (what the program would have commanded beside what the
 * point recorded), and which values to put on the wires (the running
 * engine's, a dry run's, or a replay's at one moment).
 */
import type { ReplayOutput, ReplayPoint, Value } from "../api/types";
import type { ChartData } from "../lib/chart";

const num = (v: Value | undefined): number | null =>
  typeof v === "number" ? v : typeof v === "boolean" ? (v ? 1 : 0) : null;

/** The value of a series of changes at `t`: the last pair at or before it (undefined before the first). */
export function valueAt(series: readonly ReplayPoint[], t: number): Value | undefined {
  let lo = 0;
  let hi = series.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (series[mid]![0] <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found < 0 ? undefined : series[found]![1];
}

/**
 * One replayed output as a chart: the computed and the recorded series on one
 * time axis (the union of their times), each holding its value until its
 * next change (drawn as steps); booleans as 0/1.
 */
export function replayChart(out: ReplayOutput, range: [number, number], unit: string | null): ChartData {
  const times = [...new Set([...out.computed.map((p) => p[0]), ...out.recorded.map((p) => p[0])])].sort((a, b) => a - b);
  const at = (s: readonly ReplayPoint[]) => times.map((t) => num(valueAt(s, t)));
  const computed = at(out.computed);
  const recorded = at(out.recorded);
  return {
    data: [times, computed, recorded],
    series: [
      { point: `${out.id} (computed)`, unit, axis: 0, step: true },
      { point: `${out.point} (recorded)`, unit, axis: 0, step: true },
    ],
    units: [unit ?? ""],
    range,
    empty: times.length === 0 || [...computed, ...recorded].every((v) => v === null),
  };
}

/** Every wire's value at `t` of a replay (`values`: per port its changes), as a running program's `values`. */
export function replayValuesAt(values: Record<string, ReplayPoint[]>, t: number): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const [port, series] of Object.entries(values)) {
    const v = valueAt(series, t);
    if (v !== undefined) out[port] = v;
  }
  return out;
}
