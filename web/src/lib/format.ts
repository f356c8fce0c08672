/** Values, units, statuses and times as operators read them. */
import type { Freshness } from "./staleness";

export interface PointShape {
  kind?: string | null;
  unit?: string | null;
  states?: readonly string[] | null;
}

const UNIT_LABELS: Record<string, string> = {
  degC: "°C",
  degF: "°F",
  K: "K",
  deltaDegC: "Δ°C",
  "%": "%",
  "%RH": "%RH",
  percent: "%",
};

/** The display label of a unit: degC → °C. */
export function unitLabel(unit: string | null | undefined): string {
  if (!unit) return "";
  return UNIT_LABELS[unit] ?? unit;
}

/** Sensible decimals for a magnitude: 21.3 °C, 0.52, 1250 kW. */
export function decimalsFor(value: number): number {
  const a = Math.abs(value);
  if (a === 0 || a >= 1000) return 0;
  if (a >= 100) return 1;
  if (a >= 1) return 1;
  return 2;
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
    if (typeof value === "number" && point.states && Number.isInteger(value)) {
      // Enum values may come as an index; states are listed in the point's order.
      return point.states[value] ?? String(value);
    }
    return String(value);
  }
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n)) return String(value);
  const text = n.toLocaleString("en-GB", {
    minimumFractionDigits: decimalsFor(n),
    maximumFractionDigits: decimalsFor(n),
    useGrouping: Math.abs(n) >= 10000,
  });
  const unit = unitLabel(point.unit);
  if (!unit) return text;
  // SI writes a space before units (21.5 °C) except the per cent sign in common use (45%).
  return unit.startsWith("%") ? `${text}${unit}` : `${text} ${unit}`;
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
  return new Date(tsMs).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" });
}

/** A local date and time, e.g. "14 Mar 2025, 09:41:07". */
export function formatTime(tsMs: number | null | undefined): string {
  if (tsMs === null || tsMs === undefined || !Number.isFinite(tsMs)) return "—";
  return new Date(tsMs).toLocaleString("en-GB", {
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
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
