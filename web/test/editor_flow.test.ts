import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { Value } from "../src/api/types";
import { flowEdges, flowNodes, type FlowInput } from "../src/editor/flow";
import { FIT, fitViewport, HEAD, NODE_W, nodeBox, ROW } from "../src/editor/geometry";
import { addComment, graphToProgram, moveNodes, programToGraph, type EditorGraph } from "../src/editor/model";
import type { ProgramDoc } from "../src/lib/graph";

const CENTRAL_PLANT = fileURLToPath(new URL("../../examples/demo/programs/plant.json", import.meta.url));

function input(graph: EditorGraph, over: Partial<FlowInput> = {}): FlowInput {
  return {
    graph,
    doc: graphToProgram(graph),
    kinds: new Map(),
    nodeIssues: { nodes: new Map(), wires: new Map() },
    live: new Map(),
    bad: new Map(),
    testing: false,
    shown: null,
    held: { ports: new Set(), nodes: new Set() },
    ...over,
  };
}

const doc: ProgramDoc = {
  id: "p",
  name: "p",
  inputs: [{ id: "oat", point: "demo/ahu-1/oat" }],
  constants: [{ id: "k", value: 2 }],
  blocks: [{ id: "sum", block: "add", params: {} }],
  outputs: [{ id: "sp", point: "demo/ahu-1/sat-sp", priority: 10 }],
  wires: [
    { from: "oat", to: "sum.in1" },
    { from: "k", to: "sum.in2" },
    { from: "sum.out", to: "sp" },
  ],
} as unknown as ProgramDoc;

describe("node geometry", () => {
  it("sizes a node by its port rows, at least one", () => {
    expect(nodeBox("input", [], [{ name: "value" }])).toMatchObject({ width: NODE_W, height: HEAD + ROW });
    expect(nodeBox("block", [{ name: "a" }, { name: "b" }, { name: "c" }], [{ name: "out" }]).height).toBe(HEAD + 3 * ROW);
    expect(nodeBox("block", [], []).height).toBe(HEAD + ROW);
  });

  it("puts input handles on the left edge and output handles on the right, one row apart", () => {
    const { handles } = nodeBox("block", [{ name: "a" }, { name: "b" }], [{ name: "out" }]);
    const a = handles.find((h) => h.id === "a")!;
    const b = handles.find((h) => h.id === "b")!;
    const out = handles.find((h) => h.id === "out")!;
    expect([a.type, a.position, out.type, out.position]).toEqual(["target", "left", "source", "right"]);
    // Centred on the border line: half the handle outside the node.
    expect(a.x + a.width! / 2).toBe(1);
    expect(out.x + out.width! / 2).toBe(NODE_W - 1);
    expect(b.y - a.y).toBe(ROW);
    expect(a.y + a.height! / 2).toBe(1 + HEAD + ROW / 2);
    expect(out.y).toBe(a.y);
  });

  it("moves the handles inside a thick border: inputs and constants left, outputs right", () => {
    const left = (kind: "input" | "constant" | "output" | "block") => nodeBox(kind, [{ name: "value" }], [{ name: "value" }]).handles;
    expect(left("input").find((h) => h.type === "source")!.x).toBe(NODE_W - 1 - 4.5);
    expect(left("constant").find((h) => h.type === "target")!.x).toBe(4 - 4.5);
    expect(left("output").find((h) => h.type === "source")!.x).toBe(NODE_W - 4 - 4.5);
    expect(left("output").find((h) => h.type === "target")!.x).toBe(1 - 4.5);
  });
});

describe("the fitted view", () => {
  it("is actual size at the origin with nothing to fit", () => {
    expect(fitViewport([], { width: 800, height: 600 })).toEqual({ x: 0, y: 0, zoom: 1 });
    expect(fitViewport([{ x: 0, y: 0, width: 10, height: 10 }], { width: 0, height: 0 })).toEqual({ x: 0, y: 0, zoom: 1 });
  });

  it("never zooms a small program above actual size, and centres it", () => {
    const v = fitViewport([{ x: 100, y: 50, width: 170, height: 60 }], { width: 1000, height: 600 });
    expect(v.zoom).toBe(FIT.maxZoom);
    expect(v.x + (100 + 85) * v.zoom).toBeCloseTo(500);
    expect(v.y + (50 + 30) * v.zoom).toBeCloseTo(300);
  });

  it("shrinks a large program until every box is inside the canvas", () => {
    const boxes = [
      { x: 0, y: 0, width: 170, height: 60 },
      { x: 3000, y: 1500, width: 170, height: 100 },
    ];
    const size = { width: 1000, height: 600 };
    const v = fitViewport(boxes, size);
    expect(v.zoom).toBeLessThan(1);
    for (const b of boxes) {
      expect(v.x + b.x * v.zoom).toBeGreaterThanOrEqual(0);
      expect(v.y + b.y * v.zoom).toBeGreaterThanOrEqual(0);
      expect(v.x + (b.x + b.width) * v.zoom).toBeLessThanOrEqual(size.width);
      expect(v.y + (b.y + b.height) * v.zoom).toBeLessThanOrEqual(size.height);
    }
  });
});

describe("graph → React Flow", () => {
  it("gives every node its size, measured size and handles, and every wire its ends", () => {
    const g = programToGraph(doc);
    const nodes = flowNodes([], input(g));
    expect(nodes.map((n) => n.id)).toEqual(["oat", "k", "sum", "sp"]);
    for (const n of nodes) {
      expect(n.width).toBe(NODE_W);
      expect(n.measured).toEqual({ width: n.width, height: n.height });
      expect(n.handles!.length).toBeGreaterThan(0);
    }
    // Without the catalogue a block shows its wired ports.
    expect(nodes[2]!.handles!.map((h) => `${h.type}:${h.id}`)).toEqual(["target:in1", "target:in2", "source:out"]);
    const edges = flowEdges([], input(g));
    expect(edges.map((e) => [e.source, e.sourceHandle, e.target, e.targetHandle])).toEqual([
      ["oat", "value", "sum", "in1"],
      ["k", "value", "sum", "in2"],
      ["sum", "out", "sp", "value"],
    ]);
  });

  it("keeps the objects of nodes and wires that draw as before, and replaces the ones that change", () => {
    const g = programToGraph(doc);
    const nodes = flowNodes([], input(g));
    const edges = flowEdges([], input(g));
    // Nothing changed (a render with new but equal maps and arrays): every object is kept.
    const again = flowNodes(nodes, input(g, { nodeIssues: { nodes: new Map(), wires: new Map() } }));
    expect(again.every((n, i) => n === nodes[i])).toBe(true);
    expect(flowEdges(edges, input(g)).every((e, i) => e === edges[i])).toBe(true);
    // A live value of the outdoor air: its node and its wire change, nothing else.
    const live = new Map<string, Value>([["demo/ahu-1/oat", 12.5]]);
    const withLive = flowNodes(again, input(g, { live }));
    expect(withLive.map((n, i) => n === again[i])).toEqual([false, true, true, true]);
    expect(withLive[0]!.data.live).toBe("12.5");
    const liveEdges = flowEdges(edges, input(g, { live }));
    expect(liveEdges.map((e, i) => e === edges[i])).toEqual([false, true, true]);
    expect(liveEdges[0]!.label).toBe("12.5");
    // An issue on the block: its node changes.
    const issues = flowNodes(withLive, input(g, { live, nodeIssues: { nodes: new Map([["sum", ["in2: not connected"]]]), wires: new Map() } }));
    expect(issues.map((n, i) => n === withLive[i])).toEqual([true, true, false, true]);
  });

  it("keeps what React Flow set on a node (selection, a drag) and moves a node the graph moved", () => {
    const g = programToGraph(doc);
    const nodes = flowNodes([], input(g));
    const selected = nodes.map((n) => (n.id === "sum" ? { ...n, selected: true } : n));
    const moved = moveNodes(g, new Map([["k", { x: 5, y: 7 }]]));
    const next = flowNodes(selected, input(moved));
    expect(next.find((n) => n.id === "sum")!.selected).toBe(true);
    expect(next.find((n) => n.id === "k")!.position).toEqual({ x: 5, y: 7 });
    // A node being dragged stays where the pointer has it.
    const dragging = next.map((n) => (n.id === "oat" ? { ...n, dragging: true, position: { x: 900, y: 900 } } : n));
    const after = flowNodes(dragging, input(moveNodes(moved, new Map([["oat", { x: 1, y: 1 }]]))));
    expect(after.find((n) => n.id === "oat")!.position).toEqual({ x: 900, y: 900 });
  });

  it("draws comments behind the nodes with their size", () => {
    const g = addComment(programToGraph(doc), { x: 10, y: 20 }, "Note");
    const c = flowNodes([], input(g)).find((n) => n.type === "comment")!;
    expect(c).toMatchObject({ position: { x: 10, y: 20 }, width: 220, height: 80, measured: { width: 220, height: 80 }, zIndex: -1 });
    expect(c.data.text).toBe("Note");
  });

  it("lays out the largest example program with a box and handles for each of its nodes", () => {
    const g = programToGraph(JSON.parse(readFileSync(CENTRAL_PLANT, "utf8")) as ProgramDoc);
    const nodes = flowNodes([], input(g));
    expect(nodes.length).toBe(g.nodes.length);
    const handles = new Set(nodes.flatMap((n) => n.handles!.map((h) => `${n.id}:${h.type}:${h.id}`)));
    // Every wire has a handle at each end, so React Flow can draw it at once.
    for (const e of flowEdges([], input(g))) {
      expect(handles.has(`${e.source}:source:${e.sourceHandle}`)).toBe(true);
      expect(handles.has(`${e.target}:target:${e.targetHandle}`)).toBe(true);
    }
  });
});
