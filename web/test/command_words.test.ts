import { describe, expect, it } from "vitest";
import { prefill, refusalField } from "../src/components/CommandDialog";

describe("the command dialog's words and numbers", () => {
  it("pre-fills a number rounded to the point's precision", () => {
    expect(prefill({ kind: "number", states: null, value: 23.799999237060547, precision: 1 })).toBe("23.8");
    expect(prefill({ kind: "number", states: null, value: 1234.5678, precision: 0 })).toBe("1235");
    expect(prefill({ kind: "number", states: null, value: null, precision: 1 })).toBe("");
    expect(prefill({ kind: "bool", states: null, value: false, precision: 0 })).toBe("true");
  });

  it("puts a refusal beside the field it is about", () => {
    expect(refusalField("40 is above the point's maximum 30", "write")).toBe("value");
    expect(refusalField("Expected a number, not 'x'", "write")).toBe("value");
    expect(refusalField("Priority must be a whole number from 1 to 16", "write")).toBe("priority");
    expect(refusalField("The override would expire before it starts", "write")).toBe("duration_s");
    expect(refusalField("No such point, or it is not writable", "release")).toBe("priority");
  });
});

describe("the command dialog for an enum point", () => {
  const states = ["off", "occupied", "unoccupied"];
  it("starts at the state the point is in, counted from 1", () => {
    expect(prefill({ kind: "enum", states, value: 2, precision: 0 })).toBe("occupied");
    expect(prefill({ kind: "enum", states, value: 3, precision: 0 })).toBe("unoccupied");
  });
  it("starts at the first state when the value is none of them", () => {
    expect(prefill({ kind: "enum", states, value: null, precision: 0 })).toBe("off");
    expect(prefill({ kind: "enum", states, value: 0, precision: 0 })).toBe("off");
  });
});
