import { describe, expect, it } from "vitest";
import type { EnergyBucket } from "../src/api/types";
import { compare, dayLabel, hasData, hourLabel, lastAndBefore, sumBuckets, sumKwh } from "../src/lib/energy";
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

describe("energy as the API gives it", () => {
  // Buckets as GET /sites/{site}/energy sends them: a site in Los Angeles, the day clocks went forward.
  const LA_MIDNIGHT = Date.UTC(2026, 2, 8, 8) / 1000; // 2026-03-08 00:00 PST
  const day = (date: string, start: number, hours: number, kwh: number | null): EnergyBucket => ({ start, end: start + hours * 3600, date, kwh });
  const hour = (start: number, kwh: number | null): EnergyBucket => ({ start, end: start + 3600, date: null, kwh });

  it("labels a day by the site's date and an hour by the site's clock, whatever the browser's zone", () => {
    const zone = process.env.TZ;
    try {
      for (const tz of ["UTC", "Pacific/Kiritimati", "Pacific/Honolulu"]) {
        process.env.TZ = tz;
        expect(dayLabel(day("2026-03-08", LA_MIDNIGHT, 23, 184), "America/Los_Angeles", "en-GB")).toBe("Sun 8 Mar");
        expect(hourLabel(hour(LA_MIDNIGHT, 8), "America/Los_Angeles", "en-GB")).toBe("Sun 00:00");
        // 10:00 UTC that day is 03:00 in Los Angeles: the hour after 02:00 was skipped.
        expect(hourLabel(hour(LA_MIDNIGHT + 2 * 3600, 8), "America/Los_Angeles", "en-GB")).toBe("Sun 03:00");
      }
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it("totals the last buckets against the ones before, without data as null", () => {
    const list = [hour(0, 5), hour(3600, null), hour(7200, 7), hour(10800, 1)];
    expect(lastAndBefore(list, 2)).toEqual({ last: [list[2], list[3]], before: [list[0], list[1]] });
    expect(sumKwh(lastAndBefore(list, 2).last)).toBe(8);
    expect(sumKwh([hour(0, null)])).toBeNull();
    expect(hasData([hour(0, null)])).toBe(false);
    expect(hasData(list)).toBe(true);
    expect(compare(12, 10)).toEqual({ delta: 2, pct: 20 });
    expect(compare(null, 10)).toEqual({ delta: null, pct: null });
    expect(compare(3, 0)).toEqual({ delta: 3, pct: null });
  });

  it("adds the meters up bucket by bucket", () => {
    expect(sumBuckets([[hour(0, 1)], [hour(0, 2), hour(3600, null)]])).toEqual([hour(0, 3), hour(3600, null)]);
    expect(sumBuckets([[hour(0, null)], [hour(0, 4)]])).toEqual([hour(0, 4)]);
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
