import { describe, expect, it } from "vitest";
import { changesOverrides } from "../src/pages/Overrides";

const command = (point: string, source: string) => ({ type: "command", command: { id: "c1", point, source, priority: 10 } });

describe("the overrides list reloads only for commands that can change it", () => {
  const held = new Set(["demo/ahu-1/sat-sp"]);

  it("reloads for an operator's or the API's command, wherever it is", () => {
    expect(changesOverrides(command("demo/vav-1/zone-sp", "operator"), held)).toBe(true);
    expect(changesOverrides(command("demo/vav-1/zone-sp", "api"), held)).toBe(true);
  });

  it("does not reload for a logic program's or a schedule's output on a point the list does not hold", () => {
    expect(changesOverrides(command("demo/vav-1/damper", "logic"), held)).toBe(false);
    expect(changesOverrides(command("demo/ahu-1/fan-cmd", "schedule"), held)).toBe(false);
    expect(changesOverrides(command("demo/ahu-1/fan-cmd", "optimiser"), held)).toBe(false);
  });

  it("reloads for any command on a point the list holds (it decides whether the override still wins)", () => {
    expect(changesOverrides(command("demo/ahu-1/sat-sp", "logic"), held)).toBe(true);
  });

  it("ignores other messages", () => {
    expect(changesOverrides({ type: "samples" }, held)).toBe(false);
    expect(changesOverrides({ type: "command" }, held)).toBe(false);
    expect(changesOverrides({ type: "alarm", command: { source: "operator" } }, held)).toBe(false);
  });
});
