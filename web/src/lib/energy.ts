/**
 * Showing the energy the API computed (GET /sites/{site}/energy): the server
 * cuts hours and the site's local days, integrates demand and differences
 * registers. Here there is only adding up what it gave, comparing, and
 * labelling a bucket in the site's time zone, never the browser's.
 */
import type { Energy, EnergyBucket, EnergyMeter, MeterEnergy } from "../api/types";

export type { EnergyBucket };

/** The sum of the buckets' energy (null when none has a value). */
export function sumKwh(list: readonly EnergyBucket[]): number | null {
  let sum = 0;
  let any = false;
  for (const b of list) {
    if (b.kwh === null) continue;
    sum += b.kwh;
    any = true;
  }
  return any ? sum : null;
}

/** The last `n` buckets and the `n` before them. */
export function lastAndBefore(list: readonly EnergyBucket[], n: number): { last: EnergyBucket[]; before: EnergyBucket[] } {
  return { last: list.slice(Math.max(0, list.length - n)), before: list.slice(Math.max(0, list.length - 2 * n), Math.max(0, list.length - n)) };
}

/** Whether any bucket has a value. */
export function hasData(list: readonly EnergyBucket[]): boolean {
  return list.some((b) => b.kwh !== null);
}

/** This period against the previous one: the difference and its percentage (null when unknown). */
export function compare(current: number | null, previous: number | null): { delta: number | null; pct: number | null } {
  if (current === null || previous === null) return { delta: null, pct: null };
  const delta = current - previous;
  return { delta, pct: previous === 0 ? null : (delta / previous) * 100 };
}

/** Add bucket lists of several meters by bucket start (a site's total of the meters shown). */
export function sumBuckets(lists: readonly EnergyBucket[][]): EnergyBucket[] {
  const m = new Map<number, EnergyBucket>();
  for (const list of lists) {
    for (const b of list) {
      const cur = m.get(b.start);
      if (!cur) m.set(b.start, { ...b });
      else if (b.kwh !== null) cur.kwh = (cur.kwh ?? 0) + b.kwh;
    }
  }
  return [...m.values()].sort((a, b) => a.start - b.start);
}

/** An hour as the site's clock shows it ("Sun 14:00"). */
export function hourLabel(b: EnergyBucket, timeZone: string, locale?: string): string {
  return new Date(b.start * 1000).toLocaleString(locale, { weekday: "short", hour: "2-digit", minute: "2-digit", timeZone });
}

/** A day by the site's local date the server gave ("Sun, 8 Mar"), the same in every browser zone. */
export function dayLabel(b: EnergyBucket, timeZone: string, locale?: string): string {
  const at = b.date ? new Date(`${b.date}T12:00:00Z`) : new Date(b.start * 1000);
  return at.toLocaleDateString(locale, { weekday: "short", day: "numeric", month: "short", timeZone: b.date ? "UTC" : timeZone });
}

/**
 * Each meter's own name for its card, in order: its description, else its point name (never its
 * equipment's tags); a description two meters share gets the point name too ("Chiller electric power (ch-1-kw)").
 */
export function meterTitles(meters: readonly { name: string; description: string }[]): string[] {
  const own = meters.map((m) => m.description.trim() || m.name);
  const seen = new Map<string, number>();
  for (const t of own) seen.set(t, (seen.get(t) ?? 0) + 1);
  return own.map((t, i) => ((seen.get(t) ?? 0) > 1 && t !== meters[i]!.name ? `${t} (${meters[i]!.name})` : t));
}

/**
 * The y axis of a bar chart from 0 to at least `max`: round steps (1, 2, 2.5 or 5 × 10^k),
 * about `count` of them; [0, 1] when there is nothing above zero.
 */
export function axisTicks(max: number, count = 4): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((f) => f * mag >= raw - 1e-12) ?? 10) * mag;
  const top = Math.ceil(max / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let i = 0; i * step <= top + step * 1e-9; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

/** Which of `n` bars get a label under the x axis: at most `most`, evenly spaced, the last always. */
export function labelledBars(n: number, most = 8): number[] {
  if (n <= 0) return [];
  const every = Math.max(1, Math.ceil(n / Math.max(1, most)));
  const out: number[] = [];
  for (let i = (n - 1) % every; i < n; i += every) out.push(i);
  return out;
}

/** A tick's number without trailing noise ("2.5", "1 000" as the locale writes it). */
export function tickLabel(v: number, locale?: string): string {
  return v.toLocaleString(locale, { maximumFractionDigits: 2 });
}

/** An hour under a chart's axis: the site's clock time only ("14:00"). */
export function hourTick(b: EnergyBucket, timeZone: string, locale?: string): string {
  return new Date(b.start * 1000).toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit", timeZone });
}

/** A day under a chart's axis: the site's date without the weekday ("8 Mar"). */
export function dayTick(b: EnergyBucket, timeZone: string, locale?: string): string {
  const at = b.date ? new Date(`${b.date}T12:00:00Z`) : new Date(b.start * 1000);
  return at.toLocaleDateString(locale, { day: "numeric", month: "short", timeZone: b.date ? "UTC" : timeZone });
}

/** One card of the Energy page: a meter with the buckets of the point that gives its energy. */
export interface MeterCardView {
  meter: EnergyMeter;
  /** The point that gives its energy: its register, else its demand point. */
  point: MeterEnergy;
  hours: EnergyBucket[];
  days: EnergyBucket[];
  /** The highest demand: of its demand point where it has one. */
  peak: { kw: number; at: number } | null;
  /** The name of the meter it is a sub-meter of. */
  parentName: string | null;
}

/** An answer without `meters` (an older server): each series its own meter. */
function ownMeters(series: readonly MeterEnergy[]): EnergyMeter[] {
  return series.map((s) => ({
    id: s.point,
    equipment: s.equipment,
    equipment_name: s.equipment,
    name: s.description.trim() || s.name,
    commodity: null,
    energy: s.kind === "register" ? s.point : null,
    power: s.kind === "demand" ? s.point : null,
    main: s.site_meter,
    parent: null,
  }));
}

/**
 * The cards of the Energy page, one per meter as the server grouped them (kWh and kW of one
 * meter together, main meters first, each sub-meter after its parent): hours and days of the
 * point that gives its energy, the peak of its demand point. Nothing is computed here.
 */
export function meterCards(hourly: Energy, daily: Energy): MeterCardView[] {
  const hours = new Map(hourly.series.map((s) => [s.point, s]));
  const days = new Map(daily.series.map((s) => [s.point, s.buckets]));
  const meters = hourly.meters ?? ownMeters(hourly.series);
  const names = new Map(meters.map((m) => [m.id, m.name]));
  const out: MeterCardView[] = [];
  for (const meter of meters) {
    const point = hours.get(meter.energy ?? meter.power ?? "");
    if (!point) continue;
    const demand = meter.power ? hours.get(meter.power) : undefined;
    out.push({
      meter,
      point,
      hours: point.buckets,
      days: days.get(point.point) ?? [],
      peak: demand?.peak ?? point.peak,
      parentName: meter.parent ? (names.get(meter.parent) ?? meter.parent) : null,
    });
  }
  return out;
}
