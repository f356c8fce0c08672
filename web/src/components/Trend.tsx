/**
 * A trend chart of some points over a range the user picks: relative ranges that
 * follow live data, absolute ends, zoom, pan, CSV export; times are the server's.
 * The points' alarm events and overrides in the range are marked on it (the
 * server's GET …/annotations).
 */
import { useMemo, useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import { useApp } from "../context";
import { useLoad, useNow } from "../hooks";
import { chartMarks, trendData } from "../lib/chart";
import { formatTime, fromZonedInput, toZonedInput, zoneLabel } from "../lib/format";
import { chooseRollup, RANGES } from "../lib/rollup";
import { LoadState } from "../pages/common";
import { useTheme } from "../theme";
import { Chart } from "./Chart";

/** A trend's range: the last `ms` up to the server's now (following live data), or fixed ends (epoch ms). */
export type TrendRange = { mode: "relative"; preset: string; ms: number } | { mode: "absolute"; since: number; until: number };

/** Epoch ms of a typed range end, read in the site's zone (lib/format); NaN when it is not a time. */
const typed = (text: string): number => fromZonedInput(text) ?? Number.NaN;

/**
 * A trend chart: a relative range that follows live data (the last 6 hours up to the
 * server's now, moving with it) or absolute ends, zoom by dragging, pan and zoom-out
 * buttons, CSV export. Times are the server's (the building's), never the browser's.
 */
export function Trend(props: { site: string; points: string[]; labels: Record<string, string>; title?: string }) {
  const { api } = useApp();
  const [theme] = useTheme();
  const now = useNow(5000);
  const [range, setRange] = useState<TrendRange>({ mode: "relative", preset: "6h", ms: 6 * 3_600_000 });
  const [custom, setCustom] = useState<{ since: string; until: string } | null>(null);
  // A relative range moves with the server's clock, in steps of 1/300 of its span (at least a second),
  // so a slow clock does not refetch on every tick and an accelerated one follows every tick.
  let since: number;
  let until: number;
  if (range.mode === "relative") {
    const quantum = Math.max(1000, range.ms / 300);
    until = Math.ceil(now / quantum) * quantum;
    since = until - range.ms;
  } else {
    ({ since, until } = range);
  }
  const rollup = chooseRollup(since, until);
  const key = props.points.join(",");
  const history = useLoad(
    () =>
      props.points.length
        ? endpoints.trend(api, props.site, { points: props.points, since: since / 1000, until: until / 1000, rollup })
        : Promise.resolve(null),
    [api, props.site, key, since, until, rollup],
  );
  const data = useMemo(() => (history.data ? trendData(history.data, now / 1000) : null), [history.data]); // eslint-disable-line react-hooks/exhaustive-deps
  // Marks are extra: a failure to read them leaves the trend as it is.
  const notes = useLoad(
    () =>
      props.points.length
        ? endpoints.annotations(api, props.site, { points: props.points, since: since / 1000, until: until / 1000 }).catch(() => null)
        : Promise.resolve(null),
    [api, props.site, key, since, until],
  );
  const marks = useMemo(
    () => chartMarks(notes.data?.annotations ?? [], data?.range, props.labels),
    [notes.data, data?.range, props.labels],
  );

  const preset = (id: string) => {
    if (id === "custom") {
      setCustom({ since: toZonedInput(since), until: toZonedInput(until) });
      return;
    }
    const r = RANGES.find((x) => x.id === id)!;
    setCustom(null);
    setRange({ mode: "relative", preset: id, ms: r.ms });
  };
  const absolute = (a: number, b: number) => {
    setCustom(null);
    setRange({ mode: "absolute", since: a, until: b });
  };
  const span = until - since;
  const pan = (dir: -1 | 1) => absolute(since + (dir * span) / 2, until + (dir * span) / 2);
  const zoomOut = () => absolute(since - span / 2, Math.min(now, until + span / 2));
  const applyCustom = () => {
    if (!custom) return;
    const a = typed(custom.since);
    const b = typed(custom.until);
    if (Number.isFinite(a) && Number.isFinite(b) && a < b) absolute(a, b);
  };
  const customError =
    custom && !(typed(custom.since) < typed(custom.until)) ? "The start must be before the end." : null;
  const download = async () => {
    const res = await endpoints.historyCsv(api, props.site, { points: props.points, since: since / 1000, until: until / 1000, rollup });
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = `${props.site}-history-${rollup}.csv`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  const following = range.mode === "relative";
  const selectValue = custom ? "custom" : following ? range.preset : "";

  return (
    <section aria-labelledby={`trend-title-${props.site}`} class="card">
      <h2 id={`trend-title-${props.site}`}>{props.title ?? "Trend"}</h2>
      <div class="toolbar" role="toolbar" aria-label="Chart range">
        <label class="inline">
          Range{" "}
          <select aria-label="Range" value={selectValue} onChange={(e) => preset(e.currentTarget.value)}>
            {selectValue === "" && <option value="">Fixed range</option>}
            {RANGES.map((r) => (
              <option key={r.id} value={r.id}>
                Last {r.label}
              </option>
            ))}
            <option value="custom">From… to…</option>
          </select>
        </label>
        <button type="button" class="btn btn--small" onClick={() => pan(-1)} aria-label="Earlier">
          ←
        </button>
        <button type="button" class="btn btn--small" onClick={() => pan(1)} aria-label="Later" disabled={following || until >= now}>
          →
        </button>
        <button type="button" class="btn btn--small" onClick={zoomOut}>
          Zoom out
        </button>
        {!following && (
          <button type="button" class="btn btn--small" onClick={() => preset(RANGES.find((r) => r.ms >= span)?.id ?? "1y")}>
            Follow live
          </button>
        )}
        <button type="button" class="btn btn--small" onClick={download} disabled={!props.points.length}>
          Export CSV
        </button>
        <span class="muted small" data-testid="trend-range">
          {formatTime(since)} – {following ? "now" : formatTime(until)} · {rollup === "raw" ? "raw samples" : `${rollup}ly means`}
          {following ? " · following live" : ""} · drag on the chart to zoom
        </span>
      </div>
      {custom && (
        <form
          class="toolbar"
          aria-label="Custom range"
          onSubmit={(e) => {
            e.preventDefault();
            applyCustom();
          }}
        >
          <label class="inline">
            From <input type="datetime-local" value={custom.since} onInput={(e) => setCustom({ ...custom, since: e.currentTarget.value })} />
          </label>
          <label class="inline">
            To <input type="datetime-local" value={custom.until} onInput={(e) => setCustom({ ...custom, until: e.currentTarget.value })} />
          </label>
          <span class="muted small">{zoneLabel(since)}</span>
          <button type="submit" class="btn btn--small" disabled={customError !== null}>
            Show
          </button>
          <button type="button" class="btn btn--small" onClick={() => setCustom(null)}>
            Cancel
          </button>
          {customError && <span class="field-error" role="alert">{customError}</span>}
        </form>
      )}
      <LoadState {...history} />
      {props.points.length === 0 ? (
        <p class="muted">Tick points in the table to chart them.</p>
      ) : data ? (
        <Chart data={data} labels={props.labels} theme={theme} marks={marks} onZoom={(a, b) => absolute(a * 1000, b * 1000)} />
      ) : null}
    </section>
  );
}
