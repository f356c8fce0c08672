import { describe, expect, it } from "vitest";
import {
  confidenceFromPercent,
  addDays,
  confidenceWords,
  defaultPeriods,
  exclusionParams,
  isDate,
  parseExclusion,
  parseReportQuery,
  pct,
  periodSeconds,
  reportPath,
  reportSearch,
  savingsBucket,
  savingsParams,
  savingsWords,
  statRows,
  verdict,
  type ReportQuery,
} from "../src/lib/mvReport";
import type { MvBaselineSummary, MvModel, MvSavings } from "../src/api/types";

const Q: ReportQuery = {
  meter: "meters/elec-kwh",
  baseline: { start: "2025-03-01", end: "2026-03-01" },
  reporting: { start: "2026-03-01", end: "2026-04-01" },
  exclude: [{ start: "2026-03-10", end: "2026-03-12", note: "chiller replaced / tested" }],
  confidence: 0.9,
};

describe("the report's address", () => {
  it("reads back what it wrote", () => {
    const search = reportSearch(Q);
    expect(parseReportQuery(search)).toEqual({ query: Q, errors: [] });
    expect(reportSearch({ ...Q, confidence: 0.68 })).toContain("confidence=0.68");
    expect(parseReportQuery(reportSearch({ ...Q, confidence: 0.68 })).query?.confidence).toBe(0.68);
    expect(parseReportQuery(reportSearch({ ...Q, confidence: 0.4 })).errors).toEqual(["confidence: expected a number from 0.5 to 0.999 (0.9 for 90 %), not “0.4”"]);
    expect(reportPath("my site", Q)).toBe(`/sites/my%20site/energy/report?${search}`);
  });

  it("says what is wrong with each part, and where", () => {
    const { query, errors } = parseReportQuery("baseline=2025-01-01/2025-02-30&reporting=2026-02-01/2026-01-01&exclude=2026-01-05/2026-01-06&confidence=90");
    expect(query).toBeNull();
    expect(errors).toEqual([
      "meter: expected the meter, e.g. meter=meters/elec-kwh",
      "baseline: expected two dates START/END written YYYY-MM-DD, e.g. 2025-01-01/2026-01-01, not “2025-01-01/2025-02-30”",
      "reporting: the end (2026-01-01) must be after the start (2026-02-01)",
      "exclude: 2026-01-05/2026-01-06 needs a note saying why it is left out, e.g. “2026-01-05/2026-01-06 chiller replaced”",
      "confidence: expected a number from 0.5 to 0.999 (0.9 for 90 %), not “90”",
    ]);
  });

  it("reads a confidence typed as a percentage as the server takes it", () => {
    expect(confidenceFromPercent("99.9")).toBe(0.999); // not 0.9990000000000001, which the server refuses
    expect(confidenceFromPercent("90")).toBe(0.9);
    expect(confidenceFromPercent("50")).toBe(0.5);
    expect([confidenceFromPercent("99.95"), confidenceFromPercent("49"), confidenceFromPercent(""), confidenceFromPercent("x")]).toEqual([null, null, null, null]);
  });

  it("refuses a confidence the server refuses (above 0.999), saying so before asking it", () => {
    const { errors } = parseReportQuery("meter=m/kwh&baseline=2025-01-01/2026-01-01&reporting=2026-01-01/2026-02-01&confidence=0.9995");
    expect(errors).toEqual(["confidence: expected a number from 0.5 to 0.999 (0.9 for 90 %), not “0.9995”"]);
    expect(parseReportQuery("meter=m/kwh&baseline=2025-01-01/2026-01-01&reporting=2026-01-01/2026-02-01&confidence=0.999").query?.confidence).toBe(0.999);
  });

  it("refuses a reporting period that starts inside the baseline", () => {
    const { errors } = parseReportQuery("meter=m/kwh&baseline=2025-01-01/2026-01-01&reporting=2025-12-01/2026-02-01");
    expect(errors).toEqual(["reporting: it starts (2025-12-01) before the baseline ends (2026-01-01); the reporting period follows the baseline"]);
  });

  it("knows a calendar date and counts days across months and leap years", () => {
    expect(isDate("2024-02-29")).toBe(true);
    expect(isDate("2025-02-29")).toBe(false);
    expect(isDate("2025-1-01")).toBe(false);
    expect(addDays("2024-03-01", -1)).toBe("2024-02-29");
    expect(addDays("2025-12-31", 1)).toBe("2026-01-01");
    expect(parseExclusion("2026-03-02/2026-03-09   boiler out ")).toEqual({ start: "2026-03-02", end: "2026-03-09", note: "boiler out" });
  });
});

describe("periods by the server's clock in the site's zone", () => {
  it("proposes the last 30 whole local days and the year before them", () => {
    // 23:30 UTC on 31 March is already 1 April in Berlin (UTC+2).
    const now = Date.UTC(2026, 2, 31, 23, 30);
    expect(defaultPeriods(now, "Europe/Berlin")).toEqual({
      baseline: { start: "2025-03-02", end: "2026-03-02" },
      reporting: { start: "2026-03-02", end: "2026-04-01" },
    });
    expect(defaultPeriods(now, "America/New_York").reporting).toEqual({ start: "2026-03-01", end: "2026-03-31" });
  });

  it("turns local dates into the site's midnights, across a clock change", () => {
    const s = periodSeconds({ start: "2026-03-29", end: "2026-03-30" }, "Europe/London");
    expect(s.start).toBe(Date.UTC(2026, 2, 29, 0) / 1000);
    expect(s.end).toBe(Date.UTC(2026, 2, 29, 23) / 1000); // a 23-hour day
    expect(exclusionParams([{ start: "2026-03-29", end: "2026-03-30", note: "a/b" }], "Europe/London")).toEqual([`${s.start}/${s.end}/a/b`]);
  });

  it("asks the savings of the report's periods, in days, weeks or months by length", () => {
    const p = savingsParams(Q, "UTC");
    expect(p).toEqual({
      meter: "meters/elec-kwh",
      baseline_start: Date.UTC(2025, 2, 1) / 1000,
      baseline_end: Date.UTC(2026, 2, 1) / 1000,
      start: Date.UTC(2026, 2, 1) / 1000,
      end: Date.UTC(2026, 3, 1) / 1000,
      confidence: 0.9,
      exclude: [`${Date.UTC(2026, 2, 10) / 1000}/${Date.UTC(2026, 2, 12) / 1000}/chiller replaced / tested`],
    });
    expect(savingsBucket(Q, "UTC")).toBe("day");
    expect(savingsBucket({ ...Q, reporting: { start: "2026-03-01", end: "2026-09-01" } }, "UTC")).toBe("week");
    expect(savingsBucket({ ...Q, reporting: { start: "2026-03-01", end: "2027-09-01" } }, "UTC")).toBe("month");
  });

  it("counts a period's length in local days, not in hours: a clock change moves no bucket", () => {
    // 62 days over London's autumn change (25 October 2026) are 62 × 24 + 1 hours: still days.
    const autumn = { ...Q, reporting: { start: "2026-09-01", end: "2026-11-02" } };
    expect(savingsBucket(autumn, "Europe/London")).toBe("day");
    expect(savingsBucket({ ...Q, reporting: { start: "2026-09-01", end: "2026-11-03" } }, "Europe/London")).toBe("week");
    // 366 days over both changes: weeks; 367: months.
    expect(savingsBucket({ ...Q, reporting: { start: "2027-10-01", end: "2028-10-01" } }, "Europe/London")).toBe("week");
    expect(savingsBucket({ ...Q, reporting: { start: "2027-10-01", end: "2028-10-02" } }, "Europe/London")).toBe("month");
  });
});

const DAILY: MvModel["daily"] = {
  kind: "intercept", intercept_kwh: 1000, heating_balance_c: null, heating_slope_kwh_per_degc_day: null,
  cooling_balance_c: null, cooling_slope_kwh_per_degc_day: null,
};

const BASE: MvBaselineSummary = {
  start: 0,
  end: 1,
  method_asked: "auto",
  rows: 8592,
  excluded_rows: 48,
  missing_hours: 3,
  exclusions: [],
  statistics: { cvrmse_pct: 12.3456, nmbe_pct: -0.004, r2: 0.98041, n: 8592, p: 180, autocorrelation: 0.0461, mean_kwh: 51.234 },
  guideline14: { met: true, cvrmse_max_pct: 30, nmbe_max_pct: 10, reasons: [] },
  model: { method: "hourly", name: "time-of-week-and-temperature (hourly)", interval: "hourly", candidates_cvrmse_pct: {}, daily: DAILY, hourly: null, words: [] },
};

describe("the statistics and the verdict", () => {
  it("lists each statistic with the server's criterion", () => {
    const rows = statRows(BASE, "en-GB");
    expect(rows.map((r) => [r.name, r.value, r.criterion, r.met])).toEqual([
      ["CV(RMSE)", "12.35 %", "≤ 30 %", true],
      ["NMBE", "0.00 %", "within ±10 %", true],
      ["R²", "0.9804", "", null],
      ["Rows fitted (n)", "8,592", "", null],
      ["Parameters (p)", "180", "", null],
      ["Lag-1 autocorrelation of the residuals", "0.046", "", null],
      ["Mean energy of an hour", "51.23 kWh", "", null],
    ]);
    expect(verdict(BASE)).toBe("Meets ASHRAE Guideline 14 (CV(RMSE) ≤ 30 % and NMBE within ±10 %).");
  });

  it("says which criterion is missed, in the server's words", () => {
    const bad = { ...BASE, statistics: { ...BASE.statistics, cvrmse_pct: 41 }, guideline14: { ...BASE.guideline14, met: false, reasons: ["CV(RMSE) 41.0 % is above 30 %"] } };
    expect(statRows(bad).map((r) => r.met).slice(0, 2)).toEqual([false, true]);
    expect(verdict(bad)).toBe("Does not meet ASHRAE Guideline 14 (CV(RMSE) ≤ 30 % and NMBE within ±10 %): CV(RMSE) 41.0 % is above 30 %.");
    const none = { ...BASE, statistics: { ...BASE.statistics, cvrmse_pct: null } };
    expect(statRows(none)[0]).toMatchObject({ value: "—", met: false });
  });
});

const SAVED: MvSavings = {
  site: "demo", timezone: "Europe/London", meter: "demo/meters/elec-kwh", temperature: "demo/weather/oat", baseline: BASE, start: 0, end: 1, rows: 719, excluded_rows: 0, missing_hours: 0,
  exclusions: [], adjusted_baseline_kwh: 44101.4, actual_kwh: 39711.2, avoided_kwh: 4390.2, savings_pct: 9.9548, confidence: 0.9,
  fsu_pct: 3.71, low_kwh: 4227.6, high_kwh: 4552.8, bucket: "day", series: [],
};

describe("the savings in words", () => {
  const k = (v: number) => `${v.toFixed(1)} kWh`;
  it("gives the avoided energy, its share and its range at the confidence", () => {
    expect(savingsWords(SAVED, k)).toBe("Avoided energy: 4390.2 kWh (9.95 % of the adjusted baseline), ± 3.7 % of the savings at 90 % confidence: between 4227.6 kWh and 4552.8 kWh.");
  });

  it("says so when more was used, or when the uncertainty is unbounded", () => {
    const none = { ...SAVED, avoided_kwh: -10, savings_pct: -0.02, fsu_pct: null, low_kwh: null, high_kwh: null };
    expect(savingsWords(none, k)).toBe("More energy used than the baseline: 10.0 kWh (−0.02 % of the adjusted baseline); the uncertainty is unbounded (nothing was saved to measure it against).");
  });

  it("writes percentages and confidences", () => {
    expect(pct(null)).toBe("—");
    expect(pct(-0.001)).toBe("0.00 %");
    expect(pct(12.345, 1)).toBe("12.3 %");
    expect(confidenceWords(0.9)).toBe("90 %");
    expect(confidenceWords(0.683)).toBe("68.3 %");
  });
});

describe("the report's route", () => {
  it("is the energy page with the report's query; the energy page without one", async () => {
    const { parseRoute } = await import("../src/router");
    expect(parseRoute(`/sites/hq/energy/report?${reportSearch(Q)}`)).toEqual({ name: "energy", site: "hq", report: reportSearch(Q) });
    expect(parseRoute("/sites/hq/energy")).toEqual({ name: "energy", site: "hq" });
    expect(parseRoute("/sites/hq/energy/other").name).toBe("not-found");
    const route = parseRoute(reportPath("hq", Q));
    expect(route.name === "energy" && parseReportQuery(route.report ?? "").query).toEqual(Q);
  });
});
