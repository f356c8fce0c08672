import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { setFormatLocale } from "../src/lib/format";
import { scheduleValueWords } from "../src/pages/Schedules";

beforeEach(() => setFormatLocale("en-GB"));
afterEach(() => setFormatLocale(undefined));

describe("a schedule's values in words", () => {
  it("gives numbers the unit and precision of the points it sets", () => {
    expect(scheduleValueWords(20, "number", { kind: "number", unit: "degC", precision: 1 })).toBe("20.0 °C");
    expect(scheduleValueWords(0, "number", { kind: "number", unit: "%", precision: 0 })).toBe("0%");
  });

  it("says what a release means, and on/off for booleans (within a sentence)", () => {
    expect(scheduleValueWords(null, "number")).toBe("released (lower priorities decide)");
    expect(scheduleValueWords(true, "bool")).toBe("on");
    expect(scheduleValueWords(false, "bool")).toBe("off");
    expect(scheduleValueWords("occupied", "enum")).toBe("occupied");
  });
});

describe("an enum schedule's values in words", () => {
  const target = { kind: "enum" as const, unit: null, precision: 0, states: ["off", "occupied", "unoccupied"] };
  it("words a state number, counted from 1, by the label of the point it sets", () => {
    expect(scheduleValueWords(1, "enum", target)).toBe("off");
    expect(scheduleValueWords(2, "enum", target)).toBe("occupied");
    expect(scheduleValueWords("unoccupied", "enum", target)).toBe("unoccupied");
  });
  it("keeps a number that is no state, or one whose point is not known, as the number", () => {
    expect(scheduleValueWords(4, "enum", target)).toBe("4");
    expect(scheduleValueWords(2, "enum")).toBe("2");
  });
});
