import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { changeText, diffPrograms } from "../src/editor/diff";
import { canRedo, canUndo, push, redo, start, undo } from "../src/editor/history";
import {
  canonicalJson,
  isChanged,
  addComment,
  addNode,
  autoLayout,
  COMMENTS_KEY,
  connect,
  copy,
  graphToProgram,
  issueTarget,
  moveNodes,
  paste,
  programToGraph,
  removeNodes,
  renameNode,
  setParam,
} from "../src/editor/model";
import type { ProgramDoc } from "../src/lib/graph";

const EXAMPLES = fileURLToPath(new URL("../../examples", import.meta.url));

/** Every example program that ships (examples/*\/programs/*.json), read from disk. */
function examples(): [string, ProgramDoc][] {
  const out: [string, ProgramDoc][] = [];
  for (const site of readdirSync(EXAMPLES)) {
    const dir = join(EXAMPLES, site, "programs");
    let files: string[];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    } catch {
      continue;
    }
    for (const f of files) out.push([`${site}/${f}`, JSON.parse(readFileSync(join(dir, f), "utf8")) as ProgramDoc]);
  }
  return out;
}

const SMALL: ProgramDoc = {
  id: "econ",
  site: "demo",
  period_s: 10,
  inputs: [
    { id: "oat", point: "demo/ahu-1/oat" },
    { id: "rat", point: "demo/ahu-1/rat" },
  ],
  blocks: [{ id: "cmp", block: "compare", params: { op: "lt", deadband: 1 } }],
  outputs: [{ id: "econ", point: "demo/ahu-1/econ-enable", priority: 10 }],
  wires: [
    { from: "oat", to: "cmp.a" },
    { from: "rat", to: "cmp.b" },
    { from: "cmp.out", to: "econ" },
  ],
};

describe("program ↔ graph conversion", () => {
  const all = examples();

  it("finds the example programs on disk", () => {
    expect(all.length).toBeGreaterThanOrEqual(7);
  });

  it.each(all)("round-trips %s losslessly", (_name, doc) => {
    const back = graphToProgram(programToGraph(doc));
    expect(back).toEqual(doc);
    expect(JSON.parse(JSON.stringify(back))).toEqual(doc);
  });

  it.each(all)("%s: one node per element and one edge per wire", (_name, doc) => {
    const g = programToGraph(doc);
    const count = doc.inputs.length + (doc.constants?.length ?? 0) + doc.blocks.length + doc.outputs.length;
    expect(g.nodes).toHaveLength(count);
    expect(g.edges).toHaveLength(doc.wires.length);
  });

  it("keeps unknown fields, short and long wire ends, and an absent layout absent", () => {
    const doc = {
      ...SMALL,
      future: { x: 1 },
      outputs: [{ id: "econ", point: "demo/ahu-1/econ-enable", priority: 10, release_when_none: false }],
      wires: [...SMALL.wires.slice(0, 2), { from: "cmp.out", to: "econ.value" }],
    } as unknown as ProgramDoc;
    const g = programToGraph(doc);
    expect(g.nodes.every((n) => !n.placed)).toBe(true);
    const back = graphToProgram(g);
    expect(back).toEqual(doc);
    expect("layout" in back).toBe(false);
  });

  it("lays out a program without layout by wire depth, left to right", () => {
    const g = programToGraph(SMALL);
    const x = (id: string) => g.nodes.find((n) => n.id === id)!.x;
    expect(x("oat")).toBe(x("rat"));
    expect(x("cmp")).toBeGreaterThan(x("oat"));
    expect(x("econ")).toBeGreaterThan(x("cmp"));
  });

  it("auto-layout places every node and keeps the positions in layout", () => {
    const g = autoLayout(programToGraph(SMALL));
    const doc = graphToProgram(g);
    expect(Object.keys(doc.layout ?? {}).sort()).toEqual(["cmp", "econ", "oat", "rat"]);
    const lx = (id: string) => (doc.layout![id] as { x: number }).x;
    expect(lx("cmp")).toBeGreaterThan(lx("oat"));
  });

  it("keeps comments in layout under $comments, and other layout keys as they were", () => {
    const doc = { ...SMALL, layout: { oat: { x: 1, y: 2 }, zoom: 1.5 } } as ProgramDoc;
    let g = programToGraph(doc);
    g = addComment(g, { x: 10, y: 20 }, "Economiser");
    const back = graphToProgram(g);
    expect(back.layout).toEqual({ oat: { x: 1, y: 2 }, zoom: 1.5, [COMMENTS_KEY]: [{ id: "$c1", x: 10, y: 20, w: 220, h: 80, text: "Economiser" }] });
    expect(graphToProgram(programToGraph(back))).toEqual(back);
  });
});

describe("an unchanged program", () => {
  it.each(examples())("%s opened and not touched reads as unchanged, whatever its keys' order", (_name, doc) => {
    const back = graphToProgram(programToGraph(doc));
    expect(canonicalJson(back)).toBe(canonicalJson(doc));
  });

  it.each(examples())("%s opened and not touched is not a change to save", (_name, doc) => {
    const back = graphToProgram(programToGraph(doc));
    expect(isChanged(back, doc)).toBe(false);
    expect(isChanged(graphToProgram(removeNodes(programToGraph(doc), [doc.outputs[0]!.id])), doc)).toBe(true);
  });

  it.each(examples())("%s opened and not touched has nothing to deploy", (_name, doc) => {
    expect(diffPrograms(doc, graphToProgram(programToGraph(doc)))).toEqual([]);
  });

  it("differs only when something does", () => {
    const doc = { ...SMALL, layout: { rat: { x: 1, y: 2 }, oat: { y: 4, x: 3 } } } as ProgramDoc;
    const g = programToGraph(doc);
    expect(canonicalJson(graphToProgram(g))).toBe(canonicalJson(doc));
    expect(canonicalJson(graphToProgram(moveNodes(g, new Map([["oat", { x: 9, y: 9 }]]))))).not.toBe(canonicalJson(doc));
  });
});

describe("editing the graph", () => {
  it("adds a block under a fresh id and wires it, one wire per input port", () => {
    let g = programToGraph(SMALL);
    g = addNode(g, "block", { id: "cmp", block: "compare", params: {} }, { x: 5, y: 6 });
    expect(g.nodes.map((n) => n.id)).toContain("cmp-2");
    g = connect(g, { node: "oat", port: "value" }, { node: "cmp-2", port: "a" });
    g = connect(g, { node: "rat", port: "value" }, { node: "cmp-2", port: "a" });
    const doc = graphToProgram(g);
    expect(doc.wires.filter((w) => w.to === "cmp-2.a")).toEqual([{ from: "rat", to: "cmp-2.a" }]);
    expect(doc.layout).toEqual({ "cmp-2": { x: 5, y: 6 } });
  });

  it("deleting a node deletes its wires", () => {
    const doc = graphToProgram(removeNodes(programToGraph(SMALL), ["cmp"]));
    expect(doc.blocks).toEqual([]);
    expect(doc.wires).toEqual([]);
  });

  it("a moved node's position goes to layout, the others stay unplaced", () => {
    const doc = graphToProgram(moveNodes(programToGraph(SMALL), new Map([["cmp", { x: 300.4, y: 99.6 }]])));
    expect(doc.layout).toEqual({ cmp: { x: 300, y: 100 } });
  });

  it("sets and clears a parameter", () => {
    let g = setParam(programToGraph(SMALL), "cmp", "deadband", 2);
    expect(graphToProgram(g).blocks[0]!.params).toEqual({ op: "lt", deadband: 2 });
    g = setParam(g, "cmp", "deadband", undefined);
    expect(graphToProgram(g).blocks[0]!.params).toEqual({ op: "lt" });
  });

  it("renames a node and the wires that name it; refuses a taken or invalid id", () => {
    const g = programToGraph(SMALL);
    const r = renameNode(g, "cmp", "oat-below-rat")!;
    expect(graphToProgram(r).wires).toEqual([
      { from: "oat", to: "oat-below-rat.a" },
      { from: "rat", to: "oat-below-rat.b" },
      { from: "oat-below-rat.out", to: "econ" },
    ]);
    expect(renameNode(g, "cmp", "oat")).toBeNull();
    expect(renameNode(g, "cmp", "a.b")).toBeNull();
  });

  it("copy and paste duplicates nodes with the wires between them, under fresh ids", () => {
    const g = programToGraph(SMALL);
    const { graph, ids } = paste(g, copy(g, ["oat", "cmp"]), { x: 40, y: 40 });
    expect(ids).toEqual(["oat-2", "cmp-2"]);
    const doc = graphToProgram(graph);
    expect(doc.wires.slice(3)).toEqual([{ from: "oat-2", to: "cmp-2.a" }]);
    expect(doc.blocks[1]).toEqual({ id: "cmp-2", block: "compare", params: { op: "lt", deadband: 1 } });
  });

  it("points issues at their node or wire", () => {
    expect(issueTarget("blocks[0].params.deadband", SMALL)).toEqual({ node: "cmp" });
    expect(issueTarget("outputs[0]", SMALL)).toEqual({ node: "econ" });
    expect(issueTarget("wires[2].to", SMALL)).toEqual({ wire: 2 });
    expect(issueTarget("period_s", SMALL)).toEqual({});
    expect(issueTarget("blocks[7]", SMALL)).toEqual({});
  });
});

describe("undo and redo", () => {
  it("steps back and forth through the states, and a new edit forgets the redo", () => {
    let h = start(1);
    h = push(h, 2);
    h = push(h, 3);
    expect(canRedo(h)).toBe(false);
    h = undo(h);
    expect(h.present).toBe(2);
    h = undo(h);
    expect(h.present).toBe(1);
    expect(canUndo(h)).toBe(false);
    expect(undo(h)).toBe(h);
    h = redo(h);
    expect(h.present).toBe(2);
    h = push(h, 9);
    expect(canRedo(h)).toBe(false);
    expect(h.past).toEqual([1, 2]);
  });

  it("keeps at most the limit of states", () => {
    let h = start(0);
    for (let i = 1; i <= 10; i++) h = push(h, i, 3);
    expect(h.past).toEqual([7, 8, 9]);
  });

  it("undoes graph edits back to the loaded program", () => {
    const g0 = programToGraph(SMALL);
    let h = start(g0);
    h = push(h, removeNodes(h.present, ["cmp"]));
    h = push(h, addNode(h.present, "block", { id: "pid", block: "pid" }, { x: 0, y: 0 }));
    h = undo(undo(h));
    expect(graphToProgram(h.present)).toEqual(SMALL);
    h = redo(h);
    expect(graphToProgram(h.present).blocks).toEqual([]);
  });
});

describe("diff against the running version", () => {
  it("lists added, removed and changed nodes, parameters and wires", () => {
    let g = programToGraph(SMALL);
    g = setParam(g, "cmp", "deadband", 2);
    g = addNode(g, "input", { id: "fan", point: "demo/ahu-1/fan-status" }, { x: 0, y: 0 });
    g = removeNodes(g, ["rat"]);
    const lines = diffPrograms(SMALL, graphToProgram(g)).map(changeText);
    expect(lines).toEqual([
      "Added input “fan”: demo/ahu-1/fan-status.",
      "Removed input “rat”: demo/ahu-1/rat.",
      "Changed block “cmp”: deadband 1 → 2.",
      "Removed wire rat → cmp.b.",
    ]);
  });

  it("sees no change between 'oat' and 'oat.value', and a move as layout only", () => {
    const moved = { ...SMALL, wires: [{ from: "oat.value", to: "cmp.a" }, ...SMALL.wires.slice(1)], layout: { oat: { x: 1, y: 1 } } };
    expect(diffPrograms(SMALL, moved).map(changeText)).toEqual(["Changed the layout: positions on the canvas only (no change in behaviour)."]);
    expect(diffPrograms(SMALL, SMALL)).toEqual([]);
  });

  it("with nothing running, everything is added", () => {
    expect(diffPrograms(null, SMALL).filter((c) => c.kind !== "added")).toEqual([]);
    expect(diffPrograms(null, SMALL)).toHaveLength(7);
  });
});
