/**
 * Energy: one card per meter (its kWh register and kW demand point together, as
 * the server groups them; main meters first, each sub-meter after its parent):
 * the consumption by hour over the last 48 hours and by day over the last 14
 * days of the site (in its time zone), peak demand, and each against the
 * period before: all computed by the API (GET /sites/{site}/energy). The hour
 * and the day in progress count up to the server's now and are drawn as such;
 * the page follows the building's clock, asking again each building minute
 * (at most every 15 s of the browser's). Above the cards, the analytics the
 * server computes (pages/energy/): this month's peak demand and cost by the
 * tariff's parts, the next 24 hours' load forecast with its band, and the
 * anomalies found; below them, baseline against actual and the savings of a
 * measure, with the printable M&V report (#/sites/{site}/energy/report?…).
 */
import { endpoints } from "../api/endpoints";
import { DataTable } from "../components/DataTable";
import { useApp } from "../context";
import { useLoad, useNow } from "../hooks";
import { axisTicks, compare, dayLabel, dayTick, hasData, hourLabel, hourTick, labelledBars, lastAndBefore, meterCards, sumBuckets, sumKwh, tickLabel, type EnergyBucket, type MeterCardView } from "../lib/energy";
import { meterPeriod } from "../lib/energyInsights";
import { formatTime, formatValue } from "../lib/format";
import { href, useRoute } from "../router";
import { LoadState } from "./common";
import { AnomalyList } from "./energy/Anomalies";
import { Month } from "./energy/Month";
import { MvPanel } from "./energy/MvPanel";
import { NextDay } from "./energy/NextDay";
import { Report } from "./energy/Report";

/** What a card says under its title: the equipment, its parent meter, how its energy is known. */
function cardSub(c: MeterCardView): string {
  const parts = [c.meter.equipment_name !== c.meter.name ? c.meter.equipment_name : ""];
  if (c.parentName) parts.push(`sub-meter of ${c.parentName}`);
  parts.push(c.point.kind === "demand" ? "energy integrated from kW" : "register readings");
  return parts.filter(Boolean).join(" · ");
}

/** The energy page, or its printable M&V report when the address is …/energy/report?… */
export function Energy(props: { site: string }) {
  const route = useRoute();
  if (route.name === "energy" && route.report !== undefined) return <Report site={props.site} search={route.report} />;
  return <EnergyPage site={props.site} query={route.name === "energy" ? (route.query ?? "") : ""} />;
}

function EnergyPage(props: { site: string; query: string }) {
  const { api } = useApp();
  const { site } = props;
  // The building's minute (the server's clock): a new one asks again, the hour in progress grows.
  const minute = Math.floor(useNow(15_000) / 60_000);
  // Forecasts, peaks, cost and anomalies change by the building's hour: asked again each one.
  const hour = Math.floor(minute / 60);
  const data = useLoad(async () => {
    // The server finds the site's meters and cuts hours and the site's local days. Both up to the same
    // instant (the server's now of the first answer): the last 7 days then hold the last 24 hours,
    // whatever the building's clock did between the two requests.
    const hourly = await endpoints.energy(api, site, { bucket: "hour", count: 48 });
    const daily = await endpoints.energyUntil(api, site, { bucket: "day", count: 14, until: hourly.until });
    const cards = meterCards(hourly, daily);
    // A sub-meter stays in its parent's section: the server puts it right after its parent.
    const onSite = new Set<string>();
    for (const c of cards) if (c.meter.main || (c.meter.parent && onSite.has(c.meter.parent))) onSite.add(c.meter.id);
    return { timeZone: hourly.timezone, until: hourly.until, cards, onSite };
  }, [api, site, minute]);

  const d = data.data;
  return (
    <main id="main">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={href(`/sites/${site}`)}>{site}</a> / <span aria-current="page">Energy</span>
      </nav>
      <h1>Energy</h1>
      {props.query && <MeterPeriod site={site} query={props.query} />}
      <LoadState {...data} />
      {d && d.cards.length === 0 && <p class="muted">This site has no meters (points in kWh, or kW points tagged elec, gas, meter or energy).</p>}
      {d && d.cards.length > 0 && (
        <>
          <p class="muted small" data-testid="energy-until" data-until={d.until}>
            Up to {formatTime(d.until * 1000)}, building time; the hour and the day in progress count so far.
          </p>
          <Month site={site} hour={hour} until={d.until} />
          <NextDay site={site} hour={hour} />
          <AnomalyList site={site} hour={hour} />
          {d.cards.length > 1 && d.onSite.size === 0 && (
            <MeterCard
              id="All meters"
              title="All meters"
              sub="the sum of the meters below that are no sub-meter"
              hours={sumBuckets(d.cards.filter((c) => !c.meter.parent).map((c) => c.hours))}
              days={sumBuckets(d.cards.filter((c) => !c.meter.parent).map((c) => c.days))}
              peak={null}
              timeZone={d.timeZone}
            />
          )}
          {[true, false].map((siteMeters) => {
            const group = d.cards.filter((c) => d.onSite.has(c.meter.id) === siteMeters);
            if (group.length === 0) return null;
            return (
              <section key={String(siteMeters)} aria-label={siteMeters ? "Site meters" : "Equipment meters"}>
                {/* Said once for the group, not on every card: each card is titled by its own meter. */}
                <h2>{siteMeters ? "Site meters" : "Equipment meters"}</h2>
                {group.map((c) => (
                  <MeterCard
                    key={c.meter.id}
                    id={c.meter.id.split("/").slice(1).join("/")}
                    title={c.meter.name}
                    sub={cardSub(c)}
                    sub_meter={c.meter.parent !== null}
                    hours={c.hours}
                    days={c.days}
                    peak={c.peak}
                    timeZone={d.timeZone}
                  />
                ))}
              </section>
            );
          })}
          <MvPanel site={site} timeZone={d.timeZone} nowMs={d.until * 1000} meters={d.cards.map((c) => ({ id: c.meter.id, name: c.meter.name }))} />
        </>
      )}
    </main>
  );
}

/**
 * A meter over a period (…/energy?meter=…&since=…&until=…, where an anomaly links): its energy by
 * hour as the server computes it, the anomalies found on it then, and its equipment's trends.
 */
function MeterPeriod(props: { site: string; query: string }) {
  const { api } = useApp();
  const { site } = props;
  const wanted = meterPeriod(props.query);
  const ok = wanted !== null && !("error" in wanted) ? wanted : null;
  const data = useLoad(async () => {
    if (!ok) return null;
    // The route's last bucket holds `until`: the hour after the period when it ends on the hour, so one
    // more is asked for and the buckets from `until` on are left out.
    const got = await endpoints.energyUntil(api, site, { bucket: "hour", count: ok.hours + 1, until: ok.until, points: [ok.meter] });
    return { ...got, series: got.series.map((x) => ({ ...x, buckets: x.buckets.filter((b) => b.start < ok.until) })) };
  }, [api, site, props.query]);
  if (wanted === null) return null;
  if ("error" in wanted) {
    return (
      <p class="banner banner--error" role="alert">
        This address names a meter but not its period: {wanted.error}.
      </p>
    );
  }
  const series = data.data?.series[0];
  const tz = data.data?.timezone ?? "UTC";
  const equip = wanted.meter.split("/")[0] ?? "";
  return (
    <section class="card energy-period" aria-labelledby="energy-period-title" data-testid="energy-period">
      <h2 id="energy-period-title">
        {series ? series.description || series.name : wanted.meter}, {formatTime(wanted.since * 1000, tz)} – {formatTime(wanted.until * 1000, tz)}
      </h2>
      <p class="small">
        <a href={href(`/sites/${site}/equipment/${equip}`)}>Trends of {equip}</a> · <a href={href(`/sites/${site}/energy`)}>All meters</a>
      </p>
      <LoadState {...data} />
      {series && <Bars title="By hour" list={series.buckets} label={(b) => hourLabel(b, tz)} tick={(b) => hourTick(b, tz)} />}
      <AnomalyList site={site} hour={0} since={wanted.since} until={wanted.until} meters={[wanted.meter]} exportable={false} />
    </section>
  );
}

const kwh = (v: number | null) => (v === null ? "—" : formatValue(v, { unit: "kWh" }));
/** A bucket's energy, "so far" when it is the one in progress. */
const bucketKwh = (b: EnergyBucket) => `${kwh(b.kwh)}${b.partial ? " so far" : ""}`;

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

function MeterCard(props: { id: string; title: string; sub: string; sub_meter?: boolean; hours: EnergyBucket[]; days: EnergyBucket[]; peak: { kw: number; at: number } | null; timeZone: string }) {
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
    <section class={props.sub_meter ? "card meter meter--sub" : "card meter"} aria-label={`Energy of ${props.id}`}>
      <h3 data-testid="meter-title">{props.title}</h3>
      {props.sub.trim() && <p class="muted small">{props.sub.trim()}</p>}
      <div class="tiles">
        <div class="tile">
          <div class="tile__label">Last 24 hours</div>
          <div class="tile__value" data-testid="energy-24h">{kwh(last24)}</div>
          <div class="small">vs the 24 hours before: <Change current={last24} previous={prev24} /></div>
        </div>
        <div class="tile">
          <div class="tile__label">Last 7 days</div>
          <div class="tile__value" data-testid="energy-7d">{kwh(last7)}</div>
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
      <Bars title="By hour, last 48 hours" list={hours} label={(b) => hourLabel(b, timeZone)} tick={(b) => hourTick(b, timeZone)} />
      <Bars title="By day, last 14 days" list={days} label={(b) => dayLabel(b, timeZone)} tick={(b) => dayTick(b, timeZone)} table />
    </section>
  );
}

/**
 * Bars in SVG (one per bucket) on axes: kWh ticks and grid lines on the left, labels under some
 * bars; the numbers in a table for the days (and for screen readers). The SVG stretches to the
 * box; the tick labels are HTML placed by percentages, so they stay legible at any width.
 */
export function Bars(props: { title: string; list: EnergyBucket[]; label: (b: EnergyBucket) => string; tick?: (b: EnergyBucket) => string; table?: boolean }) {
  const n = props.list.length;
  if (!hasData(props.list)) return <p class="muted small">{props.title}: no data yet.</p>;
  const ticks = axisTicks(Math.max(0, ...props.list.map((b) => b.kwh ?? 0)));
  const top = ticks[ticks.length - 1] ?? 1;
  const tick = props.tick ?? props.label;
  const W = 600;
  const Hh = 100;
  const bw = W / Math.max(n, 1);
  const pct = (v: number) => 100 - (v / top) * 100;
  const left = "3.5em";
  const right = "2.5em";
  return (
    <figure class="bars">
      <figcaption class="small">
        {props.title} <span class="axis-unit muted">(kWh)</span>
        {props.list.some((b) => b.partial && b.kwh !== null) && <span class="muted"> · the paler bar is in progress, so far</span>}
      </figcaption>
      <div class="bars__plot" style={{ position: "relative", height: "150px", padding: `0.6em ${right} 1.6em ${left}`, fontSize: "0.75rem" }}>
        <div class="axis axis--y" aria-hidden="true">
          {ticks.map((t) => (
            <span key={t} class="axis-tick" style={{ position: "absolute", left: 0, width: "3em", textAlign: "right", top: `calc(0.6em + (100% - 2.2em) * ${pct(t) / 100} - 0.6em)` }}>
              {tickLabel(t)}
            </span>
          ))}
        </div>
        <svg viewBox={`0 0 ${W} ${Hh}`} preserveAspectRatio="none" style={{ width: "100%", height: "100%" }} role="img" aria-label={`${props.title}: ${props.list.map((b) => `${props.label(b)} ${bucketKwh(b)}`).join("; ")}`}>
          {ticks.map((t) => (
            <line key={t} x1={0} x2={W} y1={(pct(t) * Hh) / 100} y2={(pct(t) * Hh) / 100} stroke="currentColor" stroke-opacity={t === 0 ? 0.6 : 0.15} vector-effect="non-scaling-stroke" />
          ))}
          {props.list.map((b, i) => {
            const h = b.kwh !== null && b.kwh > 0 ? (b.kwh / top) * Hh : 0;
            return (
              <rect key={b.start} x={i * bw + bw * 0.1} y={Hh - h} width={bw * 0.8} height={h} class={b.kwh === null ? "bar bar--gap" : b.partial ? "bar bar--partial" : "bar"}>
                <title>{`${props.label(b)}: ${bucketKwh(b)}`}</title>
              </rect>
            );
          })}
        </svg>
        <div class="axis axis--x" aria-hidden="true">
          {labelledBars(n, 4).map((i) => (
            // Centred under its bar (the plot's right padding leaves room for the last one's half).
            <span key={i} class="axis-tick" style={{ position: "absolute", bottom: 0, whiteSpace: "nowrap", transform: "translateX(-50%)", left: `calc(${left} + (100% - ${left} - ${right}) * ${(i + 0.5) / n})` }}>
              {tick(props.list[i]!)}
            </span>
          ))}
        </div>
      </div>
      {props.table && (
        <DataTable
          class="small"
          rows={[...props.list].reverse()}
          rowKey={(b) => b.start}
          caption={props.title}
          columns={[
            { key: "day", header: "Day", rowHeader: true, cell: (b) => props.label(b) },
            { key: "energy", header: "Energy", cell: (b) => bucketKwh(b) },
          ]}
        />
      )}
    </figure>
  );
}
