import { describe, expect, it } from "vitest";
import type { Cost, MeterForecast, Peaks } from "../src/api/types";
import {
  anomalyKind,
  bandFraction,
  bandPath,
  bandTotal,
  costParts,
  costTotals,
  downloadName,
  forecastBand,
  formatMoney,
  linePath,
  monthPeak,
} from "../src/lib/energyInsights";
import { setFormatLocale } from "../src/lib/format";

const T0 = Date.UTC(2026, 11, 7, 14) / 1000;

function forecast(kwh: number[], actual: (number | null)[] = []): MeterForecast {
  return {
    meter: "demo/meters/elec-kwh",
    name: "Electricity",
    commodity: "elec",
    issued: T0,
    // Out of order on purpose: the band is in time order.
    hours: kwh.map((v, i) => ({ start: T0 + i * 3600, horizon: i + 1, kwh: v, temperature: null, actual_kwh: actual[i] ?? null })).reverse(),
    windows: [],
  };
}

describe("the next day's forecast band", () => {
  it("is the day-ahead CV(RMSE) once a day of hours is scored, none before", () => {
    expect(bandFraction({ horizon: 24, n: 24, mape_pct: 8, cvrmse_pct: 12.5 })).toBe(0.125);
    expect(bandFraction({ horizon: 24, n: 23, mape_pct: 8, cvrmse_pct: 12.5 })).toBeNull();
    expect(bandFraction({ horizon: 24, n: 100, mape_pct: null, cvrmse_pct: null })).toBeNull();
    expect(bandFraction(null)).toBeNull();
  });

  it("spans each hour by the fraction, never below zero, with the actuals so far", () => {
    const band = forecastBand(forecast([10, 20, 0.5], [11, null]), 0.25);
    expect(band.map((h) => h.start)).toEqual([T0, T0 + 3600, T0 + 7200]);
    expect(band.map((h) => [h.low, h.kwh, h.high])).toEqual([[7.5, 10, 12.5], [15, 20, 25], [0.375, 0.5, 0.625]]);
    expect(band.map((h) => h.actual)).toEqual([11, null, null]);
    expect(forecastBand(forecast([10]), 1.5)[0]!.low).toBe(0);
  });

  it("keeps the first 24 hours of a 48-hour forecast", () => {
    const band = forecastBand(forecast(Array.from({ length: 48 }, (_, i) => i)), null);
    expect(band).toHaveLength(24);
    expect(band[23]!.kwh).toBe(23);
    expect(band.every((h) => h.low === null && h.high === null)).toBe(true);
  });

  it("adds up the hours and their bounds", () => {
    expect(bandTotal(forecastBand(forecast([10, 20]), 0.1))).toEqual({ kwh: 30, low: 27, high: 33 });
    expect(bandTotal(forecastBand(forecast([10, 20]), null))).toEqual({ kwh: 30, low: null, high: null });
    expect(bandTotal([])).toEqual({ kwh: 0, low: null, high: null });
  });
});

describe("the charts' paths", () => {
  it("draws a line through the values and breaks it at a gap", () => {
    expect(linePath([0, 10, 5], 10, 100, 50)).toBe("M0,50L50,0L100,25");
    expect(linePath([0, null, 5, 10], 10, 90, 50)).toBe("M-7.5,50L7.5,50M60,25L90,0");
    expect(linePath([null, null], 10, 100, 50)).toBe("");
  });

  it("closes the band between low and high, split by a gap", () => {
    expect(bandPath([0, 5], [10, 10], 10, 100, 50)).toBe("M0,0L100,0L100,25L0,50Z");
    expect(bandPath([0, 5, null, 1, 1], [10, 10, null, 2, 2], 10, 100, 50)).toBe("M0,0L25,0L25,25L0,50ZM75,40L100,40L100,45L75,45Z");
  });
});

const COST: Cost = {
  site: "demo",
  timezone: "Europe/London",
  tariff: "tou",
  currency: "GBP",
  bucket: "month",
  until: T0,
  totals: [0],
  series: ["a", "b"].map((m, i) => ({
    meter: m,
    name: m,
    periods: [
      {
        start: T0 - 86_400,
        end: T0 + 86_400 * 30,
        date: "2026-12-01",
        partial: true,
        kwh: 300,
        energy_cost: 60,
        demand_cost: i === 0 ? 25 : null,
        fixed_cost: 5,
        total: i === 0 ? 90 : 65,
        unknown_s: i * 3600,
        lines: [
          { kind: "fixed", name: "Standing charge", quantity: 0.25, unit: "month", rate: 20, amount: 5, at: null },
          { kind: "energy", name: "Peak", quantity: 100, unit: "kWh", rate: 0.3, amount: 30, at: null },
          { kind: "energy", name: "Off-peak", quantity: 200, unit: "kWh", rate: 0.15, amount: 30, at: null },
          ...(i === 0 ? [{ kind: "demand" as const, name: "Demand", quantity: 50, unit: "kW", rate: 0.5, amount: 25, at: T0 - 3600 }] : []),
        ],
      },
    ],
  })),
};

describe("the month's cost and peak", () => {
  it("lists the tariff's parts once for all meters: energy, demand, fixed", () => {
    setFormatLocale("en-GB");
    const parts = costParts(COST, 0);
    expect(parts.map((p) => [p.kind, p.name, p.amount])).toEqual([
      ["energy", "Peak", 60],
      ["energy", "Off-peak", 60],
      ["demand", "Demand", 25],
      ["fixed", "Standing charge", 10],
    ]);
    expect(parts[0]!.basis).toBe("200 kWh × 0.3000");
    expect(parts[3]!.basis).toBe("0.50 month × 20.00");
    expect(parts[2]!.at).toBe(T0 - 3600);
    expect(costParts(COST, 1)).toEqual([]);
    setFormatLocale(undefined);
  });

  it("totals the period by kind, demand only where a meter carries one", () => {
    expect(costTotals(COST, 0)).toEqual({ energy: 120, demand: 25, fixed: 10, total: 155, unknownS: 3600 });
    const noDemand = { ...COST, series: COST.series.slice(1) };
    expect(costTotals(noDemand, 0).demand).toBeNull();
  });

  it("writes money in the tariff's currency", () => {
    expect(formatMoney(1234.5, "GBP", "en-GB")).toBe("£1,234.50");
    expect(formatMoney(2, "EUR", "en-GB")).toBe("€2.00");
    expect(formatMoney(2, "not a code", "en-GB")).toBe("2.00 not a code");
  });

  it("takes each series' last period's peak, leaving out the unknown", () => {
    const peaks: Peaks = {
      site: "demo", timezone: "UTC", bucket: "month", window_minutes: 15, until: T0,
      series: [
        { id: "s", kind: "site", name: "Site elec", commodity: "elec", periods: [{ start: 0, end: 1, date: null, kw: 90, at: T0 - 900, partial: true }] },
        { id: "g", kind: "site", name: "Site gas", commodity: "gas", periods: [{ start: 0, end: 1, date: null, kw: null, at: null, partial: true }] },
      ],
    };
    expect(monthPeak(peaks)).toEqual([{ kw: 90, at: T0 - 900, name: "Site elec" }]);
  });
});

describe("downloads and words", () => {
  it("saves under the server's file name, never a folder", () => {
    expect(downloadName('attachment; filename="demo-cost.csv"', "x.csv")).toBe("demo-cost.csv");
    expect(downloadName("attachment; filename*=UTF-8''d%C3%A9mo-cost.xlsx; filename=demo.xlsx", "x")).toBe("démo-cost.xlsx");
    expect(downloadName('attachment; filename="../../etc/passwd"', "x")).toBe("passwd");
    expect(downloadName(null, "fallback.csv")).toBe("fallback.csv");
    expect(downloadName("attachment", "fallback.csv")).toBe("fallback.csv");
  });

  it("says what an anomaly is", () => {
    expect(anomalyKind("base_load")).toBe("Base load creeping up");
    expect(anomalyKind("new_kind")).toBe("new kind");
  });
});

describe("a meter over a period (the anomalies' links)", () => {
  it("reads the meter, the period and the hours to ask for", async () => {
    const { meterPeriod } = await import("../src/lib/energyInsights");
    expect(meterPeriod("meter=meters/elec-kwh&since=7200&until=93600")).toEqual({ meter: "meters/elec-kwh", since: 7200, until: 93600, hours: 24 });
    expect(meterPeriod("meter=m&since=0&until=5400")).toMatchObject({ hours: 2 });
    expect(meterPeriod("meter=m&since=0&until=36000000")).toMatchObject({ hours: 999 });
    expect(meterPeriod("")).toBeNull();
    expect(meterPeriod("meter=m&until=5")).toEqual({ error: "since: expected the period's start in epoch seconds" });
    expect(meterPeriod("meter=m&since=5&until=x")).toEqual({ error: "until: expected the period's end in epoch seconds" });
    expect(meterPeriod("meter=m&since=5&until=5")).toEqual({ error: "until: expected a time after since" });
  });
});
