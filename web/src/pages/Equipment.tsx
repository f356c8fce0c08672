/**
 * One piece of equipment: its points live (value, unit, status, last update,
 * override marker), a trend of the points chosen (remembered per equipment in
 * this browser), and the command dialog for
 * those allowed to command.
 */
import { useEffect, useMemo, useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import { ApiError } from "../api/problem";
import type { PointDetail, PointSummary } from "../api/types";
import { Chart } from "../components/Chart";
import { CommandDialog } from "../components/CommandDialog";
import { DataTable } from "../components/DataTable";
import { ValueText } from "../components/Value";
import { useApp } from "../context";
import { useLive, useLiveSamples, useLiveStatus, useLoad, useNow } from "../hooks";
import { trendData } from "../lib/chart";
import { winningByPoint } from "../lib/overrides";
import { formatAge, formatTime, unitLabel } from "../lib/format";
import { canCommand } from "../lib/roles";
import { chooseRollup, RANGES } from "../lib/rollup";
import { href } from "../router";
import { useTheme } from "../theme";
import { LoadState, NotFound } from "./common";
import { useOverrides } from "./Overrides";

const chosenKey = (site: string, equip: string) => `openbms.trend.${site}/${equip}`;

/** The points the user last charted for this equipment (this browser), or none. */
function chosenPoints(site: string, equip: string): string[] {
  try {
    const list: unknown = JSON.parse(localStorage.getItem(chosenKey(site, equip)) ?? "[]");
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

function rememberPoints(site: string, equip: string, ids: string[]): void {
  try {
    localStorage.setItem(chosenKey(site, equip), JSON.stringify(ids));
  } catch {
    // Private mode or a full storage: the choice lasts for this page only.
  }
}

export function EquipmentPage(props: { site: string; equip: string }) {
  const { api, me } = useApp();
  const { site, equip } = props;
  const info = useLoad(() => endpoints.equipmentItem(api, site, equip), [api, site, equip]);
  const points = useLoad(() => endpoints.points(api, site, { equipment: equip }), [api, site, equip]);
  const samples = useLiveSamples([`${site}/${equip}/*`]);
  const live = useLive();
  // Commands wait while the live connection is down: their progress and the values they change could not be followed.
  const connState = useLiveStatus().state;
  const linkDown = connState === "reconnecting" || connState === "offline";
  const now = useNow(2000);
  const [selected, setSelectedState] = useState<string[]>(() => chosenPoints(site, equip));
  useEffect(() => setSelectedState(chosenPoints(site, equip)), [site, equip]);
  const setSelected = (update: (cur: string[]) => string[]) =>
    setSelectedState((cur) => {
      const next = update(cur);
      rememberPoints(site, equip, next);
      return next;
    });
  const [commanding, setCommanding] = useState<PointDetail | null>(null);
  const [cmdError, setCmdError] = useState<string | null>(null);
  const mayCommand = canCommand(me, site);

  // Overrides follow every command live (the points' own `override` is as of their loading).
  const overrides = useOverrides(site);
  const held = useMemo(() => (overrides.data ? winningByPoint(overrides.data) : null), [overrides.data]);
  const rows: PointSummary[] = (points.data ?? []).map((p) => {
    const s = samples.get(p.id);
    return s ? { ...p, ts: s[0], value: s[1], status: s[2] } : p;
  });
  // Chart the first two sensors until the user picks.
  // The points chosen last time on this equipment (those it still has), else the first two sensors.
  const kept = points.data ? selected.filter((id) => rows.some((p) => p.id === id)) : selected;
  const chosen = kept.length ? kept : rows.filter((p) => p.kind === "number").slice(0, 2).map((p) => p.id);
  const toggle = (id: string) => setSelected((cur) => {
    const base = cur.length ? cur : chosen;
    return base.includes(id) ? base.filter((x) => x !== id) : [...base, id];
  });

  const openCommand = async (p: PointSummary) => {
    setCmdError(null);
    try {
      setCommanding(await endpoints.point(api, site, p.equipment, p.name));
    } catch (err) {
      setCmdError(err instanceof ApiError ? err.message : String(err));
    }
  };

  if (info.error?.status === 404) {
    return <NotFound what={`Equipment “${equip}” on site ${site}`} back={{ href: href(`/sites/${site}`), label: `Back to ${site}` }} />;
  }

  return (
    <main id="main">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={href(`/sites/${site}`)}>{site}</a> / <span aria-current="page">{equip}</span>
      </nav>
      <h1>{info.data?.name || equip}</h1>
      <LoadState {...points} />
      {mayCommand && linkDown && (
        <p class="muted small" id="cmd-offline">
          Commands are unavailable while the live connection is down.
        </p>
      )}
      {cmdError && <p class="banner banner--error" role="alert">{cmdError}</p>}
      <DataTable
        class="points"
        rows={rows}
        rowKey={(p) => p.id}
        caption={`Points of ${equip}, updated live`}
        columns={[
          {
            key: "chart",
            header: "Chart",
            cell: (p) => (
              <input
                type="checkbox"
                aria-label={`Chart ${p.name}`}
                checked={chosen.includes(p.id)}
                disabled={p.kind === "enum"}
                onChange={() => toggle(p.id)}
              />
            ),
          },
          {
            key: "point",
            header: "Point",
            rowHeader: true,
            cell: (p) => (
              <>
                {p.name}
                {p.description && <div class="muted small">{p.description}</div>}
              </>
            ),
          },
          {
            key: "value",
            header: "Value",
            cell: (p) => <ValueText value={p.value} status={p.status} tsMs={p.ts === null ? null : p.ts * 1000} nowMs={now} live={live} point={p} override={held ? held.get(p.id) ?? null : undefined} />,
          },
          { key: "unit", header: "Unit", headClass: "hide-sm", cellClass: "hide-sm", cell: (p) => unitLabel(p.unit) },
          {
            key: "updated",
            header: "Updated",
            headClass: "hide-sm",
            cellClass: "hide-sm",
            cell: (p) => {
              const tsMs = p.ts === null ? null : p.ts * 1000;
              return (
                <time dateTime={tsMs ? new Date(tsMs).toISOString() : undefined} title={formatTime(tsMs)}>
                  {formatAge(tsMs, now)}
                </time>
              );
            },
          },
          mayCommand && {
            key: "command",
            header: <span class="sr-only">Command</span>,
            cell: (p) =>
              p.writable && (
                <button
                  type="button"
                  class="btn btn--small"
                  onClick={() => openCommand(p)}
                  aria-label={`Command ${p.name}`}
                  disabled={linkDown}
                  aria-describedby={linkDown ? "cmd-offline" : undefined}
                >
                  Command…
                </button>
              ),
          },
        ]}
      />
      <Trend site={site} points={chosen} labels={Object.fromEntries(rows.map((p) => [p.id, p.name]))} />
      {commanding && mayCommand && (
        <CommandDialog
          site={site}
          point={commanding}
          onClose={() => {
            setCommanding(null);
            points.reload();
          }}
        />
      )}
    </main>
  );
}

/** A trend's range: the last `ms` up to the server's now (following live data), or fixed ends (epoch ms). */
export type TrendRange = { mode: "relative"; preset: string; ms: number } | { mode: "absolute"; since: number; until: number };

/** `<input type="datetime-local">` text for epoch ms (the browser's zone), and back. */
function localInput(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

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

  const preset = (id: string) => {
    if (id === "custom") {
      setCustom({ since: localInput(since), until: localInput(until) });
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
    const a = new Date(custom.since).getTime();
    const b = new Date(custom.until).getTime();
    if (Number.isFinite(a) && Number.isFinite(b) && a < b) absolute(a, b);
  };
  const customError =
    custom && !(new Date(custom.since).getTime() < new Date(custom.until).getTime()) ? "The start must be before the end." : null;
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
        <Chart data={data} labels={props.labels} theme={theme} onZoom={(a, b) => absolute(a * 1000, b * 1000)} />
      ) : null}
    </section>
  );
}
