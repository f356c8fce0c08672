/**
 * The energy page's analytics, shown as the API computed them: the next day's
 * load forecast with a band from the forecasts' own scores, the month's peak
 * demand and cost by the tariff's parts, and links to export them. Nothing is
 * modelled here: the forecast, its scores, the peaks and the bill are the
 * server's; this module only picks which of them to show and how to write them.
 */
import type { Cost, CostLine, ForecastScore, MeterForecast, Peaks } from "../api/types";
import { formatNumber } from "./format";

/** Scored forecast hours needed before a band is drawn: a day's worth, else the band would be a guess. */
export const MIN_SCORED_HOURS = 24;

/**
 * The band's half-width as a fraction of each forecast hour: the day-ahead CV(RMSE) of the
 * meter's stored forecasts (the typical error of one hour, in % of the mean hour), once at
 * least MIN_SCORED_HOURS hours were scored; null when there is no such score yet.
 */
export function bandFraction(dayAhead: ForecastScore | null | undefined): number | null {
  if (!dayAhead || dayAhead.n < MIN_SCORED_HOURS) return null;
  const cv = dayAhead.cvrmse_pct;
  return cv === null || !Number.isFinite(cv) || cv < 0 ? null : cv / 100;
}

export interface BandHour {
  start: number;
  kwh: number;
  /** The band (null without one): kwh × (1 ∓ fraction), never below 0. */
  low: number | null;
  high: number | null;
  /** The energy measured, once the hour has ended. */
  actual: number | null;
}

/** The first `hours` hours of a meter's newest forecast, each with its band and its actual so far. */
export function forecastBand(forecast: MeterForecast, fraction: number | null, hours = 24): BandHour[] {
  return forecast.hours
    .filter((h) => h.horizon >= 1 && h.horizon <= hours)
    .sort((a, b) => a.start - b.start)
    .map((h) => ({
      start: h.start,
      kwh: h.kwh,
      low: fraction === null ? null : Math.max(0, h.kwh * (1 - fraction)),
      high: fraction === null ? null : h.kwh * (1 + fraction),
      actual: h.actual_kwh,
    }));
}

/** The forecast's total over the band's hours and the band's total (the hours' bounds added up). */
export function bandTotal(band: readonly BandHour[]): { kwh: number; low: number | null; high: number | null } {
  let kwh = 0;
  let low: number | null = 0;
  let high: number | null = 0;
  for (const h of band) {
    kwh += h.kwh;
    low = low === null || h.low === null ? null : low + h.low;
    high = high === null || h.high === null ? null : high + h.high;
  }
  return band.length === 0 ? { kwh: 0, low: null, high: null } : { kwh, low, high };
}

/** An amount of money in the tariff's currency ("£1,234.56"); an unknown code: the number and the code. */
export function formatMoney(amount: number, currency: string, locale?: string): string {
  try {
    return new Intl.NumberFormat(locale, { style: "currency", currency }).format(amount);
  } catch {
    return `${formatNumber(amount, 2)} ${currency}`;
  }
}

export interface CostPart {
  kind: CostLine["kind"];
  name: string;
  /** "1,234 kWh × 0.25", "96 kW × 12.5", "1 month × 30". */
  basis: string;
  amount: number;
  at: number | null;
}

/** The tariff's parts for one period of every meter priced: one row per line, meters' lines of one name added. */
export function costParts(cost: Cost, period: number): CostPart[] {
  const rows = new Map<string, CostPart & { quantity: number; unit: string; rate: number }>();
  for (const s of cost.series) {
    const p = s.periods[period];
    if (!p) continue;
    for (const line of p.lines) {
      const key = `${line.kind}|${line.name}|${line.rate}`;
      const cur = rows.get(key);
      if (cur) {
        cur.quantity += line.quantity;
        cur.amount += line.amount;
        cur.at = cur.at ?? line.at;
      } else {
        rows.set(key, { kind: line.kind, name: line.name, basis: "", amount: line.amount, at: line.at, quantity: line.quantity, unit: line.unit, rate: line.rate });
      }
    }
  }
  const order = { energy: 0, demand: 1, fixed: 2 } as const;
  return [...rows.values()]
    .sort((a, b) => order[a.kind] - order[b.kind])
    .map(({ quantity, unit, rate, ...row }) => ({
      ...row,
      basis: `${formatNumber(quantity, quantity >= 100 || Number.isInteger(quantity) ? 0 : 2)} ${unit} × ${formatNumber(rate, rate < 1 ? 4 : 2)}`,
    }));
}

/** The period's totals by kind of charge (demand null when the period carries none: not a calendar month). */
export function costTotals(cost: Cost, period: number): { energy: number; demand: number | null; fixed: number; total: number; unknownS: number } {
  let energy = 0;
  let demand: number | null = null;
  let fixed = 0;
  let total = 0;
  let unknownS = 0;
  for (const s of cost.series) {
    const p = s.periods[period];
    if (!p) continue;
    energy += p.energy_cost;
    if (p.demand_cost !== null) demand = (demand ?? 0) + p.demand_cost;
    fixed += p.fixed_cost;
    total += p.total;
    unknownS = Math.max(unknownS, p.unknown_s);
  }
  return { energy, demand, fixed, total, unknownS };
}

/** The highest demand of the site's series in the last period (the month in progress): kW, when, and whose. */
export function monthPeak(peaks: Peaks): { kw: number; at: number; name: string }[] {
  const out = [];
  for (const s of peaks.series) {
    const p = s.periods[s.periods.length - 1];
    if (p && p.kw !== null && p.at !== null) out.push({ kw: p.kw, at: p.at, name: s.name });
  }
  return out;
}

/**
 * The file name a download is saved under: the server's Content-Disposition `filename*` (RFC 5987)
 * or `filename`, without any folder part; `fallback` when it gives none.
 */
export function downloadName(disposition: string | null | undefined, fallback: string): string {
  const text = disposition ?? "";
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(text);
  let name: string | null = null;
  if (star) {
    try {
      name = decodeURIComponent(star[1]!.trim());
    } catch {
      name = null;
    }
  }
  if (!name) {
    const plain = /filename\s*=\s*(?:"([^"]*)"|([^;\s]+))/.exec(text);
    name = plain ? (plain[1] ?? plain[2] ?? null) : null;
  }
  const base = name?.split(/[\\/]/).pop()?.trim();
  return base ? base : fallback;
}

/** x of the i-th of n points across a width (the middle for one point). */
const xAt = (i: number, n: number, width: number) => (n <= 1 ? width / 2 : (i / (n - 1)) * width);
const yAt = (v: number, top: number, height: number) => height - (Math.max(0, v) / top) * height;
const num = (v: number) => String(Math.round(v * 100) / 100);

/**
 * An SVG path of a line through `values` on a `width` × `height` box whose y runs from 0 to `top`:
 * a gap (null) ends the line and the next value starts another; a value alone is a short dash.
 */
export function linePath(values: readonly (number | null)[], top: number, width: number, height: number): string {
  const n = values.length;
  const parts: string[] = [];
  let run: string[] = [];
  const flush = () => {
    if (run.length === 1) {
      const [x, y] = run[0]!.split(",").map(Number) as [number, number];
      const half = Math.min(width / Math.max(n - 1, 1), width) / 4;
      parts.push(`M${num(x - half)},${num(y)}L${num(x + half)},${num(y)}`);
    } else if (run.length > 1) parts.push(`M${run.join("L")}`);
    run = [];
  };
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) flush();
    else run.push(`${num(xAt(i, n, width))},${num(yAt(v, top, height))}`);
  });
  flush();
  return parts.join("");
}

/** The SVG path of the band between `low` and `high` (closed shapes; a gap in either splits the band). */
export function bandPath(low: readonly (number | null)[], high: readonly (number | null)[], top: number, width: number, height: number): string {
  const n = Math.min(low.length, high.length);
  const shapes: string[] = [];
  let run: number[] = [];
  const flush = () => {
    if (run.length > 1) {
      const upper = run.map((i) => `${num(xAt(i, n, width))},${num(yAt(high[i]!, top, height))}`);
      const lower = run.reverse().map((i) => `${num(xAt(i, n, width))},${num(yAt(low[i]!, top, height))}`);
      shapes.push(`M${upper.join("L")}L${lower.join("L")}Z`);
    }
    run = [];
  };
  for (let i = 0; i < n; i++) {
    const a = low[i];
    const b = high[i];
    if (a === null || b === null || a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b)) flush();
    else run.push(i);
  }
  flush();
  return shapes.join("");
}

/** What an anomaly detector's kind means, in words. */
export function anomalyKind(kind: string): string {
  switch (kind) {
    case "consumption":
      return "Consumption far from expected";
    case "base_load":
      return "Base load creeping up";
    case "stuck":
      return "Meter stuck";
    case "jump":
      return "Meter jumped";
    default:
      return kind.replace(/_/g, " ");
  }
}

/**
 * The hours the energy page shows of a meter over a period at most: the energy route gives at most
 * 1 000 buckets, and one more than the period's hours is asked for (the last holds `until`, the
 * hour after the period: see MeterPeriod in pages/Energy.tsx).
 */
export const MAX_PERIOD_HOURS = 999;

/**
 * A meter over a period from the energy page's query (`?meter=meters/elec-kwh&since=…&until=…`, epoch s,
 * as an anomaly's link gives it): the meter, the period, and how many hours of it to ask for (the last
 * MAX_PERIOD_HOURS of a longer one); an error in words when a part is missing or wrong; null without `meter`.
 */
export function meterPeriod(search: string): { meter: string; since: number; until: number; hours: number } | { error: string } | null {
  const params = new URLSearchParams(search);
  const meter = (params.get("meter") ?? "").trim();
  if (!meter) return null;
  const since = Number(params.get("since") ?? "");
  const until = Number(params.get("until") ?? "");
  if (!(params.get("since") ?? "").trim() || !Number.isFinite(since)) return { error: "since: expected the period's start in epoch seconds" };
  if (!(params.get("until") ?? "").trim() || !Number.isFinite(until)) return { error: "until: expected the period's end in epoch seconds" };
  if (until <= since) return { error: "until: expected a time after since" };
  return { meter, since, until, hours: Math.min(MAX_PERIOD_HOURS, Math.max(1, Math.ceil((until - since) / 3600))) };
}
