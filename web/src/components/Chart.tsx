/**
 * A uPlot trend: several points on one time axis, one y axis per unit.
 * Drag across the plot to zoom in (the parent refetches with the rollup the
 * new range calls for); the buttons pan and zoom out by keyboard.
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { ChartData } from "../lib/chart";
import { unitLabel } from "../lib/format";

const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#9333ea", "#0891b2", "#db2777", "#65a30d"];

export function Chart(props: {
  data: ChartData;
  labels: Record<string, string>;
  theme: string;
  onZoom: (sinceS: number, untilS: number) => void;
  height?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const onZoom = useRef(props.onZoom);
  onZoom.current = props.onZoom;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const css = getComputedStyle(el);
    const fg = css.getPropertyValue("--fg-muted").trim() || "#666";
    const grid = css.getPropertyValue("--border").trim() || "#ddd";
    const { data, units, series } = props.data;
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
    const opts: uPlot.Options = {
      width: el.clientWidth || 600,
      height: props.height ?? 320,
      scales: { x: { time: true } },
      axes,
      cursor: { drag: { x: true, y: false, setScale: false } },
      legend: { live: true },
      series: [
        {},
        ...series.map(
          (s, i): uPlot.Series => ({
            label: props.labels[s.point] ?? s.point,
            scale: `u${s.axis}`,
            stroke: PALETTE[i % PALETTE.length],
            width: 1.5,
            value: (_u, v) => (v === null || v === undefined ? "—" : `${v.toFixed(2)} ${unitLabel(s.unit)}`),
          }),
        ),
      ],
      hooks: {
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
    const u = new uPlot(opts, data as uPlot.AlignedData, el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: el.clientWidth, height: props.height ?? 320 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [props.data, props.theme, props.height]);

  return <div ref={box} class="chart" role="img" aria-label={`Trend of ${props.data.series.map((s) => props.labels[s.point] ?? s.point).join(", ")}`} />;
}
