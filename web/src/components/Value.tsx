/** A point's current value as a table cell or a tile, never a fresh-looking number when it is not. */
import type { PointOverride, Value } from "../api/types";
import { displayValue, formatAge, type PointShape } from "../lib/format";
import { overrideLabel } from "../lib/overrides";
import { freshness } from "../lib/staleness";

export function ValueText(props: {
  value: Value;
  status: string | null;
  tsMs: number | null;
  nowMs: number;
  live: boolean;
  /** A point summary: its `override` (the winning slot an operator or the API holds) is marked. */
  point: PointShape & { override?: PointOverride | null };
  /** The point's override when the page knows a newer one than `point` carries (null: none). */
  override?: PointOverride | null;
}) {
  const f = freshness({ status: props.status, tsMs: props.tsMs, nowMs: props.nowMs, live: props.live });
  const d = displayValue(props.value, props.status, f, props.point);
  const held = props.override !== undefined ? props.override : props.point.override ?? null;
  const title = props.tsMs ? `${d.label}; updated ${formatAge(props.tsMs, props.nowMs)}` : d.label;
  return (
    <span class={`value value--${d.tone}${held ? " value--held" : ""}`} title={title}>
      {d.text}
      {d.tone === "stale" && <span class="tag tag--stale">stale</span>}
      {d.tone === "overridden" && !held && (
        <span class="tag tag--override" aria-label="overridden">
          override
        </span>
      )}
      <span class="sr-only">, {d.label}</span>
      {held && <OverrideMark override={held} />}
    </span>
  );
}

/** "P8" beside a value held by a person: which priority, who and until when, in its title and for screen readers. */
export function OverrideMark(props: { override: PointOverride }) {
  const label = overrideLabel(props.override);
  return (
    <>
      {" "}
      <span class="tag tag--override" title={label} data-override-priority={props.override.priority} aria-hidden="true">
        P{props.override.priority}
      </span>
      <span class="sr-only">, {label}</span>
    </>
  );
}

export function StatusDot(props: { tone: string; label: string }) {
  return (
    <span class={`dot dot--${props.tone}`} role="img" aria-label={props.label} title={props.label} />
  );
}
