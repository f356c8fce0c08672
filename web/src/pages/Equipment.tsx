/**
 * One piece of equipment: its points live (value, unit, status, last update,
 * override marker), a trend of the points chosen, and the command dialog for
 * those allowed to command.
 */
import { useMemo, useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import { ApiError } from "../api/problem";
import type { PointDetail, PointSummary } from "../api/types";
import { Chart } from "../components/Chart";
import { CommandDialog } from "../components/CommandDialog";
import { DataTable } from "../components/DataTable";
import { ValueText } from "../components/Value";
import { useApp } from "../context";
import { useLive, useLiveSamples, useLoad, useNow } from "../hooks";
import { toChartData } from "../lib/chart";
import { formatAge, formatTime, unitLabel } from "../lib/format";
import { canCommand } from "../lib/roles";
import { chooseRollup, RANGES } from "../lib/rollup";
import { href } from "../router";
import { useTheme } from "../theme";
import { LoadState } from "./common";

export function EquipmentPage(props: { site: string; equip: string }) {
  const { api, me } = useApp();
  const { site, equip } = props;
  const info = useLoad(() => endpoints.equipmentItem(api, site, equip), [api, site, equip]);
  const points = useLoad(() => endpoints.points(api, site, { equipment: equip }), [api, site, equip]);
  const samples = useLiveSamples([`${site}/${equip}/*`]);
  const live = useLive();
  const now = useNow(2000);
  const [selected, setSelected] = useState<string[]>([]);
  const [commanding, setCommanding] = useState<PointDetail | null>(null);
  const [cmdError, setCmdError] = useState<string | null>(null);
  const mayCommand = canCommand(me, site);

  const rows: PointSummary[] = (points.data ?? []).map((p) => {
    const s = samples.get(p.id);
    return s ? { ...p, ts: s[0], value: s[1], status: s[2] } : p;
  });
  // Chart the first two sensors until the user picks.
  const chosen = selected.length ? selected : rows.filter((p) => p.kind === "number").slice(0, 2).map((p) => p.id);
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

  return (
    <main id="main">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={href(`/sites/${site}`)}>{site}</a> / <span aria-current="page">{equip}</span>
      </nav>
      <h1>{info.data?.name || equip}</h1>
      <LoadState {...points} />
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
            cell: (p) => <ValueText value={p.value} status={p.status} tsMs={p.ts === null ? null : p.ts * 1000} nowMs={now} live={live} point={p} />,
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
                <button type="button" class="btn btn--small" onClick={() => openCommand(p)} aria-label={`Command ${p.name}`}>
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

/** A trend chart with preset ranges, zoom by dragging, pan and zoom-out buttons, CSV export. */
export function Trend(props: { site: string; points: string[]; labels: Record<string, string>; title?: string }) {
  const { api } = useApp();
  const [theme] = useTheme();
  const [range, setRange] = useState<{ since: number; until: number; preset: string | null }>(() => {
    const until = Date.now();
    return { since: until - 6 * 3_600_000, until, preset: "6h" };
  });
  const rollup = chooseRollup(range.since, range.until);
  const key = props.points.join(",");
  const history = useLoad(
    () =>
      props.points.length
        ? endpoints.history(api, props.site, { points: props.points, since: range.since / 1000, until: range.until / 1000, rollup })
        : Promise.resolve(null),
    [api, props.site, key, range.since, range.until, rollup],
  );
  const data = useMemo(() => (history.data ? toChartData(history.data) : null), [history.data]);

  const preset = (id: string) => {
    const r = RANGES.find((x) => x.id === id)!;
    const until = Date.now();
    setRange({ since: until - r.ms, until, preset: id });
  };
  const span = range.until - range.since;
  const pan = (dir: -1 | 1) => setRange((r) => ({ since: r.since + (dir * span) / 2, until: r.until + (dir * span) / 2, preset: null }));
  const zoomOut = () => setRange((r) => ({ since: r.since - span / 2, until: Math.min(Date.now(), r.until + span / 2), preset: null }));
  const download = async () => {
    const res = await endpoints.historyCsv(api, props.site, { points: props.points, since: range.since / 1000, until: range.until / 1000, rollup });
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = `${props.site}-history-${rollup}.csv`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  return (
    <section aria-labelledby={`trend-title-${props.site}`} class="card">
      <h2 id={`trend-title-${props.site}`}>{props.title ?? "Trend"}</h2>
      <div class="toolbar" role="toolbar" aria-label="Chart range">
        <label class="inline">
          Range{" "}
          <select value={range.preset ?? ""} onChange={(e) => e.currentTarget.value && preset(e.currentTarget.value)}>
            {range.preset === null && <option value="">Custom</option>}
            {RANGES.map((r) => (
              <option key={r.id} value={r.id}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="btn btn--small" onClick={() => pan(-1)} aria-label="Earlier">
          ←
        </button>
        <button type="button" class="btn btn--small" onClick={() => pan(1)} aria-label="Later" disabled={range.until >= Date.now() - 1000}>
          →
        </button>
        <button type="button" class="btn btn--small" onClick={zoomOut}>
          Zoom out
        </button>
        <button type="button" class="btn btn--small" onClick={download} disabled={!props.points.length}>
          Export CSV
        </button>
        <span class="muted small">
          {formatTime(range.since)} – {formatTime(range.until)} · {rollup === "raw" ? "raw samples" : `${rollup}ly means`} · drag on the chart to zoom
        </span>
      </div>
      <LoadState {...history} />
      {props.points.length === 0 ? (
        <p class="muted">Tick points in the table to chart them.</p>
      ) : data ? (
        <Chart data={data} labels={props.labels} theme={theme} onZoom={(a, b) => setRange({ since: a * 1000, until: b * 1000, preset: null })} />
      ) : null}
    </section>
  );
}
