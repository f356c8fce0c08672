import { describe, expect, it } from "vitest";
import { fitZoom, layoutProgram, splitRef, storedPosition, wirePath, type GraphLayout, type ProgramDoc } from "../src/lib/graph";

const DOC: ProgramDoc = {
  id: "p",
  site: "hq",
  inputs: [
    { id: "oat", point: "hq/ahu-1/oat" },
    { id: "rat", point: "hq/ahu-1/rat" },
  ],
  constants: [{ id: "sp", value: 21 }],
  blocks: [
    { id: "cmp", block: "compare" },
    { id: "pid", block: "pid" },
  ],
  outputs: [{ id: "valve", point: "hq/ahu-1/valve", priority: 10 }],
  wires: [
    { from: "oat", to: "cmp.a" },
    { from: "rat", to: "cmp.b" },
    { from: "rat", to: "pid.pv" },
    { from: "sp", to: "pid.sp" },
    { from: "cmp.out", to: "pid.enable" },
    { from: "pid.out", to: "valve" },
  ],
};

const node = (g: GraphLayout, id: string) => g.nodes.find((n) => n.id === id)!;

/** Every wire starts at its source's named out-port and ends at its target's named in-port. */
function expectWiresOnTheirPorts(g: GraphLayout, doc: ProgramDoc) {
  expect(g.edges).toHaveLength(doc.wires.length);
  for (const e of g.edges) {
    const f = splitRef(e.from);
    const t = splitRef(e.to);
    const a = node(g, f.node);
    const b = node(g, t.node);
    expect([e.x1, e.y1]).toEqual([a.x + a.w, a.outPorts.find((p) => p.port === f.port)!.y]);
    expect([e.x2, e.y2]).toEqual([b.x, b.inPorts.find((p) => p.port === t.port)!.y]);
  }
}

describe("program graph: stored positions, ports, size", () => {
  it("draws constants as nodes, with their wires", () => {
    const g = layoutProgram(DOC);
    expect(node(g, "sp").kind).toBe("constant");
    expect(node(g, "sp").sub).toBe("21");
    expect(g.edges.map((e) => e.from)).toContain("sp");
    expectWiresOnTheirPorts(g, DOC);
  });

  it("puts a node where the document's layout says, and the rest in columns", () => {
    const doc = { ...DOC, layout: { pid: { x: 700, y: 420 }, cmp: { x: 300, y: 60 }, junk: "x", rat: { x: "1", y: 2 } } };
    const g = layoutProgram(doc);
    expect([node(g, "pid").x, node(g, "pid").y]).toEqual([700, 420]);
    expect([node(g, "cmp").x, node(g, "cmp").y]).toEqual([300, 60]);
    expect(node(g, "oat").x).toBe(layoutProgram(DOC).nodes.find((n) => n.id === "oat")!.x); // not positioned: automatic
    expect(node(g, "rat").x).toBe(layoutProgram(DOC).nodes.find((n) => n.id === "rat")!.x); // not numbers: ignored
    expectWiresOnTheirPorts(g, doc);
  });

  it("grows to hold every node, and shifts positions left of or above the margin into view", () => {
    const far = layoutProgram({ ...DOC, layout: { valve: { x: 5000, y: 3000 } } });
    for (const n of far.nodes) {
      expect(n.x + n.w).toBeLessThanOrEqual(far.width);
      expect(n.y + n.h).toBeLessThanOrEqual(far.height);
    }
    expect(far.width).toBeGreaterThanOrEqual(5000 + node(far, "valve").w);
    const neg = layoutProgram({ ...DOC, layout: { oat: { x: -100, y: -50 } } });
    for (const n of neg.nodes) expect(Math.min(n.x, n.y)).toBeGreaterThanOrEqual(0);
    expect(node(neg, "oat").x).toBeLessThan(node(neg, "rat").x);
    expectWiresOnTheirPorts(neg, DOC);
  });

  it("gives each port of a node its own height, inside the node", () => {
    const g = layoutProgram(DOC);
    const pid = node(g, "pid");
    expect(pid.inPorts.map((p) => p.port)).toEqual(["pv", "sp", "enable"]);
    expect(new Set(pid.inPorts.map((p) => p.y)).size).toBe(3);
    for (const p of [...pid.inPorts, ...pid.outPorts]) {
      expect(p.y).toBeGreaterThan(pid.y);
      expect(p.y).toBeLessThan(pid.y + pid.h);
    }
  });

  it("reads only finite numbers as a position", () => {
    expect(storedPosition({ ...DOC, layout: { a: { x: 1, y: 2 } } }, "a")).toEqual({ x: 1, y: 2 });
    expect(storedPosition({ ...DOC, layout: { a: { x: Number.NaN, y: 2 } } }, "a")).toBeNull();
    expect(storedPosition({ ...DOC, layout: { a: null } }, "a")).toBeNull();
    expect(storedPosition(DOC, "a")).toBeNull();
  });

  it("curves a wire out of its source to the right and into its target from the left; zooms to fit", () => {
    expect(wirePath({ x1: 0, y1: 10, x2: 200, y2: 50 })).toBe("M0,10 C100,10 100,50 200,50");
    expect(wirePath({ x1: 300, y1: 10, x2: 100, y2: 50 })).toBe("M300,10 C400,10 0,50 100,50"); // backwards: loops round
    expect(fitZoom({ width: 2000 }, 1000)).toBe(0.5);
    expect(fitZoom({ width: 500 }, 1000)).toBe(1);
  });
});
