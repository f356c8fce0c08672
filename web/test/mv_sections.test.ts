import { describe, expect, it } from "vitest";
import type { MvBaseline, MvSavings } from "../src/api/types";
import { setFormatLocale } from "../src/lib/format";
import { BaselineSection, SavingsSection } from "../src/pages/energy/MvSections";
import { LineChart } from "../src/pages/energy/LineChart";
import { html } from "./render";

const DAY = 86_400;
const T0 = Date.UTC(2026, 2, 1) / 1000;

const BASELINE: MvBaseline = {
  site: "demo",
  timezone: "Europe/London",
  method_asked: "auto",
  meter: "demo/meters/elec-kwh",
  temperature: "demo/ahu-1/oat",
  start: T0 - 14 * DAY,
  end: T0,
  rows: 312,
  excluded_rows: 24,
  missing_hours: 0,
  exclusions: [{ start: T0 - 3 * DAY, end: T0 - 2 * DAY, note: "meter tested", rows: 24 }],
  statistics: { cvrmse_pct: 9.87, nmbe_pct: 0, r2: 0.95, n: 312, p: 176, autocorrelation: 0.2, mean_kwh: 40.5 },
  guideline14: { met: true, cvrmse_max_pct: 30, nmbe_max_pct: 10, reasons: [] },
  model: {
    method: "hourly",
    name: "time-of-week-and-temperature (hourly)",
    interval: "hourly",
    candidates_cvrmse_pct: { daily: 11.5, hourly: 2.1 },
    daily: { kind: "heating", intercept_kwh: 700, heating_balance_c: 14.5, heating_slope_kwh_per_degc_day: 69.9, cooling_balance_c: null, cooling_slope_kwh_per_degc_day: null },
    hourly: { occupied_hours: 60, occupied: ["Mon 07:00-19:00"], knots_c: [-1.1, 7.2] },
    words: ["Occupied Mon 07:00-19:00"],
  },
  series: [0, 1, 2].map((i) => ({ start: T0 - (3 - i) * DAY, date: `2026-02-2${6 + i}`, actual: 900 + i, expected: 905, excluded: i === 0 })),
};

const SAVINGS: MvSavings = {
  site: "demo",
  timezone: "Europe/London",
  meter: "demo/meters/elec-kwh",
  temperature: "demo/ahu-1/oat",
  baseline: BASELINE,
  start: T0,
  end: T0 + 2 * DAY,
  rows: 48,
  excluded_rows: 0,
  missing_hours: 2,
  exclusions: [],
  adjusted_baseline_kwh: 2000,
  actual_kwh: 1800,
  avoided_kwh: 200,
  savings_pct: 10,
  confidence: 0.9,
  fsu_pct: 20,
  low_kwh: 160,
  high_kwh: 240,
  bucket: "day",
  series: [
    { start: T0, end: T0 + DAY, date: "2026-03-01", actual: 900, expected: 1000, avoided: 100, cumulative_avoided: 100 },
    { start: T0 + DAY, end: T0 + 2 * DAY, date: "2026-03-02", actual: 900, expected: 1000, avoided: 100, cumulative_avoided: 200 },
  ],
};

describe("the M&V sections of the page and the report", () => {
  it("show the savings with their uncertainty, the charts and a row per day", () => {
    setFormatLocale("en-GB");
    const out = html(SavingsSection({ s: SAVINGS, timeZone: "Europe/London" }));
    expect(out).toContain("Avoided energy: 200.0 kWh (10.00 % of the adjusted baseline), ± 20.0 % of the savings at 90 % confidence: between 160.0 kWh and 240.0 kWh.");
    expect(out).toContain('data-testid="mv-avoided">200.0 kWh<');
    expect(out).toContain("160.0 kWh to 240.0 kWh");
    expect(out).toContain("48 rows compared, 0 excluded, 2 hours missing");
    expect(out).toContain('data-testid="mv-reporting-chart"');
    expect((out.match(/<tr>/g) ?? []).length).toBe(3); // the header and two days
    expect(out).toContain("No non-routine event excluded from the reporting period.");
    setFormatLocale(undefined);
  });

  it("show the baseline's verdict, statistics with their criteria, model and exclusions with notes", () => {
    setFormatLocale("en-GB");
    const out = html(BaselineSection({ b: BASELINE, timeZone: "Europe/London" }));
    expect(out).toContain("Baseline, time-of-week-and-temperature (hourly)");
    expect(out).toContain('class="verdict verdict--met"');
    expect(out).toContain("Meets ASHRAE Guideline 14 (CV(RMSE) ≤ 30 % and NMBE within ±10 %).");
    expect(out).toContain("9.87 %");
    expect(out).toContain("≤ 30 %: met");
    expect(out).toContain("Occupied Mon 07:00-19:00");
    expect(out).toContain("CV(RMSE) of whole days' totals by model: daily 11.50 %, hourly 2.10 %.");
    expect(out).toContain("meter tested");
    expect(out).toContain("26 Feb 2026");
    expect(out).toContain('data-testid="mv-baseline-chart"');
    setFormatLocale(undefined);
  });

  it("mark a baseline that misses Guideline 14 as such", () => {
    const bad = { ...BASELINE, guideline14: { ...BASELINE.guideline14, met: false, reasons: ["CV(RMSE) 41.0 % is above 30 %"] } };
    const out = html(BaselineSection({ b: bad, timeZone: "UTC" }));
    expect(out).toContain('class="verdict verdict--not-met"');
    expect(out).toContain("≤ 30 %: not met");
  });
});

describe("the line chart", () => {
  it("draws each line and the band, and tells the numbers to screen readers", () => {
    const out = html(
      LineChart({
        title: "Forecast",
        labels: ["00:00", "01:00", "02:00"],
        lines: [
          { label: "Forecast", values: [10, 20, 10], colour: "var(--accent)", dashed: true },
          { label: "Actual", values: [11, null, null], colour: "var(--fg)" },
        ],
        band: { label: "Typical error", low: [9, 18, 9], high: [11, 22, 11] },
      }),
    );
    expect(out).toContain('class="linechart__band"');
    // The axis runs to 30 kWh (round ticks above the band's 22): 10 kWh is two thirds down.
    expect(out).toContain('data-label="Forecast" d="M0,66.67L300,33.33L600,66.67"');
    expect(out).toContain("Forecast (kWh): Forecast: 00:00 10, 01:00 20, 02:00 10; Actual: 00:00 11, 01:00 —, 02:00 —");
    expect(out).toContain("Typical error");
  });
});
