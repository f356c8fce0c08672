import { describe, expect, it } from "vitest";
import type { HistoryRollup } from "../src/api/types";
import {
  bucketsFromDemand,
  bucketsFromRegister,
  compare,
  meterKind,
  peakDemand,
  sumBuckets,
  total,
} from "../src/lib/energy";
import { depths, layoutProgram, splitRef, wireValue, type ProgramDoc } from "../src/lib/graph";
import { describePath, formatIssue, issuesFromProblem, parseProgramText, pathParts } from "../src/lib/programIssues";
import { bySite, isEmptySearch, parseSearch, searchQueryString } from "../src/lib/search";

const AHU: ProgramDoc = {
  id: "ahu-1-supervisory",
  site: "demo",
  inputs: [
    { id: "oat", point: "demo/ahu-1/oat" },
    { id: "rat", point: "demo/ahu-1/rat" },
    { id: "fan", point: "demo/ahu-1/fan-status" },
  ],
  blocks: [
    { id: "sat-reset", block: "reset" },
    { id: "oat-below-rat", block: "compare" },
    { id: "oat-above-low", block: "compare" },
    { id: "econ-ok", block: "and" },
  ],
  outputs: [
    { id: "sat-sp", point: "demo/ahu-1/sat-sp", priority: 10 },
    { id: "econ-enable", point: "demo/ahu-1/econ-enable", priority: 10 },
  ],
  wires: [
    { from: "oat", to: "sat-reset.x" },
    { from: "sat-reset.out", to: "sat-sp" },
    { from: "oat", to: "oat-below-rat.a" },
    { from: "rat", to: "oat-below-rat.b" },
    { from: "oat", to: "oat-above-low.a" },
    { from: "oat-below-rat.out", to: "econ-ok.in1" },
    { from: "oat-above-low.out", to: "econ-ok.in2" },
    { from: "fan", to: "econ-ok.in3" },
    { from: "econ-ok.out", to: "econ-enable" },
  ],
};

describe("program graph layout", () => {
  it("splits wire ends into node and port", () => {
    expect(splitRef("sat-reset.out")).toEqual({ node: "sat-reset", port: "out" });
    expect(splitRef("oat")).toEqual({ node: "oat", port: "value" });
  });

  it("puts inputs first, each block right of its deepest block source, outputs last", () => {
    const d = depths(AHU);
    expect(d.get("oat")).toBe(0);
    expect(d.get("sat-reset")).toBe(1);
    expect(d.get("oat-below-rat")).toBe(1);
    expect(d.get("econ-ok")).toBe(2);
    expect(d.get("sat-sp")).toBe(3);
    expect(d.get("econ-enable")).toBe(3);
  });

  it("lays columns left to right without overlaps and draws every wire", () => {
    const g = layoutProgram(AHU);
    const x = (id: string) => g.nodes.find((n) => n.id === id)!.x;
    expect(x("oat")).toBeLessThan(x("sat-reset"));
    expect(x("sat-reset")).toBeLessThan(x("econ-ok"));
    expect(x("econ-ok")).toBeLessThan(x("econ-enable"));
    expect(g.edges).toHaveLength(AHU.wires.length);
    for (const e of g.edges) expect(e.x2).toBeGreaterThan(e.x1);
    const col = g.nodes.filter((n) => n.depth === 1).sort((a, b) => a.y - b.y);
    for (let i = 1; i < col.length; i++) expect(col[i]!.y).toBeGreaterThanOrEqual(col[i - 1]!.y + col[i - 1]!.h);
    expect(g.width).toBeGreaterThan(0);
    expect(g.height).toBeGreaterThan(0);
    // econ-ok has three input ports at distinct heights
    const econ = g.nodes.find((n) => n.id === "econ-ok")!;
    expect(new Set(econ.inPorts.map((p) => p.y)).size).toBe(3);
  });

  it("survives a loop and wires to unknown nodes", () => {
    const doc: ProgramDoc = {
      ...AHU,
      blocks: [{ id: "a", block: "add" }, { id: "b", block: "add" }],
      outputs: [],
      wires: [{ from: "a.out", to: "b.x" }, { from: "b.out", to: "a.x" }, { from: "ghost.out", to: "a.y" }],
    };
    const g = layoutProgram(doc);
    expect(g.nodes.map((n) => n.id)).toContain("a");
    expect(g.edges).toHaveLength(2);
  });

  it("shows live input samples on wires, else the engine's value", () => {
    const g = layoutProgram(AHU);
    const fromOat = g.edges.find((e) => e.from === "oat")!;
    const fromReset = g.edges.find((e) => e.from === "sat-reset.out")!;
    const engine = { "oat.value": 4, "sat-reset.out": 15.5 };
    expect(wireValue(fromOat, AHU, engine, new Map([["demo/ahu-1/oat", 7]]))).toBe(7);
    expect(wireValue(fromOat, AHU, engine, new Map())).toBe(4);
    expect(wireValue(fromReset, AHU, engine, new Map())).toBe(15.5);
    expect(wireValue(fromReset, AHU, null, new Map())).toBeUndefined();
  });
});

describe("program issues in plain words", () => {
  it("splits paths", () => {
    expect(pathParts("blocks[0].params.x1")).toEqual(["blocks", 0, "params", "x1"]);
    expect(pathParts("wires[3].to")).toEqual(["wires", 3, "to"]);
  });

  it("names the element instead of its index", () => {
    expect(describePath("wires[0].to", AHU)).toBe("Wire 1 (oat → sat-reset.x), its destination");
    expect(describePath("blocks[1].params.op", AHU)).toBe("Block “oat-below-rat”, setting “op”");
    expect(describePath("inputs[2].point", AHU)).toBe("Input “fan”, its point");
    expect(describePath("outputs[5]", AHU)).toBe("Output 6");
    expect(describePath("program", AHU)).toBe("The program");
    expect(describePath("period_s", AHU)).toBe("The run period");
  });

  it("formats an issue as a sentence", () => {
    expect(formatIssue({ path: "inputs[0].point", message: "no point 'demo/ahu-1/nope'" }, AHU)).toBe(
      "Input “oat”, its point: No point 'demo/ahu-1/nope'.",
    );
  });

  it("turns a 422's locations into program paths", () => {
    expect(
      issuesFromProblem([
        { loc: ["body", "program", "blocks", 0, "colour"], msg: "Extra inputs are not permitted" },
        { loc: ["body", "program"], msg: "bad" },
      ]),
    ).toEqual([
      { path: "blocks[0].colour", message: "Extra inputs are not permitted" },
      { path: "program", message: "bad" },
    ]);
  });

  it("reports JSON syntax errors with the line", () => {
    const r = parseProgramText('{\n  "id": "x",\n  oops\n}');
    expect(r.doc).toBeNull();
    expect(r.error).toMatch(/not valid JSON/);
    expect(parseProgramText("[1]").error).toMatch(/JSON object/);
    expect(parseProgramText('{"id":"x"}').doc).toEqual({ id: "x" });
  });
});

const roll = (start: number, o: Partial<HistoryRollup>): HistoryRollup => ({
  start,
  count: 1,
  min: null,
  max: null,
  mean: null,
  tw_mean: null,
  covered: 3600,
  last: null,
  last_ts: null,
  ...o,
});

describe("energy from rollups", () => {
  it("classifies meters", () => {
    expect(meterKind({ unit: "kWh", tags: [] })).toBe("register");
    expect(meterKind({ unit: "kW", tags: ["elec", "power"] })).toBe("demand");
    expect(meterKind({ unit: "kW", tags: ["thermal"] })).toBeNull();
    expect(meterKind({ unit: "degC", tags: ["temp"] })).toBeNull();
  });

  it("takes differences of a register's last readings, null at the start and after a reset", () => {
    const b = bucketsFromRegister([
      roll(7200, { last: 130 }),
      roll(0, { last: 100 }),
      roll(3600, { last: 110 }),
      roll(10800, { last: 5 }),
      roll(14400, { last: 12 }),
    ]);
    expect(b.map((x) => x.kwh)).toEqual([null, 10, 20, null, 7]);
    expect(bucketsFromRegister([roll(0, { min: 96, last: 100 }), roll(3600, { last: 103 })]).map((x) => x.kwh)).toEqual([4, 3]);
  });

  it("integrates kW over the time covered", () => {
    const b = bucketsFromDemand([roll(0, { tw_mean: 10 }), roll(3600, { tw_mean: 20, covered: 1800 }), roll(7200, {})]);
    expect(b.map((x) => x.kwh)).toEqual([10, 10, null]);
  });

  it("totals, compares and finds the peak", () => {
    const list = [
      { start: 0, kwh: 5 },
      { start: 3600, kwh: null },
      { start: 7200, kwh: 7 },
    ];
    expect(total(list, 0, 7200)).toBe(5);
    expect(total(list, 0, 10800)).toBe(12);
    expect(total(list, 3600, 7200)).toBeNull();
    expect(compare(12, 10)).toEqual({ delta: 2, pct: 20 });
    expect(compare(null, 10)).toEqual({ delta: null, pct: null });
    expect(compare(3, 0)).toEqual({ delta: 3, pct: null });
    expect(peakDemand("demand", [roll(0, { max: 12 }), roll(3600, { max: 30 })])).toEqual({ kw: 30, at: 3600 });
    expect(peakDemand("register", [roll(0, { last: 0 }), roll(3600, { last: 4 }), roll(7200, { last: 14 })])).toEqual({ kw: 10, at: 7200 });
    expect(sumBuckets([[{ start: 0, kwh: 1 }], [{ start: 0, kwh: 2 }, { start: 3600, kwh: null }]])).toEqual([
      { start: 0, kwh: 3 },
      { start: 3600, kwh: null },
    ]);
  });
});

describe("point search query", () => {
  it("takes tag:, site: and equip: words out of the text", () => {
    const p = parseSearch({ text: "zone tag:temp site:demo equip:vav-c1 north", tags: "sensor, temp", site: "", equipment: "" });
    expect(p).toEqual({ q: "zone north", tags: ["temp", "sensor"], site: "demo", equipment: "vav-c1" });
  });

  it("builds the query with repeated tags and leaves empty filters out", () => {
    const p = parseSearch({ text: "zone-temp", tags: "temp sensor", site: "demo", equipment: "" });
    expect(searchQueryString(p)).toBe("?q=zone-temp&tag=temp&tag=sensor&site=demo&limit=50");
    expect(searchQueryString(p, { cursor: "abc", limit: 10 })).toBe("?q=zone-temp&tag=temp&tag=sensor&site=demo&limit=10&cursor=abc");
    const empty = parseSearch({ text: "  ", tags: "", site: "", equipment: "" });
    expect(isEmptySearch(empty)).toBe(true);
    expect(searchQueryString(empty)).toBe("?limit=50");
  });

  it("groups selected points by site", () => {
    expect([...bySite(["demo/a/x", "office/b/y", "demo/c/z"]).entries()]).toEqual([
      ["demo", ["demo/a/x", "demo/c/z"]],
      ["office", ["office/b/y"]],
    ]);
  });
});
