/**
 * Energy today and yesterday from a meter's history: the difference of a
 * cumulative kWh register across local midnights when the site has one,
 * else the integral of a kW demand point's hourly time-weighted means.
 */
import type { HistoryRollup } from "../api/types";

export interface EnergyDays {
  todayKwh: number | null;
  yesterdayKwh: number | null;
  /** Yesterday up to the same time of day, for a fair comparison with today so far. */
  yesterdaySameTimeKwh: number | null;
}

/** Local midnight today and yesterday (epoch ms) in the browser's zone. */
export function dayBounds(nowMs: number): { yesterday: number; today: number } {
  const d = new Date(nowMs);
  const today = new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const y = new Date(d.getFullYear(), d.getMonth(), d.getDate() - 1).getTime();
  return { yesterday: y, today };
}

function sumBetween(rollups: HistoryRollup[], fromS: number, toS: number, toKwh: (r: HistoryRollup) => number | null) {
  let sum = 0;
  let any = false;
  for (const r of rollups) {
    if (r.start < fromS || r.start >= toS) continue;
    const v = toKwh(r);
    if (v === null) continue;
    sum += v;
    any = true;
  }
  return any ? sum : null;
}

/** From hourly rollups of a kW point: each hour contributes mean kW × covered hours. */
export function energyFromDemand(rollups: HistoryRollup[], nowMs: number): EnergyDays {
  const { yesterday, today } = dayBounds(nowMs);
  const kwh = (r: HistoryRollup) => {
    const kw = r.tw_mean ?? r.mean;
    return kw === null ? null : (kw * (r.covered > 0 ? r.covered : 3600)) / 3600;
  };
  const y = yesterday / 1000;
  const t = today / 1000;
  const n = nowMs / 1000;
  return {
    todayKwh: sumBetween(rollups, t, n + 3600, kwh),
    yesterdayKwh: sumBetween(rollups, y, t, kwh),
    yesterdaySameTimeKwh: sumBetween(rollups, y, y + (n - t), kwh),
  };
}

/**
 * From hourly rollups of a cumulative kWh register: the reading at the end of
 * a period minus the reading at its start (a register reset shows as null).
 */
export function energyFromRegister(rollups: HistoryRollup[], nowMs: number): EnergyDays {
  const { yesterday, today } = dayBounds(nowMs);
  const y = yesterday / 1000;
  const t = today / 1000;
  const n = nowMs / 1000;
  // The last reading at or before a time: the register's value then.
  const readingAt = (s: number): number | null => {
    let best: HistoryRollup | null = null;
    for (const r of rollups) {
      if (r.last === null || r.last_ts === null || r.last_ts > s) continue;
      if (!best || (best.last_ts ?? 0) < r.last_ts) best = r;
    }
    return best?.last ?? null;
  };
  const diff = (a: number | null, b: number | null) => (a === null || b === null || b < a ? null : b - a);
  const atY = readingAt(y);
  const atT = readingAt(t);
  return {
    todayKwh: diff(atT, readingAt(n)),
    yesterdayKwh: diff(atY, atT),
    yesterdaySameTimeKwh: diff(atY, readingAt(y + (n - t))),
  };
}

/** Energy in one bucket (hour or day) of a meter. */
export interface EnergyBucket {
  /** Start of the bucket, epoch s. */
  start: number;
  kwh: number | null;
}

export type MeterKind = "register" | "demand";

/** Whether a point is a cumulative kWh register, a kW demand point, or no meter. */
export function meterKind(p: { unit: string | null; tags: string[] }): MeterKind | null {
  const u = (p.unit ?? "").toLowerCase();
  if (u === "kwh" || u === "mwh" || u === "wh") return "register";
  if (u === "kw" && (p.tags.includes("elec") || p.tags.includes("meter") || p.tags.includes("energy"))) return "demand";
  if (p.tags.includes("meter") || p.tags.includes("energy")) return u.endsWith("w") ? "demand" : u.endsWith("wh") ? "register" : null;
  return null;
}

/**
 * Energy per bucket from rollups of a cumulative register: each bucket's last
 * reading minus the previous bucket's (null for a gap or a reset); the first
 * bucket counts from its own lowest reading.
 */
export function bucketsFromRegister(rollups: readonly HistoryRollup[]): EnergyBucket[] {
  const sorted = [...rollups].sort((a, b) => a.start - b.start);
  let prev: number | null = null;
  return sorted.map((r) => {
    // The first bucket has no reading before it: what the register counted within it (last − min).
    const kwh =
      r.last === null
        ? null
        : prev === null
          ? r.min !== null && r.last >= r.min ? r.last - r.min : null
          : r.last < prev ? null : r.last - prev;
    if (r.last !== null) prev = r.last;
    return { start: r.start, kwh };
  });
}

/** Energy per bucket from rollups of a kW point: time-weighted mean kW × the hours covered. */
export function bucketsFromDemand(rollups: readonly HistoryRollup[]): EnergyBucket[] {
  return [...rollups]
    .sort((a, b) => a.start - b.start)
    .map((r) => {
      const kw = r.tw_mean ?? r.mean;
      return { start: r.start, kwh: kw === null ? null : (kw * (r.covered > 0 ? r.covered : 3600)) / 3600 };
    });
}

export function buckets(kind: MeterKind, rollups: readonly HistoryRollup[]): EnergyBucket[] {
  return kind === "register" ? bucketsFromRegister(rollups) : bucketsFromDemand(rollups);
}

/** The sum of the buckets starting in [fromS, toS) (null when none has a value). */
export function total(list: readonly EnergyBucket[], fromS: number, toS: number): number | null {
  let sum = 0;
  let any = false;
  for (const b of list) {
    if (b.start < fromS || b.start >= toS || b.kwh === null) continue;
    sum += b.kwh;
    any = true;
  }
  return any ? sum : null;
}

/**
 * Peak demand: for a kW point the highest hourly maximum; for a register the
 * highest hourly energy (its mean kW over that hour).
 */
export function peakDemand(kind: MeterKind, hourly: readonly HistoryRollup[]): { kw: number; at: number } | null {
  let best: { kw: number; at: number } | null = null;
  if (kind === "demand") {
    for (const r of hourly) {
      const v = r.max ?? r.tw_mean ?? r.mean;
      if (v !== null && (!best || v > best.kw)) best = { kw: v, at: r.start };
    }
  } else {
    for (const b of bucketsFromRegister(hourly)) {
      if (b.kwh !== null && (!best || b.kwh > best.kw)) best = { kw: b.kwh, at: b.start };
    }
  }
  return best;
}

/** This period against the previous one: the difference and its percentage (null when unknown). */
export function compare(current: number | null, previous: number | null): { delta: number | null; pct: number | null } {
  if (current === null || previous === null) return { delta: null, pct: null };
  const delta = current - previous;
  return { delta, pct: previous === 0 ? null : (delta / previous) * 100 };
}

/** Add bucket lists of several meters by bucket start (a site's total of the meters shown). */
export function sumBuckets(lists: readonly EnergyBucket[][]): EnergyBucket[] {
  const m = new Map<number, number | null>();
  for (const list of lists) {
    for (const b of list) {
      const cur = m.get(b.start);
      if (b.kwh === null) {
        if (cur === undefined) m.set(b.start, null);
      } else m.set(b.start, (cur ?? 0) + b.kwh);
    }
  }
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([start, kwh]) => ({ start, kwh }));
}
