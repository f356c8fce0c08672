import { describe, expect, it } from "vitest";
import {
  addEvent,
  copyDay,
  daySegments,
  describeWhen,
  diff,
  localClock,
  localDate,
  localMidnight,
  newException,
  normalizeDraft,
  normalizeTime,
  parseValue,
  serverFieldErrors,
  sortEvents,
  toBody,
  toDraft,
  validate,
  type Schedule,
} from "../src/lib/schedule";

const office: Schedule = {
  id: "ahu-1-occupancy",
  site: "demo",
  name: "AHU 1",
  timezone: null,
  kind: "bool",
  default: false,
  priority: 12,
  targets: ["demo/ahu-1/fan-cmd"],
  weekly: {
    monday: [
      { time: "06:00", value: true },
      { time: "19:00", value: false },
    ],
    friday: [
      { time: "06:00", value: true },
      { time: "19:00", value: false },
    ],
  },
  exceptions: [{ name: "bank holidays", when: { calendar: "uk-holidays" }, events: [{ time: "00:00", value: false }], precedence: 10 }],
};

describe("event times and values", () => {
  it("normalizes times and refuses what is not a time of day", () => {
    expect(normalizeTime("7:00")).toBe("07:00");
    expect(normalizeTime(" 07:00:30 ")).toBe("07:00:30");
    expect(normalizeTime("07:00:00")).toBe("07:00");
    expect(normalizeTime("24:00")).toBeNull();
    expect(normalizeTime("7:5")).toBeNull();
    expect(normalizeTime("seven")).toBeNull();
  });

  it("parses values by kind, empty meaning release", () => {
    expect(parseValue("bool", "true")).toEqual({ value: true });
    expect(parseValue("bool", "")).toEqual({ value: null });
    expect(parseValue("number", "21,5")).toEqual({ value: 21.5 });
    expect(parseValue("number", "warm")).toHaveProperty("error");
    expect(parseValue("enum", "2")).toEqual({ value: 2 });
    expect(parseValue("enum", "occupied")).toEqual({ value: "occupied" });
  });

  it("sorts events by time, keeping the listed order of equal times (the last one wins)", () => {
    const sorted = sortEvents([
      { time: "19:00", value: "a" },
      { time: "7:00", value: "b" },
      { time: "07:00", value: "c" },
      { time: "bad", value: "d" },
    ]);
    expect(sorted.map((e) => e.value)).toEqual(["b", "c", "a", "d"]);
  });
});

describe("draft ⇄ schedule", () => {
  it("round-trips a schedule through the draft unchanged (missing days become empty)", () => {
    const body = toBody(toDraft(office));
    expect(body.weekly.monday).toEqual(office.weekly.monday);
    expect(body.weekly.sunday).toEqual([]);
    expect(body.exceptions).toEqual(office.exceptions);
    expect(body.default).toBe(false);
    expect(body.priority).toBe(12);
    expect(body.targets).toEqual(["demo/ahu-1/fan-cmd"]);
  });

  it("sends each day's events in time order with normalized times", () => {
    const d = toDraft(office);
    d.weekly.monday = [
      { time: "19:00", value: "false" },
      { time: "6:30", value: "true" },
    ];
    expect(toBody(d).weekly.monday).toEqual([
      { time: "06:30", value: true },
      { time: "19:00", value: false },
    ]);
    expect(normalizeDraft(d).weekly.monday.map((e) => e.time)).toEqual(["06:30", "19:00"]);
  });

  it("keeps rules the editor does not change (recurring dates, a range's weekdays)", () => {
    const s: Schedule = {
      ...office,
      exceptions: [
        { name: "may", when: { month: 5, weekday: "monday", nth: -1 }, events: [], precedence: 10 },
        { name: "summer fridays", when: { start: "2026-07-01", end: "2026-08-31", weekdays: ["friday"] }, events: [], precedence: 5 },
      ],
    };
    const d = toDraft(s);
    d.exceptions[1]!.end = "2026-09-30";
    const body = toBody(d);
    expect(body.exceptions[0]!.when).toEqual({ month: 5, weekday: "monday", nth: -1 });
    expect(body.exceptions[1]!.when).toEqual({ start: "2026-07-01", end: "2026-09-30", weekdays: ["friday"] });
  });
});

describe("validation by the API's field paths", () => {
  it("accepts the saved schedule", () => {
    expect(validate(toDraft(office), ["uk-holidays"])).toEqual({});
  });

  it("names the bad time, value, priority, date range and calendar", () => {
    const d = toDraft(office);
    d.weekly.tuesday = [{ time: "25:00", value: "maybe" }];
    d.priority = "17";
    d.exceptions.push({ ...newException("bool", "2026-12-24", []), kind: "range", start: "2026-12-31", end: "2026-12-24" });
    d.exceptions.push({ ...newException("bool", "2026-12-24", []), name: "bank holidays" });
    d.exceptions[0]!.calendar = "nowhere";
    const e = validate(d, ["uk-holidays"]);
    expect(Object.keys(e).sort()).toEqual([
      "exceptions.0.when.calendar",
      "exceptions.1.when.end",
      "exceptions.2.name",
      "priority",
      "weekly.tuesday.0.time",
      "weekly.tuesday.0.value",
    ]);
    expect(e["exceptions.1.when.end"]).toMatch(/ends before it starts/);
  });

  it("refuses impossible dates", () => {
    const d = toDraft(office);
    d.exceptions = [newException("bool", "2026-02-30", [])];
    expect(validate(d)).toHaveProperty(["exceptions.0.when.date"]);
  });

  it("maps server paths that name a union member onto the field", () => {
    expect(serverFieldErrors({ "exceptions.0.when.function-before[_date_rule(), RangeRule].end": "ends before" })).toEqual({
      "exceptions.0.when.end": "ends before",
    });
    expect(serverFieldErrors({ "weekly.monday.0.time": "bad" })).toEqual({ "weekly.monday.0.time": "bad" });
    expect(serverFieldErrors({ "targets.0": "no such point.", "targets.2": "listed twice." })).toEqual({ targets: "no such point. listed twice." });
  });
});

describe("editing", () => {
  it("adds an event an hour after the last (08:00 on an empty day)", () => {
    expect(addEvent([], "bool")).toEqual([{ time: "08:00", value: "true" }]);
    expect(addEvent([{ time: "19:00", value: "" }], "number")[1]).toEqual({ time: "20:00", value: "" });
    expect(addEvent([{ time: "23:30", value: "" }], "number")[1]!.time).toBe("23:00");
  });

  it("copies a day to others as independent copies", () => {
    const d = toDraft(office);
    const w = copyDay(d.weekly, "monday", ["saturday", "sunday", "monday"]);
    expect(w.saturday).toEqual(d.weekly.monday);
    w.saturday[0]!.time = "09:00";
    expect(w.monday[0]!.time).toBe("06:00");
    expect(w.sunday[0]!.time).toBe("06:00");
  });

  it("names new exceptions uniquely", () => {
    expect(newException("bool", "2026-01-02", ["special day"]).name).toBe("special day 2");
  });
});

describe("diff", () => {
  it("is empty for an unchanged draft, and says what changed in words", () => {
    const saved = toDraft(office);
    expect(diff(saved, toDraft(office))).toEqual([]);
    const d = toDraft(office);
    d.weekly.monday = [...d.weekly.monday, { time: "12:44", value: "false" }];
    d.exceptions = [];
    d.exceptions.push(newException("bool", "2026-06-18", []));
    expect(diff(saved, d)).toEqual([
      "Monday: 06:00 on, 19:00 off → 06:00 on, 12:44 off, 19:00 off",
      "Exception “special day” added (2026-06-18)",
      "Exception “bank holidays” removed",
    ]);
  });

  it("ignores how a value or time is written", () => {
    const saved = toDraft({ ...office, kind: "number", default: 21, weekly: { monday: [{ time: "07:00", value: 21 }] }, exceptions: [] });
    const d = { ...saved, default: "21.0", weekly: { ...saved.weekly, monday: [{ time: "7:00", value: "21" }] } };
    expect(diff(saved, d)).toEqual([]);
  });
});

describe("the week strip", () => {
  it("carries the last value of an earlier day into a day without events", () => {
    const d = toDraft(office);
    // Saturday: Friday's 19:00 off carries on all day.
    expect(daySegments(d, "saturday")).toEqual([{ from: 0, to: 86400, value: false }]);
    // Monday: off until 06:00, on until 19:00, then off.
    expect(daySegments(d, "monday")).toEqual([
      { from: 0, to: 6 * 3600, value: false },
      { from: 6 * 3600, to: 19 * 3600, value: true },
      { from: 19 * 3600, to: 86400, value: false },
    ]);
  });

  it("uses the default when no day has events", () => {
    const d = toDraft({ ...office, weekly: {}, default: true });
    expect(daySegments(d, "wednesday")).toEqual([{ from: 0, to: 86400, value: true }]);
  });
});

describe("days in the schedule's time zone", () => {
  it("finds tomorrow's local midnight, across a daylight-saving change", () => {
    // 2026-03-28 12:00 UTC, London on GMT; the clocks go forward on the 29th at 01:00 UTC.
    const t = Date.UTC(2026, 2, 28, 12) / 1000;
    expect(localMidnight(t, "Europe/London", 1)).toBe(Date.UTC(2026, 2, 29, 0) / 1000);
    expect(localMidnight(t, "Europe/London", 2)).toBe(Date.UTC(2026, 2, 29, 23) / 1000); // 00:00 BST
    expect(localMidnight(t, "America/New_York", 0)).toBe(Date.UTC(2026, 2, 28, 4) / 1000);
    expect(localDate(Date.UTC(2026, 2, 29, 23, 30) / 1000, "Europe/London")).toBe("2026-03-30");
  });

  it("reads the clock time of the API's local ISO times", () => {
    expect(localClock("2026-06-02T07:00:00+01:00")).toBe("07:00");
    expect(localClock("2026-06-02T07:00:30+01:00")).toBe("07:00:30");
  });

  it("describes date rules in words", () => {
    expect(describeWhen({ calendar: "uk-holidays" })).toBe("the days of calendar uk-holidays");
    expect(describeWhen({ holidays: "GB-ENG" })).toBe("the public holidays of GB-ENG");
    expect(describeWhen({ month: 5, weekday: "monday", nth: -1 })).toBe("the last Monday of May");
    expect(describeWhen({ month: 12, day: 25 })).toBe("25 December every year");
    expect(describeWhen({ start: "2026-12-24", end: "2027-01-01" })).toBe("2026-12-24 to 2027-01-01");
  });
});
