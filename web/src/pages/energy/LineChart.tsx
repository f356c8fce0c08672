/**
 * A line chart in SVG on kWh axes, with an optional band (a forecast's typical error, a
 * baseline's): the energy page's forecast and the M&V report's baseline against actual. SVG, not
 * a canvas, so that it prints sharp at any size; the tick labels are HTML placed by percentages,
 * as the bar charts' are. The numbers are also in the chart's accessible label.
 */
import { axisTicks, labelledBars, tickLabel } from "../../lib/energy";
import { bandPath, linePath } from "../../lib/energyInsights";

export interface Line {
  label: string;
  values: (number | null)[];
  /** A CSS colour (a theme variable). */
  colour: string;
  dashed?: boolean;
}

export function LineChart(props: {
  title: string;
  /** One label per x position (the site's time or date). */
  labels: string[];
  lines: Line[];
  band?: { label: string; low: (number | null)[]; high: (number | null)[] };
  unit?: string;
  testid?: string;
}) {
  const n = props.labels.length;
  const all = [...props.lines.flatMap((l) => l.values), ...(props.band?.high ?? [])];
  const max = Math.max(0, ...all.filter((v): v is number => v !== null && Number.isFinite(v)));
  const ticks = axisTicks(max);
  const top = ticks[ticks.length - 1] ?? 1;
  const W = 600;
  const H = 100;
  const pct = (v: number) => 100 - (v / top) * 100;
  const left = "3.5em";
  const right = "2.5em";
  const unit = props.unit ?? "kWh";
  const summary = props.lines
    .map((l) => `${l.label}: ${l.values.map((v, i) => `${props.labels[i]} ${v === null ? "—" : tickLabel(Math.round(v * 10) / 10)}`).join(", ")}`)
    .join("; ");
  return (
    <figure class="bars linechart" data-testid={props.testid}>
      <figcaption class="small">
        {props.title} <span class="axis-unit muted">({unit})</span>
        <span class="linechart__legend">
          {props.lines.map((l) => (
            <span key={l.label} class="linechart__key">
              <svg width="18" height="8" aria-hidden="true">
                <line x1="0" x2="18" y1="4" y2="4" style={{ stroke: l.colour, strokeWidth: 2, strokeDasharray: l.dashed ? "4 3" : undefined }} />
              </svg>{" "}
              {l.label}
            </span>
          ))}
          {props.band && (
            <span class="linechart__key">
              <svg width="18" height="8" aria-hidden="true">
                <rect width="18" height="8" style={{ fill: "var(--accent)", fillOpacity: 0.18 }} />
              </svg>{" "}
              {props.band.label}
            </span>
          )}
        </span>
      </figcaption>
      <div class="bars__plot" style={{ position: "relative", height: "170px", padding: `0.6em ${right} 1.6em ${left}`, fontSize: "0.75rem" }}>
        <div class="axis axis--y" aria-hidden="true">
          {ticks.map((t) => (
            <span key={t} class="axis-tick" style={{ position: "absolute", left: 0, width: "3em", textAlign: "right", top: `calc(0.6em + (100% - 2.2em) * ${pct(t) / 100} - 0.6em)` }}>
              {tickLabel(t)}
            </span>
          ))}
        </div>
        <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" style={{ width: "100%", height: "100%", overflow: "visible" }} role="img" aria-label={`${props.title} (${unit}): ${summary}`}>
          {ticks.map((t) => (
            <line key={t} x1={0} x2={W} y1={(pct(t) * H) / 100} y2={(pct(t) * H) / 100} stroke="currentColor" stroke-opacity={t === 0 ? 0.6 : 0.15} vector-effect="non-scaling-stroke" />
          ))}
          {props.band && <path class="linechart__band" d={bandPath(props.band.low, props.band.high, top, W, H)} style={{ fill: "var(--accent)", fillOpacity: 0.18, stroke: "none" }} />}
          {props.lines.map((l) => (
            <path
              key={l.label}
              class="linechart__line"
              data-label={l.label}
              d={linePath(l.values, top, W, H)}
              vector-effect="non-scaling-stroke"
              style={{ fill: "none", stroke: l.colour, strokeWidth: 2, strokeDasharray: l.dashed ? "5 4" : undefined }}
            />
          ))}
        </svg>
        <div class="axis axis--x" aria-hidden="true">
          {labelledBars(n, 6).map((i) => (
            <span key={i} class="axis-tick" style={{ position: "absolute", bottom: 0, whiteSpace: "nowrap", transform: "translateX(-50%)", left: `calc(${left} + (100% - ${left} - ${right}) * ${n <= 1 ? 0.5 : i / (n - 1)})` }}>
              {props.labels[i]}
            </span>
          ))}
        </div>
      </div>
    </figure>
  );
}
