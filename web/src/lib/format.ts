/**
 * Values, units, statuses and times as operators read them: the one place the dashboard turns
 * data into words and numbers.
 *
 * - Numbers are written in the browser's locale (Intl.NumberFormat) with the point's `precision`
 *   from the API (the site file's, else by unit: 21.3 °C, 45 %RH, 1,250 kWh).
 * - Units are symbols everywhere: degC → °C, m3/h → m³/h (the same table as the server's).
 * - Dates and times have one style (Intl.DateTimeFormat, medium date and time in the browser's
 *   locale) in the site's time zone: `useSiteZone(site)` (hooks) sets it for the page, and every
 *   `formatTime` follows it; before it is known, the browser's zone.
 * - States are words: `active-acked` → "Active, acknowledged".
 */
import type { Freshness } from "./staleness";

export interface PointShape {
  kind?: string | null;
  unit?: string | null;
  states?: readonly string[] | null;
  /** Decimals its values show (from the API); absent: by magnitude. */
  precision?: number | null;
  name?: string;
  display_name?: string | null;
}

let locale: string | undefined;
let zone: string | undefined;
const numberFormats = new Map<string, Intl.NumberFormat>();
const dateFormats = new Map<string, Intl.DateTimeFormat>();

/** The locale numbers and dates are written in: the browser's unless set (tests set one). */
export function setFormatLocale(value: string | undefined): void {
  locale = value;
  numberFormats.clear();
  dateFormats.clear();
}

/** The time zone dates and times are shown in: the site's (an IANA name); undefined: the browser's. */
export function setDisplayZone(value: string | undefined): void {
  zone = value || undefined;
}

/** The time zone dates and times are shown in now (undefined: the browser's). */
export function displayZone(): string | undefined {
  return zone;
}

const UNIT_LABELS: Record<string, string> = {
  degC: "°C",
  degF: "°F",
  deltaK: "K",
  deltaF: "°F",
  deltaDegC: "K",
  "degC/h": "°C/h",
  "degC-day": "°C·d",
  "degF-day": "°F·d",
  "m3/h": "m³/h",
  "m3/s": "m³/s",
  m3: "m³",
  ft3: "ft³",
  m2: "m²",
  ft2: "ft²",
  "W/m2": "W/m²",
  "W/ft2": "W/ft²",
  "kWh/m2": "kWh/m²",
  "kWh/ft2": "kWh/ft²",
  "ug/m3": "µg/m³",
  ohm: "Ω",
  kohm: "kΩ",
  inH2O: "inH₂O",
  mmH2O: "mmH₂O",
  ratio: "",
  count: "",
  tonR: "TR",
  "tonR-h": "TR·h",
  percent: "%",
};

/** The display label of a unit: degC → °C. */
export function unitLabel(unit: string | null | undefined): string {
  if (!unit) return "";
  return UNIT_LABELS[unit] ?? unit;
}

/** A value's text with its unit: SI writes a space (21.5 °C), the per cent sign in common use none (45%). */
export function withUnit(text: string, unit: string | null | undefined): string {
  const u = unitLabel(unit);
  if (!u) return text;
  return u.startsWith("%") ? `${text}${u}` : `${text} ${u}`;
}

/** The name people read for a point: its display name from the API, else its name. */
export function pointLabel(point: { name?: string; display_name?: string | null; id?: string }): string {
  return point.display_name || point.name || point.id || "";
}

/** Sensible decimals for a magnitude when a point tells none: 21.3 °C, 0.52, 1250 kW. */
export function decimalsFor(value: number): number {
  const a = Math.abs(value);
  if (a === 0 || a >= 1000) return 0;
  if (a >= 100) return 1;
  if (a >= 1) return 1;
  return 2;
}

/** A number with `decimals` decimals in the locale (grouped from 10 000: 1250 but 12,500). */
export function formatNumber(n: number, decimals: number): string {
  const d = Math.min(6, Math.max(0, Math.round(decimals)));
  const group = Math.abs(n) >= 10000;
  const key = `${d}|${group}`;
  let f = numberFormats.get(key);
  if (!f) {
    f = new Intl.NumberFormat(locale, { minimumFractionDigits: d, maximumFractionDigits: d, useGrouping: group });
    numberFormats.set(key, f);
  }
  const text = f.format(n);
  // -0.0 is 0.0 to a reader
  return /^-[0.,\s]*$/.test(text) ? text.slice(1) : text;
}

/** A number rounded to a point's precision, as text for an input (no grouping, "." decimal): 23.8. */
export function inputNumber(n: number, precision: number | null | undefined): string {
  const d = precision ?? decimalsFor(n);
  return String(Number(n.toFixed(Math.min(6, Math.max(0, d)))));
}

/** A number as text with its unit; booleans as On/Off; enums by their state label. */
export function formatValue(value: unknown, point: PointShape = {}): string {
  if (value === null || value === undefined || value === "") return "—";
  const kind = point.kind ?? (typeof value === "boolean" ? "bool" : typeof value === "number" ? "number" : "enum");
  if (kind === "bool") {
    const on = value === true || value === 1 || value === "true" || value === "on" || value === "active";
    return on ? "On" : "Off";
  }
  if (kind === "enum") {
    if (typeof value === "number" && point.states && Number.isInteger(value) && value >= 1) {
      // An enum value is its state number, counted from 1 as BACnet's multi-state objects do.
      return point.states[value - 1] ?? String(value);
    }
    return String(value);
  }
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n)) return String(value);
  const decimals = typeof point.precision === "number" ? point.precision : decimalsFor(n);
  return withUnit(formatNumber(n, decimals), point.unit);
}

/** What a table cell shows for a point's current value, and how it is styled. */
export interface ValueDisplay {
  text: string;
  /** CSS modifier: ok, stale, offline, fault, overridden, unknown. */
  tone: string;
  /** Words for the status column and for screen readers. */
  label: string;
}

/**
 * A point's value for display. Offline and fault points show their status
 * instead of a number; a stale value is shown as the last known one, labelled.
 */
export function displayValue(
  value: unknown,
  status: string | null | undefined,
  freshness: Freshness,
  point: PointShape = {},
): ValueDisplay {
  switch (freshness) {
    case "offline":
      return { text: "Offline", tone: "offline", label: "offline: no value from the device" };
    case "fault":
      return { text: "Fault", tone: "fault", label: "fault: the device reports an error" };
    case "unknown":
      return { text: "—", tone: "unknown", label: "no value yet" };
    case "stale":
      return {
        text: `${formatValue(value, point)}`,
        tone: "stale",
        label: "stale: last known value, not current",
      };
    case "fresh": {
      const overridden = status === "overridden";
      return {
        text: formatValue(value, point),
        tone: overridden ? "overridden" : "ok",
        label: overridden ? "overridden by a command" : "ok",
      };
    }
  }
}

/** "12 s ago", "5 min ago", "3 h ago", or a date for older. */
export function formatAge(tsMs: number | null | undefined, nowMs: number): string {
  if (tsMs === null || tsMs === undefined || !Number.isFinite(tsMs)) return "never";
  const s = Math.max(0, Math.round((nowMs - tsMs) / 1000));
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return formatDate(tsMs);
}

function dateFormat(options: Intl.DateTimeFormatOptions, tz: string | undefined): Intl.DateTimeFormat {
  const key = `${JSON.stringify(options)}|${tz ?? ""}`;
  let f = dateFormats.get(key);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat(locale, { ...options, timeZone: tz });
    } catch {
      f = new Intl.DateTimeFormat(locale, options); // an unknown zone: the browser's, not a blank page
    }
    dateFormats.set(key, f);
  }
  return f;
}

/** A date and time in the one style, in the site's zone, e.g. "14 Mar 2025, 09:41:07" (en-GB). */
export function formatTime(tsMs: number | null | undefined, tz: string | undefined = zone): string {
  if (tsMs === null || tsMs === undefined || !Number.isFinite(tsMs)) return "—";
  return dateFormat({ dateStyle: "medium", timeStyle: "medium" }, tz).format(tsMs);
}

/** A date in the same style, in the site's zone, e.g. "14 Mar 2025". */
export function formatDate(tsMs: number | null | undefined, tz: string | undefined = zone): string {
  if (tsMs === null || tsMs === undefined || !Number.isFinite(tsMs)) return "—";
  return dateFormat({ dateStyle: "medium" }, tz).format(tsMs);
}

/** A calendar date typed as YYYY-MM-DD in words ("Thursday, 24 December 2026" in en-GB); null if it is not one. */
export function formatCalendarDate(text: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text.trim());
  if (!m) return null;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (new Date(t).toISOString().slice(0, 10) !== text.trim()) return null; // 2026-02-30
  return dateFormat({ dateStyle: "full" }, "UTC").format(t); // a date, not an instant: no zone shifts it
}

/** The zone's name and its offset at `tsMs`, to show beside a typed time: "Europe/London (GMT+1)". */
export function zoneLabel(tsMs: number, tz: string | undefined = zone): string {
  const f = dateFormat({ timeZoneName: "shortOffset" }, tz);
  const offset = f.formatToParts(tsMs).find((p) => p.type === "timeZoneName")?.value ?? "";
  const name = tz ?? f.resolvedOptions().timeZone;
  return offset ? `${name} (${offset})` : name;
}

function zonedParts(tsMs: number, tz: string | undefined): Record<string, number> {
  const f = dateFormat(
    { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" },
    tz,
  );
  const out: Record<string, number> = {};
  for (const p of f.formatToParts(tsMs)) if (p.type !== "literal") out[p.type] = Number(p.value);
  return out;
}

/** `<input type="datetime-local">` text for epoch ms in the site's zone ("2026-03-29T01:30"). */
export function toZonedInput(tsMs: number, tz: string | undefined = zone): string {
  const p = zonedParts(tsMs, tz);
  const two = (n: number | undefined) => String(n ?? 0).padStart(2, "0");
  return `${p.year}-${two(p.month)}-${two(p.day)}T${two(p.hour)}:${two(p.minute)}`;
}

/**
 * Epoch ms of a wall time typed in the site's zone ("2026-03-29T01:30"); null when it is not one.
 * A time that does not exist (the hour a DST change skips) is taken as the same wall time an hour
 * later; a time that happens twice (the hour repeated in autumn) as its first occurrence.
 */
export function fromZonedInput(text: string, tz: string | undefined = zone): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, sec] = m.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number, number, number];
  const wall = Date.UTC(y, mo - 1, d, h, mi, sec);
  if (Number.isNaN(wall)) return null;
  const offsetAt = (t: number) => {
    const p = zonedParts(t, tz);
    return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - Math.floor(t / 1000) * 1000;
  };
  // Two passes find the offset in force at that wall time (the first guess may fall across a change).
  const candidates = [wall - offsetAt(wall - 86_400_000), wall - offsetAt(wall + 86_400_000)].sort((a, b) => a - b);
  for (const t of candidates) if (wall - offsetAt(t) === t) return t;
  return wall - offsetAt(wall - 86_400_000); // skipped by a DST change: the offset before it
}

/** Words for the states and statuses the API sends as codes. */
const STATE_WORDS: Record<string, string> = {
  normal: "Normal",
  "active-unacked": "Active, unacknowledged",
  "active-acked": "Active, acknowledged",
  "returned-unacked": "Returned to normal, unacknowledged",
  ok: "OK",
  stale: "Stale",
  fault: "Fault",
  offline: "Offline",
  overridden: "Overridden",
  pending: "Pending",
  executing: "Executing",
  completed: "Completed",
  failed: "Failed",
  superseded: "Superseded",
  expired: "Expired",
  operator: "Operator",
  api: "API",
  schedule: "Schedule",
  logic: "Logic program",
  optimiser: "Optimiser",
};

/** A state or status code in words: `active-acked` → "Active, acknowledged"; an unknown code readably. */
export function stateWords(code: string | null | undefined): string {
  if (!code) return "—";
  const known = STATE_WORDS[code];
  if (known) return known;
  const text = code.replace(/[-_]+/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** API timestamps are epoch seconds (or ISO strings); the UI works in epoch ms. */
export function toMs(ts: unknown): number | null {
  if (typeof ts === "number" && Number.isFinite(ts)) return ts < 1e11 ? ts * 1000 : ts;
  if (typeof ts === "string" && ts) {
    const n = Number(ts);
    if (Number.isFinite(n)) return toMs(n);
    const d = Date.parse(ts);
    return Number.isFinite(d) ? d : null;
  }
  return null;
}
