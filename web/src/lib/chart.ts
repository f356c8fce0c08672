/** History → uPlot data: one shared time axis, one y axis per unit. */
import type { History, HistorySeries } from "../api/types";

export interface ChartSeries {
  point: string;
  unit: string | null;
  /** Index of the y axis (scale) of the series' unit. */
  axis: number;
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
}

function points(s: HistorySeries): [number, number | null][] {
  if (s.samples) {
    return s.samples.map((x) => [
      x.ts,
      // Offline/fault samples carry no value: a gap, never a drop to zero.
      typeof x.value === "number" ? x.value : typeof x.value === "boolean" ? (x.value ? 1 : 0) : null,
    ]);
  }
  return (s.rollups ?? []).map((r) => [r.start, r.tw_mean ?? r.mean]);
}

/** Merge the series onto the union of their times; each unit gets its own axis (at most a few). */
export function toChartData(history: History): ChartData {
  const units: string[] = [];
  const series: ChartSeries[] = history.series.map((s) => {
    const u = s.unit ?? "";
    let axis = units.indexOf(u);
    if (axis < 0) axis = units.push(u) - 1;
    return { point: s.point, unit: s.unit, axis };
  });
  const perSeries = history.series.map(points);
  const times = [...new Set(perSeries.flatMap((p) => p.map(([t]) => t)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = perSeries.map((p) => {
    const col: (number | null | undefined)[] = new Array(times.length).fill(undefined);
    for (const [t, v] of p) col[index.get(t)!] = v;
    return col;
  });
  return { data: [times, ...columns], series, units };
}
