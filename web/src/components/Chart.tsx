/**
 * A uPlot trend: several points on one time axis, one y axis per unit.
 * Drag across the plot to zoom in (the parent refetches with the rollup the
 * new range calls for); the buttons pan and zoom out by keyboard. The x axis
 * is the range asked for (`data.range`), so a range with one sample or none
 * still has a sane axis, and an empty one says "No data in this range".
 * Hovering shows a crosshair, its time and every series' value in the legend.
 * Series that hold their value until the next sample are drawn as steps.
 * Marks (alarm events, overrides) are dashed vertical lines, each with a
 * focusable handle whose title tells what happened, and listed under the plot.
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { dataSpan, type ChartData, type ChartMark } from "../lib/chart";
import { displayZone, formatTime, unitLabel } from "../lib/format";

const MARK_COLOUR = { alarm: "#dc2626", override: "#d97706" } as const;

/** Dashed vertical lines at the marks on the canvas, and a focusable handle with a title above each. */
function drawMarks(u: uPlot, marks: readonly ChartMark[]): void {
  const over = u.over;
  over.querySelectorAll(".chart-mark").forEach((el) => el.remove());
  const ctx = u.ctx;
  const { top, height } = u.bbox;
  ctx.save();
  ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
  ctx.lineWidth = 1.5 * devicePixelRatio;
  for (const m of marks) {
    const x = u.valToPos(m.ts, "x", true);
    if (!Number.isFinite(x) || x < u.bbox.left - 1 || x > u.bbox.left + u.bbox.width + 1) continue;
    ctx.strokeStyle = MARK_COLOUR[m.kind];
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + height);
    ctx.stroke();
    const handle = document.createElement("span");
    handle.className = `chart-mark chart-mark--${m.kind}`;
    handle.tabIndex = 0;
    handle.title = `${formatTime(m.ts * 1000)} ${m.text}`;
    handle.setAttribute("role", "img");
    handle.setAttribute("aria-label", handle.title);
    handle.style.left = `${u.valToPos(m.ts, "x")}px`;
    over.appendChild(handle);
  }
  ctx.restore();
}

const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#9333ea", "#0891b2", "#db2777", "#65a30d"];

/** What uPlot draws: the data, or the range's two ends with no values when there are none. */
function aligned(d: ChartData): uPlot.AlignedData {
  if ((d.empty || d.data[0]?.length === 0) && d.range) {
    return [d.range, ...d.series.map(() => [null, null])] as unknown as uPlot.AlignedData;
  }
  return d.data as uPlot.AlignedData;
}

/** Y range: the data's, padded; a flat line or no data still gets an axis. */
function yRange(_u: uPlot, min: number | null, max: number | null): uPlot.Range.MinMax {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (min === max) return [min - 1, max + 1];
  return uPlot.rangeNum(min, max, 0.1, true);
}

export function Chart(props: {
  data: ChartData;
  labels: Record<string, string>;
  theme: string;
  onZoom: (sinceS: number, untilS: number) => void;
  height?: number;
  /** Alarm events and overrides to mark on the time axis (lib/chart's chartMarks). */
  marks?: ChartMark[];
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const onZoom = useRef(props.onZoom);
  onZoom.current = props.onZoom;
  const range = useRef(props.data.range ?? null);
  range.current = props.data.range ?? null;
  const marks = useRef<readonly ChartMark[]>(props.marks ?? []);
  marks.current = props.marks ?? [];
  const { units, series } = props.data;
  // The plot is rebuilt only when what it draws changes shape; new data for the same series is set in place.
  const shape = JSON.stringify([series.map((s) => [s.point, s.axis, s.step ?? false]), units, props.labels]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const css = getComputedStyle(el);
    const fg = css.getPropertyValue("--fg-muted").trim() || "#666";
    const grid = css.getPropertyValue("--border").trim() || "#ddd";
    const { units, series } = props.data;
    const stepped = uPlot.paths.stepped?.({ align: 1 });
    const axes: uPlot.Axis[] = [
      { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
      ...units.map(
        (u, i): uPlot.Axis => ({
          scale: `u${i}`,
          side: i % 2 === 0 ? 3 : 1,
          label: unitLabel(u) || "value",
          stroke: fg,
          grid: { show: i === 0, stroke: grid, width: 1 },
          ticks: { stroke: grid },
          size: 56,
        }),
      ),
    ];
    const scales: uPlot.Scales = {
      x: { time: true, range: (_u, min, max) => range.current ?? [min, max] },
    };
    units.forEach((_u, i) => (scales[`u${i}`] = { range: yRange }));
    const opts: uPlot.Options = {
      // Ticks in the site's zone (lib/format follows it), as every other time on the page.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), displayZone() ?? Intl.DateTimeFormat().resolvedOptions().timeZone),
      width: el.clientWidth || 600,
      height: props.height ?? 320,
      scales,
      axes,
      cursor: { x: true, y: true, drag: { x: true, y: false, setScale: false } },
      legend: { live: true },
      series: [
        { label: "Time", value: (_u, v) => (v === null || v === undefined ? "—" : formatTime(v * 1000)) },
        ...series.map(
          (s, i): uPlot.Series => ({
            label: props.labels[s.point] ?? s.point,
            scale: `u${s.axis}`,
            stroke: PALETTE[i % PALETTE.length],
            width: 1.5,
            paths: s.step ? stepped : undefined,
            value: (_u, v) => (v === null || v === undefined ? "—" : `${v.toFixed(2)} ${unitLabel(s.unit)}`),
          }),
        ),
      ],
      hooks: {
        draw: [(u) => drawMarks(u, marks.current)],
        setSelect: [
          (u) => {
            if (u.select.width < 5) return;
            const a = u.posToVal(u.select.left, "x");
            const b = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            onZoom.current(a, b);
          },
        ],
      },
    };
    const u = new uPlot(opts, aligned(props.data), el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: el.clientWidth, height: props.height ?? 320 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, props.theme, props.height]);

  useEffect(() => {
    plot.current?.setData(aligned(props.data));
  }, [props.data]);

  const markKey = JSON.stringify(props.marks ?? []);
  useEffect(() => {
    plot.current?.redraw(false, false);
  }, [markKey]);

  const span = dataSpan(props.data);
  return (
    <>
      <div class="chart-wrap" style={{ position: "relative" }}>
        <div
          ref={box}
          class="chart"
          role="img"
          aria-label={`Trend of ${series.map((s) => props.labels[s.point] ?? s.point).join(", ")}`}
          data-range-since={props.data.range?.[0]}
          data-range-until={props.data.range?.[1]}
          data-span-from={span?.[0]}
          data-span-to={span?.[1]}
          data-values={span?.[2] ?? 0}
        />
        {props.data.empty && (
          <p class="chart__empty muted" role="status" style={{ position: "absolute", top: "40%", left: 0, right: 0, textAlign: "center", pointerEvents: "none", margin: 0 }}>
            No data in this range
          </p>
        )}
      </div>
      {props.marks && props.marks.length > 0 && (
        <ul class="chart-marks small" aria-label="Alarms and overrides in this range">
          {props.marks.map((m, i) => (
            <li key={`${m.ts}-${i}`} class={`chart-marks__item chart-marks__item--${m.kind}`}>
              <time dateTime={new Date(m.ts * 1000).toISOString()}>{formatTime(m.ts * 1000)}</time> {m.text}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
