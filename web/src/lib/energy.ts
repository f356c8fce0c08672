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
