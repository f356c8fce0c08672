import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  formatAge,
  formatCalendarDate,
  formatDate,
  formatNumber,
  formatTime,
  formatValue,
  fromZonedInput,
  inputNumber,
  pointLabel,
  setDisplayZone,
  setFormatLocale,
  stateWords,
  toZonedInput,
  unitLabel,
  zoneLabel,
} from "../src/lib/format";

beforeEach(() => {
  setFormatLocale("en-GB");
  setDisplayZone(undefined);
});
afterEach(() => {
  setFormatLocale(undefined);
  setDisplayZone(undefined);
});

describe("numbers with the point's precision", () => {
  it("rounds to the precision the API gives, not by magnitude", () => {
    expect(formatValue(23.799999237060547, { unit: "degC", precision: 1 })).toBe("23.8 °C");
    expect(formatValue(15.339190483093262, { unit: "degC", precision: 2 })).toBe("15.34 °C");
    expect(formatValue(45.4, { unit: "%", precision: 0 })).toBe("45%");
    expect(formatValue(125432.7, { unit: "kWh", precision: 0 })).toBe("125,433 kWh");
    expect(formatValue(-0.04, { unit: "degC", precision: 1 })).toBe("0.0 °C");
  });

  it("writes numbers in the locale", () => {
    setFormatLocale("de-DE");
    expect(formatValue(23.75, { unit: "degC", precision: 1 })).toBe("23,8 °C");
    expect(formatNumber(12500.5, 1)).toBe("12.500,5");
    setFormatLocale("en-US");
    expect(formatNumber(12500.5, 1)).toBe("12,500.5");
  });

  it("pre-fills an input with the rounded number, in the form an input takes", () => {
    expect(inputNumber(23.799999237060547, 1)).toBe("23.8");
    expect(inputNumber(20, 1)).toBe("20");
    expect(inputNumber(0.125, 2)).toBe("0.13");
  });
});

describe("units are symbols everywhere", () => {
  it("maps the API's units to what people write", () => {
    expect(unitLabel("degC")).toBe("°C");
    expect(unitLabel("degF")).toBe("°F");
    expect(unitLabel("m3/h")).toBe("m³/h");
    expect(unitLabel("kW")).toBe("kW");
    expect(unitLabel(null)).toBe("");
  });
});

describe("names and states as words", () => {
  it("prefers the display name", () => {
    expect(pointLabel({ name: "eff-clg-sp", display_name: "Effective cooling setpoint" })).toBe("Effective cooling setpoint");
    expect(pointLabel({ name: "eff-clg-sp" })).toBe("eff-clg-sp");
  });

  it("words alarm states, statuses and command states", () => {
    expect(stateWords("active-acked")).toBe("Active, acknowledged");
    expect(stateWords("active-unacked")).toBe("Active, unacknowledged");
    expect(stateWords("returned-unacked")).toBe("Returned to normal, unacknowledged");
    expect(stateWords("overridden")).toBe("Overridden");
    expect(stateWords("superseded")).toBe("Superseded");
    expect(stateWords("some-new_state")).toBe("Some new state");
    expect(stateWords(null)).toBe("—");
  });
});

describe("dates and times in one style, in the site's time zone", () => {
  const t = Date.UTC(2025, 2, 14, 9, 41, 7); // 14 Mar 2025 09:41:07 UTC

  it("shows the site's wall time, whatever the browser's zone", () => {
    expect(formatTime(t, "UTC")).toBe("14 Mar 2025, 09:41:07");
    expect(formatTime(t, "America/New_York")).toBe("14 Mar 2025, 05:41:07");
    setDisplayZone("Asia/Tokyo");
    expect(formatTime(t)).toBe("14 Mar 2025, 18:41:07");
    expect(formatDate(t)).toBe("14 Mar 2025");
  });

  it("follows the locale's style", () => {
    setFormatLocale("en-US");
    expect(formatTime(t, "UTC")).toBe("Mar 14, 2025, 9:41:07 AM");
  });

  it("ages past two days are a date in that style", () => {
    setDisplayZone("UTC");
    expect(formatAge(t, t + 3 * 86_400_000)).toBe("14 Mar 2025");
  });

  it("crosses a DST day: the clock change is in the site's zone, not the browser's", () => {
    // London went to summer time at 01:00 UTC on 30 March 2025.
    const before = Date.UTC(2025, 2, 30, 0, 30);
    const after = Date.UTC(2025, 2, 30, 1, 30);
    expect(formatTime(before, "Europe/London")).toBe("30 Mar 2025, 00:30:00");
    expect(formatTime(after, "Europe/London")).toBe("30 Mar 2025, 02:30:00");
    expect(zoneLabel(before, "Europe/London")).toMatch(/^Europe\/London \(GMT(\+0)?\)$/); // ICU versions differ on "+0"
    expect(zoneLabel(after, "Europe/London")).toBe("Europe/London (GMT+1)");
  });

  it("reads and writes typed times in the site's zone, across DST changes", () => {
    const z = "Europe/London";
    expect(toZonedInput(Date.UTC(2025, 6, 1, 11, 0), z)).toBe("2025-07-01T12:00");
    expect(fromZonedInput("2025-07-01T12:00", z)).toBe(Date.UTC(2025, 6, 1, 11, 0));
    expect(fromZonedInput("2025-01-15T12:00", z)).toBe(Date.UTC(2025, 0, 15, 12, 0));
    // 01:30 does not exist on 30 March 2025 in London: taken as 02:30 summer time
    expect(fromZonedInput("2025-03-30T01:30", z)).toBe(Date.UTC(2025, 2, 30, 1, 30));
    // 01:30 happens twice on 26 October 2025: the first, summer time
    expect(fromZonedInput("2025-10-26T01:30", z)).toBe(Date.UTC(2025, 9, 26, 0, 30));
    expect(fromZonedInput("14/03/2025 09:41", z)).toBeNull();
    for (const ms of [Date.UTC(2025, 2, 30, 0, 59), Date.UTC(2025, 9, 26, 1, 15), Date.UTC(2025, 11, 31, 23, 59)]) {
      expect(fromZonedInput(toZonedInput(ms, "America/New_York"), "America/New_York")).toBe(ms);
    }
  });

  it("says a typed calendar date back in words, the same in every zone", () => {
    const words = /^Thursday,? 24 December 2026$/; // ICU versions differ on the comma
    expect(formatCalendarDate("2026-12-24")).toMatch(words);
    setDisplayZone("Pacific/Kiritimati");
    expect(formatCalendarDate("2026-12-24")).toMatch(words);
    expect(formatCalendarDate("12/24/2026")).toBeNull();
    expect(formatCalendarDate("2026-02-30")).toBeNull();
  });
});

describe("enum values are state numbers counted from 1 (BACnet's multi-state convention)", () => {
  const mode = { kind: "enum" as const, states: ["off", "occupied", "unoccupied"] };
  it("words state 1 as the first label and state N as the last", () => {
    expect(formatValue(1, mode)).toBe("off");
    expect(formatValue(2, mode)).toBe("occupied");
    expect(formatValue(3, mode)).toBe("unoccupied");
  });
  it("shows a number that is no state as the number", () => {
    expect(formatValue(0, mode)).toBe("0");
    expect(formatValue(4, mode)).toBe("4");
    expect(formatValue(1.5, mode)).toBe("1.5");
  });
  it("keeps a label as it is", () => {
    expect(formatValue("occupied", mode)).toBe("occupied");
  });
});
