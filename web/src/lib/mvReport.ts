/**
 * The M&V report's address and words. The report is a page of the dashboard
 * (#/sites/{site}/energy/report?meter=…&baseline=…&reporting=…), so its
 * address says everything it shows: the meter, the baseline and reporting
 * periods as the site's local dates, the non-routine events left out, and the
 * confidence. This module reads and writes that query, turns its dates into
 * instants of the site's zone for the API, proposes periods from the server's
 * clock, and writes the server's statistics in words. The baseline, the
 * savings and their uncertainty are the server's (GET …/analytics/baseline and
 * …/analytics/savings): nothing is computed here.
 */
import type { MvBaselineSummary, MvSavings } from "../api/types";
import { fromZonedInput, toZonedInput } from "./format";

/** A period of whole local days: `start` and `end` are YYYY-MM-DD, the end day not included. */
export interface DayPeriod {
  start: string;
  end: string;
}

/** A non-routine event left out of the periods, with why. */
export interface Exclusion extends DayPeriod {
  note: string;
}

export interface ReportQuery {
  /** The meter's id without the site (equipment/point), as the API takes it. */
  meter: string;
  baseline: DayPeriod;
  reporting: DayPeriod;
  exclude: Exclusion[];
  /** Of the savings' uncertainty, 0.5 ≤ c ≤ 0.999 (90 % by default, as the server's). */
  confidence: number;
}

export const DEFAULT_CONFIDENCE = 0.9;
/** The highest confidence the savings route takes (its `confidence` query: 0.5 to 0.999). */
export const MAX_CONFIDENCE = 0.999;

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Whether `text` is a real calendar date written YYYY-MM-DD (not 2026-02-30). */
export function isDate(text: string): boolean {
  if (!DATE.test(text)) return false;
  const [y, m, d] = text.split("-").map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d)).toISOString().slice(0, 10) === text;
}

/** A date so many days later (or earlier: negative), by the calendar. */
export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split("-").map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** "2025-01-01/2026-01-01" → a period; an error saying what was expected otherwise. */
export function parsePeriod(text: string, what: string): DayPeriod | string {
  const [start = "", end = "", ...rest] = text.split("/").map((s) => s.trim());
  if (rest.length > 0 || !isDate(start) || !isDate(end)) {
    return `${what}: expected two dates START/END written YYYY-MM-DD, e.g. 2025-01-01/2026-01-01, not “${text}”`;
  }
  if (end <= start) return `${what}: the end (${end}) must be after the start (${start})`;
  return { start, end };
}

/** "2026-03-02/2026-03-09 chiller replaced" → an exclusion (the note is required). */
export function parseExclusion(text: string): Exclusion | string {
  const trimmed = text.trim();
  const space = trimmed.indexOf(" ");
  const period = parsePeriod(space < 0 ? trimmed : trimmed.slice(0, space), "exclude");
  if (typeof period === "string") return period;
  const note = space < 0 ? "" : trimmed.slice(space + 1).trim();
  if (!note) return `exclude: ${period.start}/${period.end} needs a note saying why it is left out, e.g. “${period.start}/${period.end} chiller replaced”`;
  return { ...period, note };
}

/** The report's query read from the address, or what is wrong with it, item by item. */
export function parseReportQuery(search: string): { query: ReportQuery | null; errors: string[] } {
  const params = new URLSearchParams(search);
  const errors: string[] = [];
  const meter = (params.get("meter") ?? "").trim();
  if (!meter) errors.push("meter: expected the meter, e.g. meter=meters/elec-kwh");
  const baseline = parsePeriod(params.get("baseline") ?? "", "baseline");
  const reporting = parsePeriod(params.get("reporting") ?? "", "reporting");
  if (typeof baseline === "string") errors.push(baseline);
  if (typeof reporting === "string") errors.push(reporting);
  if (typeof baseline !== "string" && typeof reporting !== "string" && reporting.start < baseline.end) {
    errors.push(`reporting: it starts (${reporting.start}) before the baseline ends (${baseline.end}); the reporting period follows the baseline`);
  }
  const exclude: Exclusion[] = [];
  for (const item of params.getAll("exclude")) {
    const e = parseExclusion(item);
    if (typeof e === "string") errors.push(e);
    else exclude.push(e);
  }
  let confidence = DEFAULT_CONFIDENCE;
  const c = params.get("confidence");
  if (c !== null && c.trim() !== "") {
    const v = Number(c);
    if (!(v >= 0.5 && v <= MAX_CONFIDENCE)) errors.push(`confidence: expected a number from 0.5 to ${MAX_CONFIDENCE} (0.9 for 90 %), not “${c}”`);
    else confidence = v;
  }
  if (errors.length > 0 || typeof baseline === "string" || typeof reporting === "string") return { query: null, errors };
  return { query: { meter, baseline, reporting, exclude, confidence }, errors: [] };
}

/** The report's query as its address's search part (the inverse of parseReportQuery). */
export function reportSearch(q: ReportQuery): string {
  const params = new URLSearchParams();
  params.set("meter", q.meter);
  params.set("baseline", `${q.baseline.start}/${q.baseline.end}`);
  params.set("reporting", `${q.reporting.start}/${q.reporting.end}`);
  for (const e of q.exclude) params.append("exclude", `${e.start}/${e.end} ${e.note}`);
  if (q.confidence !== DEFAULT_CONFIDENCE) params.set("confidence", String(q.confidence));
  return params.toString();
}

/** The report page's path for a site. */
export function reportPath(site: string, q: ReportQuery): string {
  return `/sites/${encodeURIComponent(site)}/energy/report?${reportSearch(q)}`;
}

/** The site's local date at an instant (ms) of the server's clock. */
export function localDate(nowMs: number, timeZone: string): string {
  return toZonedInput(nowMs, timeZone).slice(0, 10);
}

/**
 * Periods to start from, by the server's clock: the reporting period is the last `reportingDays`
 * whole local days (up to today, not included), the baseline the 365 days before it.
 */
export function defaultPeriods(nowMs: number, timeZone: string, reportingDays = 30): { baseline: DayPeriod; reporting: DayPeriod } {
  const today = localDate(nowMs, timeZone);
  const reporting = { start: addDays(today, -reportingDays), end: today };
  return { baseline: { start: addDays(reporting.start, -365), end: reporting.start }, reporting };
}

/** A period's instants (epoch s): local midnight of its start day to local midnight of its end day, in the site's zone. */
export function periodSeconds(p: DayPeriod, timeZone: string): { start: number; end: number } {
  const at = (date: string) => (fromZonedInput(`${date}T00:00`, timeZone) ?? Date.parse(`${date}T00:00:00Z`)) / 1000;
  return { start: at(p.start), end: at(p.end) };
}

/** The exclusions as the API takes them: `START/END/NOTE` with epoch seconds of the site's local midnights. */
export function exclusionParams(list: readonly Exclusion[], timeZone: string): string[] {
  return list.map((e) => {
    const s = periodSeconds(e, timeZone);
    return `${s.start}/${s.end}/${e.note}`;
  });
}

/** A percentage as the report writes it ("9.95 %", "−1.20 %"; "—" unknown). */
export function pct(v: number | null | undefined, decimals = 2): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  const text = Math.abs(v).toFixed(decimals);
  return `${v < 0 && Number(text) !== 0 ? "−" : ""}${text} %`;
}

/**
 * A confidence typed as a percentage ("90", "99.9") as the server takes it (0.9, 0.999: 99.9 / 100 is
 * 0.9990000000000001 in binary, which the server would refuse), or null when outside 50 to 99.9.
 */
export function confidenceFromPercent(text: string): number | null {
  const c = Number((Number(text) / 100).toFixed(6));
  return text.trim() !== "" && c >= 0.5 && c <= MAX_CONFIDENCE ? c : null;
}

/** A confidence as people say it: 0.9 → "90 %". */
export function confidenceWords(c: number): string {
  return `${Number((c * 100).toFixed(1))} %`;
}

/** The query of GET …/analytics/savings (and, with `start`/`end` the baseline's, of …/baseline) for a report. */
export function savingsParams(q: ReportQuery, timeZone: string): { meter: string; baseline_start: number; baseline_end: number; start: number; end: number; confidence: number; exclude: string[] } {
  const b = periodSeconds(q.baseline, timeZone);
  const r = periodSeconds(q.reporting, timeZone);
  return { meter: q.meter, baseline_start: b.start, baseline_end: b.end, start: r.start, end: r.end, confidence: q.confidence, exclude: exclusionParams(q.exclude, timeZone) };
}

/**
 * A series' bucket size for a reporting period: days up to 62 days, weeks up to a year, else months.
 * Its length is counted in calendar days (a period over a clock change is an hour longer or shorter).
 */
export function savingsBucket(q: ReportQuery, _timeZone?: string): "day" | "week" | "month" {
  const days = (Date.parse(`${q.reporting.end}T00:00:00Z`) - Date.parse(`${q.reporting.start}T00:00:00Z`)) / 86_400_000;
  return days <= 62 ? "day" : days <= 366 ? "week" : "month";
}

export interface StatRow {
  name: string;
  value: string;
  /** The Guideline 14 criterion (the server's figures), empty when it sets none. */
  criterion: string;
  /** Whether the criterion is met (null: none), as the server judged. */
  met: boolean | null;
}

/** The baseline's statistics as the report's table: value and the Guideline 14 criterion for each. */
export function statRows(b: MvBaselineSummary, locale?: string): StatRow[] {
  const s = b.statistics;
  const g = b.guideline14;
  const cvMissed = g.reasons.some((r) => r.startsWith("CV(RMSE)"));
  const nmbeMissed = g.reasons.some((r) => r.startsWith("NMBE"));
  const num = (v: number, d: number) => v.toLocaleString(locale, { minimumFractionDigits: d, maximumFractionDigits: d });
  return [
    { name: "CV(RMSE)", value: pct(s.cvrmse_pct), criterion: `≤ ${g.cvrmse_max_pct} %`, met: s.cvrmse_pct === null ? false : !cvMissed },
    { name: "NMBE", value: pct(s.nmbe_pct), criterion: `within ±${g.nmbe_max_pct} %`, met: s.nmbe_pct === null ? false : !nmbeMissed },
    { name: "R²", value: num(s.r2, 4), criterion: "", met: null },
    { name: "Rows fitted (n)", value: num(s.n, 0), criterion: "", met: null },
    { name: "Parameters (p)", value: num(s.p, 0), criterion: "", met: null },
    { name: "Lag-1 autocorrelation of the residuals", value: num(s.autocorrelation, 3), criterion: "", met: null },
    { name: `Mean energy of ${b.model.interval === "daily" ? "a day" : "an hour"}`, value: `${num(s.mean_kwh, 2)} kWh`, criterion: "", met: null },
  ];
}

/** The ASHRAE Guideline 14 verdict in a sentence, with the server's reasons when it is not met. */
export function verdict(b: MvBaselineSummary): string {
  const g = b.guideline14;
  const criteria = `CV(RMSE) ≤ ${g.cvrmse_max_pct} % and NMBE within ±${g.nmbe_max_pct} %`;
  if (g.met) return `Meets ASHRAE Guideline 14 (${criteria}).`;
  return `Does not meet ASHRAE Guideline 14 (${criteria}): ${g.reasons.join("; ")}.`;
}

/** The savings in a sentence: avoided energy, its share of the adjusted baseline and its range at the confidence. */
export function savingsWords(s: MvSavings, kwh: (v: number) => string): string {
  const share = s.savings_pct === null ? "" : ` (${pct(s.savings_pct)} of the adjusted baseline)`;
  const head = `${s.avoided_kwh < 0 ? "More energy used than the baseline: " : "Avoided energy: "}${kwh(Math.abs(s.avoided_kwh))}${share}`;
  if (s.fsu_pct === null || s.low_kwh === null || s.high_kwh === null) {
    return `${head}; the uncertainty is unbounded (nothing was saved to measure it against).`;
  }
  return `${head}, ± ${pct(s.fsu_pct, 1)} of the savings at ${confidenceWords(s.confidence)} confidence: between ${kwh(s.low_kwh)} and ${kwh(s.high_kwh)}.`;
}
