import { describe, expect, it } from "vitest";
import type { ProgramOverride } from "../src/api/types";
import { formatTime, setDisplayZone } from "../src/lib/format";
import { heldTargets, overrideFormFor, overrideRequest, overridesOf, overrideWords } from "../src/editor/overrides";

const form = (value: string, minutes = "30", reason = "commissioning") => ({ value, minutes, reason });

describe("the override request built from the side panel's form", () => {
  it("a number port takes a number; the duration is sent in seconds, the reason trimmed", () => {
    expect(overrideRequest("pid.out", "number", form(" 42.5 ", "1.5", "  loop tuning "))).toEqual({
      body: { port: "pid.out", value: 42.5, duration_s: 90, reason: "loop tuning" },
    });
  });

  it("a bool port takes true/false, on/off and 1/0 as booleans, never a number", () => {
    expect(overrideRequest("hyst.out", "bool", form("on"))).toMatchObject({ body: { value: true } });
    expect(overrideRequest("hyst.out", "bool", form("FALSE"))).toMatchObject({ body: { value: false } });
    expect(overrideRequest("hyst.out", "bool", form("1"))).toMatchObject({ body: { value: true } });
    expect(overrideRequest("hyst.out", "bool", form("0"))).toMatchObject({ body: { value: false } });
    expect(overrideRequest("hyst.out", "bool", form("2"))).toEqual({ error: "Value: expected true or false (on/off, 1/0), got “2”." });
  });

  it("a number port refuses words; an any port takes either", () => {
    expect(overrideRequest("pid.out", "number", form("on"))).toEqual({ error: "Value: expected a number, got “on”." });
    expect(overrideRequest("sel.out", "any", form("true"))).toMatchObject({ body: { value: true } });
    expect(overrideRequest("sel.out", "any", form("7"))).toMatchObject({ body: { value: 7 } });
    expect(overrideRequest("sel.out", "any", form(""))).toEqual({ error: "Value: expected a number or true/false, got “”." });
  });

  it("the duration is more than 0 and at most 7 days, the reason required; each error names its field", () => {
    expect(overrideRequest("pid.out", "number", form("1", "0"))).toHaveProperty("error", expect.stringMatching(/^Duration: .*got “0”/));
    expect(overrideRequest("pid.out", "number", form("1", "10081"))).toHaveProperty("error", expect.stringMatching(/^Duration: .*at most 10080/));
    expect(overrideRequest("pid.out", "number", form("1", "soon"))).toHaveProperty("error", expect.stringMatching(/^Duration:/));
    expect(overrideRequest("pid.out", "number", form("1", "10080"))).toMatchObject({ body: { duration_s: 604800 } });
    expect(overrideRequest("pid.out", "number", form("1", "30", "   "))).toEqual({ error: "Reason: say why (it is kept in the audit log)." });
  });

  it("the form starts from the live value", () => {
    expect(overrideFormFor(true)).toEqual({ value: "true", minutes: "30", reason: "" });
    expect(overrideFormFor(undefined).value).toBe("");
    expect(overrideFormFor(null).value).toBe("");
  });
});

describe("the listing's words and what is marked held", () => {
  const block: ProgramOverride = {
    port: "econ.out", kind: "block", value: true, until: Date.UTC(2025, 2, 14, 9, 41, 7) / 1000, point: null,
    priority: null, command_id: null, requested_by: "ann@example.com", reason: "damper check",
  };
  const point: ProgramOverride = {
    port: "damper", kind: "point", value: 40, until: null, point: "demo/ahu-1/oad-cmd", priority: 8,
    command_id: "c1", requested_by: "bob", reason: "",
  };

  it("says what is held, by whom, until when and why", () => {
    setDisplayZone("UTC");
    expect(overrideWords(block)).toBe(`Held at On by ann@example.com until ${formatTime(block.until! * 1000)} (damper check)`);
    expect(formatTime(block.until! * 1000)).toMatch(/9:41:07/);
    expect(overrideWords(point)).toBe("demo/ahu-1/oad-cmd commanded to 40.0 at priority 8 by bob, until released");
  });

  it("marks the held port, its block, and an output node held by its point", () => {
    const held = heldTargets([block, point]);
    expect([...held.ports]).toEqual(["econ.out"]);
    expect([...held.nodes].sort()).toEqual(["damper", "econ"]);
    expect(heldTargets(null).ports.size).toBe(0);
    expect(overridesOf([block, point], "econ")).toEqual([block]);
    expect(overridesOf([block, point], "damper")).toEqual([point]);
    expect(overridesOf([block, point], "eco")).toEqual([]);
  });
});
