/**
 * History → uPlot data: one shared time axis, one y axis per unit.
 *
 * `trendData` makes a trend tell the truth: the x axis is the range asked for
 * (not the span of the data, so one sample or none still gets a sane axis), a
 * point unchanged in the range is drawn from the value it held before it
 * (`prior`, carried to the range's start), and a point whose value holds until
 * the next sample (bool, enum, stored on change: the server says `step`) is
 * drawn as steps, its last value held up to now.
 */
import type { History, HistorySample, HistorySeries, TrendHistory } from "../api/types";

export interface ChartSeries {
  point: string;
  unit: string | null;
  /** Index of the y axis (scale) of the series' unit. */
  axis: number;
  /** Draw as steps (the value holds until the next sample). */
  step?: boolean;
}

export interface ChartData {
  /**
   * [times (s), ...values per series]. `null` is a gap (the point had no value:
   * uPlot breaks the line); `undefined` only means the series has no sample at
   * another series' time (uPlot joins across it).
   */
  data: (number | null | undefined)[][];
  series: ChartSeries[];
  /** Units in axis order ("" for unitless). */
  units: string[];
  /** The x range to show, epoch s (the range asked for); null: the data's own span. */
  range?: [number, number] | null;
  /** No series has a single value in the range: draw the axes and say "no data". */
  empty?: boolean;
}

function numeric(v: unknown): number | null {
  // Offline/fault samples carry no value: a gap, never a drop to zero.
  return typeof v === "number" ? v : typeof v === "boolean" ? (v ? 1 : 0) : null;
}

function points(s: HistorySeries): [number, number | null][] {
  if (s.samples) return s.samples.map((x) => [x.ts, numeric(x.value)]);
  return (s.rollups ?? []).map((r) => [r.start, r.tw_mean ?? r.mean]);
}

/** Merge the series onto the union of their times; each unit gets its own axis (at most a few). */
export function toChartData(history: History): ChartData {
  return merge(history.series, history.series.map(points));
}

/**
 * A trend's data for the range [since, until) (epoch s) at the server's time `nowS`:
 * carried forward from `prior`, steps held to min(until, now), the x axis the range.
 */
export function trendData(history: TrendHistory, nowS: number): ChartData {
  const { since, until } = history;
  const end = Math.min(until, nowS);
  const perSeries = history.series.map((s) => {
    const p = points(s);
    const first = p[0]?.[0] ?? Infinity;
    const prior: HistorySample | null | undefined = s.prior;
    if (prior && first > since) {
      const v = numeric(prior.value);
      if (v !== null) p.unshift([since, v]);
    }
    const last = p[p.length - 1];
    if (s.step && last && last[1] !== null && last[0] < end) p.push([end, last[1]]);
    return p;
  });
  const data = merge(history.series, perSeries);
  data.series.forEach((c, i) => (c.step = history.series[i]?.step ?? false));
  data.range = [since, until];
  data.empty = perSeries.every((p) => p.every(([, v]) => v === null));
  return data;
}

function merge(list: HistorySeries[], perSeries: [number, number | null][][]): ChartData {
  const units: string[] = [];
  const series: ChartSeries[] = list.map((s) => {
    const u = s.unit ?? "";
    let axis = units.indexOf(u);
    if (axis < 0) axis = units.push(u) - 1;
    return { point: s.point, unit: s.unit, axis };
  });
  const times = [...new Set(perSeries.flatMap((p) => p.map(([t]) => t)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = perSeries.map((p) => {
    const col: (number | null | undefined)[] = new Array(times.length).fill(undefined);
    for (const [t, v] of p) col[index.get(t)!] = v;
    return col;
  });
  return { data: [times, ...columns], series, units };
}

/** The first and last time (epoch s) at which any series has a value, and how many values: null when none. */
export function dataSpan(d: ChartData): [number, number, number] | null {
  const [times = [], ...columns] = d.data;
  let from = Infinity;
  let to = -Infinity;
  let n = 0;
  for (const col of columns) {
    for (let i = 0; i < times.length; i++) {
      const t = times[i];
      if (typeof t !== "number" || typeof col[i] !== "number") continue;
      n += 1;
      if (t < from) from = t;
      if (t > to) to = t;
    }
  }
  return n ? [from, to, n] : null;
}

/** A mark on a trend: an alarm event or an override of one of its points (GET …/annotations). */
export interface ChartMark {
  ts: number;
  kind: "alarm" | "override";
  /** One line: what happened, to which point, who and why. */
  text: string;
}

/**
 * The annotations that fall in the chart's x range, oldest first, each as one line naming its
 * point as the chart's legend does (`labels`), who did it and why.
 */
export function chartMarks(
  list: readonly { ts: number; point: string; kind: "alarm" | "override"; title: string; who: string; detail: string }[],
  range: [number, number] | null | undefined,
  labels: Record<string, string>,
): ChartMark[] {
  return list
    .filter((a) => !range || (a.ts >= range[0] && a.ts <= range[1]))
    .sort((a, b) => a.ts - b.ts)
    .map((a) => {
      const who = a.who ? ` by ${a.who}` : "";
      const why = a.detail ? `: ${a.detail}` : "";
      return { ts: a.ts, kind: a.kind, text: `${labels[a.point] ?? a.point}: ${a.title}${who}${why}` };
    });
}
