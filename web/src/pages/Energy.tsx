/**
 * Energy: per meter (kWh registers, kW demand points of electricity meters)
 * the consumption by hour over the last 48 hours and by day over the last 14
 * days of the site (in its time zone), peak demand, and each against the
 * period before: all computed by the API (GET /sites/{site}/energy).
 */
import { endpoints } from "../api/endpoints";
import type { MeterEnergy } from "../api/types";
import { DataTable } from "../components/DataTable";
import { useApp } from "../context";
import { useLoad } from "../hooks";
import { compare, dayLabel, hasData, hourLabel, lastAndBefore, sumBuckets, sumKwh, type EnergyBucket } from "../lib/energy";
import { formatTime, formatValue } from "../lib/format";
import { href } from "../router";
import { LoadState } from "./common";

interface MeterEnergyView {
  meter: MeterEnergy;
  hours: EnergyBucket[];
  days: EnergyBucket[];
}

export function Energy(props: { site: string }) {
  const { api } = useApp();
  const { site } = props;
  const data = useLoad(async () => {
    // The server finds the site's meters (site meters first) and cuts hours and the site's local days.
    const [hourly, daily] = await Promise.all([
      endpoints.energy(api, site, { bucket: "hour", count: 48 }),
      endpoints.energy(api, site, { bucket: "day", count: 14 }),
    ]);
    const days = new Map(daily.series.map((s) => [s.point, s.buckets]));
    const meters: MeterEnergyView[] = hourly.series.map((m) => ({ meter: m, hours: m.buckets, days: days.get(m.point) ?? [] }));
    return { timeZone: hourly.timezone, meters, hasSiteMeter: meters.some((m) => m.meter.site_meter) };
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
              timeZone={d.timeZone}
            />
          )}
          {d.meters.map(({ meter: m, hours, days }) => (
            <MeterCard
              key={m.point}
              title={`${m.equipment}/${m.name}`}
              site={m.site_meter}
              sub={`${m.description || ""}${m.kind === "demand" ? " (energy integrated from kW)" : " (register readings)"}`}
              hours={hours}
              days={days}
              peak={m.peak}
              timeZone={d.timeZone}
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

function MeterCard(props: { site?: boolean; title: string; sub: string; hours: EnergyBucket[]; days: EnergyBucket[]; peak: { kw: number; at: number } | null; timeZone: string }) {
  const { timeZone } = props;
  // The server gave 48 hours and 14 of the site's days, the current one last.
  const h24 = lastAndBefore(props.hours, 24);
  const d7 = lastAndBefore(props.days, 7);
  const last24 = sumKwh(h24.last);
  const prev24 = sumKwh(h24.before);
  const last7 = sumKwh(d7.last);
  const prev7 = sumKwh(d7.before);
  const hours = props.hours;
  const days = props.days;
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
      <Bars title="By hour, last 48 hours" list={hours} label={(b) => hourLabel(b, timeZone)} />
      <Bars title="By day, last 14 days" list={days} label={(b) => dayLabel(b, timeZone)} table />
    </section>
  );
}

/** Bars in SVG (one per bucket), with the numbers in a table for the days (and for screen readers). */
function Bars(props: { title: string; list: EnergyBucket[]; label: (b: EnergyBucket) => string; table?: boolean }) {
  const max = Math.max(0, ...props.list.map((b) => b.kwh ?? 0));
  const n = props.list.length;
  if (!hasData(props.list)) return <p class="muted small">{props.title}: no data yet.</p>;
  const W = 600;
  const Hh = 80;
  const bw = W / Math.max(n, 1);
  return (
    <figure class="bars">
      <figcaption class="small">{props.title}</figcaption>
      <svg viewBox={`0 0 ${W} ${Hh}`} preserveAspectRatio="none" role="img" aria-label={`${props.title}: ${props.list.map((b) => `${props.label(b)} ${kwh(b.kwh)}`).join("; ")}`}>
        {props.list.map((b, i) => {
          const h = max > 0 && b.kwh !== null ? (b.kwh / max) * (Hh - 2) : 0;
          return (
            <rect key={b.start} x={i * bw + 1} y={Hh - h} width={Math.max(1, bw - 2)} height={h} class={b.kwh === null ? "bar bar--gap" : "bar"}>
              <title>{`${props.label(b)}: ${kwh(b.kwh)}`}</title>
            </rect>
          );
        })}
      </svg>
      {props.table && (
        <DataTable
          class="small"
          rows={[...props.list].reverse()}
          rowKey={(b) => b.start}
          caption={props.title}
          columns={[
            { key: "day", header: "Day", rowHeader: true, cell: (b) => props.label(b) },
            { key: "energy", header: "Energy", cell: (b) => kwh(b.kwh) },
          ]}
        />
      )}
    </figure>
  );
}
