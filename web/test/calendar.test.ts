import { describe, expect, it } from "vitest";
import { calendarBody, calendarFieldErrors, newCalendarEntry, toCalendarDraft, validateCalendar } from "../src/lib/schedule";

const UK = {
  name: "Bank holidays",
  entries: [
    { holidays: "GB-ENG" },
    { date: "2026-12-24" },
    { start: "2026-12-27", end: "2026-12-31" },
    { month: 12, day: 26 },
    { month: 5, weekday: "monday", nth: -1 },
    { start: "2026-08-01", end: "2026-08-31", weekdays: ["friday"] },
  ],
};

describe("the calendar editor", () => {
  it("reads each kind of entry the API accepts and writes it back unchanged", () => {
    const d = toCalendarDraft(UK);
    expect(d.entries.map((x) => x.kind)).toEqual(["holidays", "date", "range", "yearly", "kept", "kept"]);
    expect(d.entries[3]!.monthDay).toBe("12-26");
    expect(validateCalendar(d)).toEqual({});
    expect(calendarBody(d)).toEqual(UK);
  });

  it("adds entries and writes them in the API's shapes", () => {
    const d = toCalendarDraft({ name: " Shutdowns ", entries: [] });
    d.entries.push({ ...newCalendarEntry("date"), date: "2027-01-02" });
    d.entries.push({ ...newCalendarEntry("yearly"), monthDay: "7-4" });
    d.entries.push({ ...newCalendarEntry("holidays"), holidays: " US " });
    expect(calendarBody(d)).toEqual({ name: "Shutdowns", entries: [{ date: "2027-01-02" }, { month: 7, day: 4 }, { holidays: "US" }] });
  });

  it("names each problem at its field", () => {
    const d = toCalendarDraft({ name: "x", entries: [] });
    d.entries.push(newCalendarEntry("date"));
    d.entries.push({ ...newCalendarEntry("range"), start: "2026-12-31", end: "2026-12-01" });
    d.entries.push({ ...newCalendarEntry("yearly"), monthDay: "02-30" });
    d.entries.push(newCalendarEntry("holidays"));
    d.entries.push({ ...newCalendarEntry("range"), start: "2026-02-30", end: "" });
    expect(validateCalendar(d)).toEqual({
      "entries.0.date": "Enter a date, as YYYY-MM-DD.",
      "entries.1.end": "The range ends before it starts.",
      "entries.2.month": "Enter a month and day, as MM-DD (12-25).",
      "entries.3.holidays": "Enter a country (or region) code, such as GB-ENG.",
      "entries.4.start": "Enter the first day, as YYYY-MM-DD.",
      "entries.4.end": "Enter the last day, as YYYY-MM-DD.",
    });
  });

  it("puts the server's errors beside the fields they are about", () => {
    const d = toCalendarDraft(UK);
    expect(
      calendarFieldErrors(
        {
          "entries.0.function-before[_date_rule()].HolidaysRule.holidays": "No public holidays are known for XX.",
          "entries.2.function-before[_date_rule()].RangeRule.end": "Ends before it starts.",
          "entries.3.function-before[_date_rule()].RecurringRule.day": "Too big.",
          "entries.1": "Not a date rule.",
          name: "Too long.",
        },
        d,
      ),
    ).toEqual({
      "entries.0.holidays": "No public holidays are known for XX.",
      "entries.2.end": "Ends before it starts.",
      "entries.3.month": "Too big.",
      "entries.1.date": "Not a date rule.",
      name: "Too long.",
    });
  });
});
