/** A point's current value as a table cell or a tile, never a fresh-looking number when it is not. */
import type { Value } from "../api/types";
import { displayValue, formatAge, type PointShape } from "../lib/format";
import { freshness } from "../lib/staleness";

export function ValueText(props: {
  value: Value;
  status: string | null;
  tsMs: number | null;
  nowMs: number;
  live: boolean;
  point: PointShape;
}) {
  const f = freshness({ status: props.status, tsMs: props.tsMs, nowMs: props.nowMs, live: props.live });
  const d = displayValue(props.value, props.status, f, props.point);
  const title = props.tsMs ? `${d.label}; updated ${formatAge(props.tsMs, props.nowMs)}` : d.label;
  return (
    <span class={`value value--${d.tone}`} title={title}>
      {d.text}
      {d.tone === "stale" && <span class="tag tag--stale">stale</span>}
      {d.tone === "overridden" && (
        <span class="tag tag--override" aria-label="overridden">
          override
        </span>
      )}
      <span class="sr-only">, {d.label}</span>
    </span>
  );
}

export function StatusDot(props: { tone: string; label: string }) {
  return (
    <span class={`dot dot--${props.tone}`} role="img" aria-label={props.label} title={props.label} />
  );
}
