import { describe, expect, it } from "vitest";
import type { ReplayOutput } from "../src/api/types";
import { replayChart, replayValuesAt, valueAt } from "../src/editor/testing";

describe("replay series", () => {
  const s: [number, number | boolean | null][] = [
    [100, 1],
    [200, 2],
    [300, null],
  ];

  it("a value holds until the next change; nothing before the first", () => {
    expect(valueAt(s, 99)).toBeUndefined();
    expect(valueAt(s, 100)).toBe(1);
    expect(valueAt(s, 250)).toBe(2);
    expect(valueAt(s, 1000)).toBeNull();
  });

  it("charts computed beside recorded on the union of their times, booleans as 0/1", () => {
    const out: ReplayOutput = {
      id: "econ",
      point: "demo/ahu-1/econ-enable",
      priority: 9,
      computed: [
        [0, false],
        [60, true],
      ],
      recorded: [
        [0, false],
        [90, true],
      ],
    };
    const c = replayChart(out, [0, 120], null);
    expect(c.data).toEqual([
      [0, 60, 90],
      [0, 1, 1],
      [0, 0, 1],
    ]);
    expect(c.series.map((x) => x.point)).toEqual(["econ (computed)", "demo/ahu-1/econ-enable (recorded)"]);
    expect(c.empty).toBe(false);
    expect(replayChart({ ...out, computed: [], recorded: [] }, [0, 120], null).empty).toBe(true);
  });

  it("gives every wire its value at a moment", () => {
    expect(replayValuesAt({ "cmp.out": [[0, false], [50, true]], "oat.value": [[10, 12.5]] }, 20)).toEqual({ "cmp.out": false, "oat.value": 12.5 });
  });
});
