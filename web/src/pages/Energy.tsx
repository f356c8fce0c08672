/**
 * Energy: per meter (kWh registers, kW demand points of electricity meters)
 * the consumption by hour over the last 48 hours and by day over the last 14
 * days, peak demand, and each against the period before.
 */
import { endpoints } from "../api/endpoints";
import type { HistoryRollup, PointSummary } from "../api/types";
import { useApp } from "../context";
import { useLoad } from "../hooks";
import { buckets, compare, meterKind, peakDemand, sumBuckets, total, type EnergyBucket, type MeterKind } from "../lib/energy";
import { formatTime, formatValue } from "../lib/format";
import { href } from "../router";
import { LoadState } from "./common";

const H = 3600;
const DAY = 86_400;

interface MeterEnergy {
  point: PointSummary;
  kind: MeterKind;
  hours: EnergyBucket[];
  days: EnergyBucket[];
  peak: { kw: number; at: number } | null;
}

export function Energy(props: { site: string }) {
  const { api } = useApp();
  const { site } = props;
  const data = useLoad(async () => {
    const [points, equipment] = await Promise.all([endpoints.points(api, site), endpoints.equipment(api, site)]);
    // The site's own meters (equipment tagged siteMeter) first: they are the site's totals.
    const siteMeters = new Set(equipment.filter((e) => e.tags.includes("siteMeter")).map((e) => e.id));
    const meters = points
      .sort((a, b) => Number(siteMeters.has(b.equipment)) - Number(siteMeters.has(a.equipment)))
      .map((p) => ({ p, kind: meterKind(p) }))
      .filter((m): m is { p: PointSummary; kind: MeterKind } => m.kind !== null && m.p.kind === "number");
    const nowS = Date.now() / 1000;
    const hourStart = Math.floor(nowS / H) * H;
    if (meters.length === 0) return { nowS, hourStart, meters: [] as MeterEnergy[], hasSiteMeter: false };
    const ids = meters.map((m) => m.p.id);
    // One bucket more than shown: a register's first bucket needs the reading before it.
    const [hourly, daily] = await Promise.all([
      endpoints.history(api, site, { points: ids, since: hourStart - 48 * H, until: nowS + 1, rollup: "hour" }),
      endpoints.history(api, site, { points: ids, since: hourStart - 29 * DAY, until: nowS + 1, rollup: "day" }),
    ]);
    const rollupsOf = (h: typeof hourly, id: string): HistoryRollup[] =>
      h.series.find((s) => s.point === id || s.point.endsWith(`/${id.split("/").slice(1).join("/")}`))?.rollups ?? [];
    const out: MeterEnergy[] = meters.map(({ p, kind }) => {
      const hr = rollupsOf(hourly, p.id);
      return { point: p, kind, hours: buckets(kind, hr), days: buckets(kind, rollupsOf(daily, p.id)), peak: peakDemand(kind, hr) };
    });
    return { nowS, hourStart, meters: out, hasSiteMeter: meters.some((m) => siteMeters.has(m.p.equipment)), siteMeters };
  }, [api, site]);

  const d = data.data;
  return (
    <main id="main">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={href(`/sites/${site}`)}>{site}</a> / <span aria-current="page">Energy</span>
      </nav>
      <h1>Energy</h1>
      <LoadState {...data} />
      {d && d.meters.length === 0 && <p class="muted">This site has no meters (points in kWh, or kW points tagged elec, meter or energy).</p>}
      {d && d.meters.length > 0 && (
        <>
          {d.meters.length > 1 && !d.hasSiteMeter && (
            <MeterCard
              title="All meters"
              sub={`the sum of the ${d.meters.length} meters below (a sub-meter is counted with its parent)`}
              hours={sumBuckets(d.meters.map((m) => m.hours))}
              days={sumBuckets(d.meters.map((m) => m.days))}
              peak={null}
              nowS={d.nowS}
            />
          )}
          {d.meters.map((m) => (
            <MeterCard
              key={m.point.id}
              title={`${m.point.equipment}/${m.point.name}`}
              site={!!d.siteMeters?.has(m.point.equipment)}
              sub={`${m.point.description || ""}${m.kind === "demand" ? " (energy integrated from kW)" : " (register readings)"}`}
              hours={m.hours}
              days={m.days}
              peak={m.peak}
              nowS={d.nowS}
            />
          ))}
        </>
      )}
    </main>
  );
}

const kwh = (v: number | null) => (v === null ? "—" : formatValue(v, { unit: "kWh" }));

function Change(props: { current: number | null; previous: number | null }) {
  const c = compare(props.current, props.previous);
  if (c.delta === null) return <span class="muted">no earlier data</span>;
  const word = c.delta > 0 ? "more" : c.delta < 0 ? "less" : "same";
  return (
    <span class={`change change--${word}`}>
      {c.delta === 0 ? "the same" : `${formatValue(Math.abs(c.delta), { unit: "kWh" })} ${word}`}
      {c.pct !== null && c.delta !== 0 ? ` (${c.pct > 0 ? "+" : "−"}${Math.abs(c.pct).toFixed(0)} %)` : ""}
    </span>
  );
}

function MeterCard(props: { site?: boolean; title: string; sub: string; hours: EnergyBucket[]; days: EnergyBucket[]; peak: { kw: number; at: number } | null; nowS: number }) {
  const { nowS } = props;
  const last24 = total(props.hours, nowS - 24 * H, nowS + H);
  const prev24 = total(props.hours, nowS - 48 * H, nowS - 24 * H);
  const last7 = total(props.days, nowS - 7 * DAY, nowS + DAY);
  const prev7 = total(props.days, nowS - 14 * DAY, nowS - 7 * DAY);
  const hours = props.hours.filter((b) => b.start >= nowS - 48 * H);
  const days = props.days.filter((b) => b.start >= nowS - 14 * DAY);
  return (
    <section class="card meter" aria-label={`Energy of ${props.title}`}>
      <h2>
        {props.title}
        {props.site && <span class="tag"> site meter</span>}
      </h2>
      {props.sub.trim() && <p class="muted small">{props.sub.trim()}</p>}
      <div class="tiles">
        <div class="tile">
          <div class="tile__label">Last 24 hours</div>
          <div class="tile__value" data-testid="energy-24h">{kwh(last24)}</div>
          <div class="small">vs the 24 hours before: <Change current={last24} previous={prev24} /></div>
        </div>
        <div class="tile">
          <div class="tile__label">Last 7 days</div>
          <div class="tile__value">{kwh(last7)}</div>
          <div class="small">vs the 7 days before: <Change current={last7} previous={prev7} /></div>
        </div>
        {props.peak && (
          <div class="tile">
            <div class="tile__label">Peak demand, 48 h</div>
            <div class="tile__value">{formatValue(props.peak.kw, { unit: "kW" })}</div>
            <div class="small muted">{formatTime(props.peak.at * 1000)}</div>
          </div>
        )}
      </div>
      <Bars title="By hour, last 48 hours" list={hours} label={(s) => new Date(s * 1000).toLocaleString(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" })} />
      <Bars title="By day, last 14 days" list={days} label={(s) => new Date(s * 1000).toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" })} table />
    </section>
  );
}

/** Bars in SVG (one per bucket), with the numbers in a table for the days (and for screen readers). */
function Bars(props: { title: string; list: EnergyBucket[]; label: (s: number) => string; table?: boolean }) {
  const max = Math.max(0, ...props.list.map((b) => b.kwh ?? 0));
  const n = props.list.length;
  if (n === 0) return <p class="muted small">{props.title}: no data yet.</p>;
  const W = 600;
  const Hh = 80;
  const bw = W / Math.max(n, 1);
  return (
    <figure class="bars">
      <figcaption class="small">{props.title}</figcaption>
      <svg viewBox={`0 0 ${W} ${Hh}`} preserveAspectRatio="none" role="img" aria-label={`${props.title}: ${props.list.map((b) => `${props.label(b.start)} ${kwh(b.kwh)}`).join("; ")}`}>
        {props.list.map((b, i) => {
          const h = max > 0 && b.kwh !== null ? (b.kwh / max) * (Hh - 2) : 0;
          return (
            <rect key={b.start} x={i * bw + 1} y={Hh - h} width={Math.max(1, bw - 2)} height={h} class={b.kwh === null ? "bar bar--gap" : "bar"}>
              <title>{`${props.label(b.start)}: ${kwh(b.kwh)}`}</title>
            </rect>
          );
        })}
      </svg>
      {props.table && (
        <div class="table-wrap">
          <table class="small">
            <caption class="sr-only">{props.title}</caption>
            <thead>
              <tr>
                <th scope="col">Day</th>
                <th scope="col">Energy</th>
              </tr>
            </thead>
            <tbody>
              {[...props.list].reverse().map((b) => (
                <tr key={b.start}>
                  <th scope="row">{props.label(b.start)}</th>
                  <td>{kwh(b.kwh)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </figure>
  );
}
