import { describe, expect, it } from "vitest";
import type { BlockKind, BlockParam } from "../src/api/types";
import { formulaInputs, paramHint, parseParam, portsOf, searchBlocks, wiredPorts } from "../src/editor/catalogue";
import { programToGraph, type EditorNode } from "../src/editor/model";

const port = (name: string, required = true, group: string | null = null) => ({ name, type: "number" as const, unit: null, required, default: null, group });
const param = (p: Partial<BlockParam> & { name: string }): BlockParam => ({
  type: "number",
  nullable: false,
  required: false,
  default: null,
  description: "",
  unit: null,
  minimum: null,
  maximum: null,
  exclusive_minimum: null,
  exclusive_maximum: null,
  choices: null,
  ...p,
});
const kind = (k: Partial<BlockKind> & { kind: string }): BlockKind => ({
  title: k.kind,
  description: "",
  inputs: [],
  outputs: [port("out")],
  variadic_inputs: [],
  variadic_outputs: [],
  params: [],
  params_description: "",
  params_schema: {},
  dynamic_inputs: null,
  time_based: false,
  breaks_cycles: false,
  ...k,
});

const AND = kind({
  kind: "and",
  title: "AND",
  description: "True when every wired input is true.",
  inputs: [1, 2, 3, 4, 5, 6, 7, 8].map((i) => port(`in${i}`, i <= 2, "in")),
  variadic_inputs: [{ group: "in", first: 1, last: 8, required: 2, count_param: null }],
});
const LEADLAG = kind({
  kind: "leadlag",
  inputs: [port("demand"), ...[1, 2, 3, 4].map((i) => port(`fault_${i}`, false, "fault_"))],
  variadic_inputs: [{ group: "fault_", first: 1, last: 4, required: 0, count_param: "n" }],
});
const EXPR = kind({ kind: "expression", dynamic_inputs: "formula", params: [param({ name: "formula", type: "string", required: true })] });

const block = (id: string, k: string, params: Record<string, unknown> = {}): EditorNode => ({ id, kind: "block", x: 0, y: 0, placed: true, data: { id, block: k, params } });
const none = { ins: new Set<string>(), outs: new Set<string>() };

describe("ports a node shows", () => {
  it("of a numbered family: the required ones, the wired ones and one spare", () => {
    expect(portsOf(block("a", "and"), AND, none).ins.map((p) => p.name)).toEqual(["in1", "in2"]);
    const wired = { ins: new Set(["in1", "in2", "in3"]), outs: new Set<string>() };
    expect(portsOf(block("a", "and"), AND, wired).ins.map((p) => p.name)).toEqual(["in1", "in2", "in3", "in4"]);
  });

  it("of a family counted by a parameter: as many as it says", () => {
    expect(portsOf(block("l", "leadlag", { n: 3 }), LEADLAG, none).ins.map((p) => p.name)).toEqual(["demand", "fault_1", "fault_2", "fault_3"]);
  });

  it("of an expression: the names its formula uses, functions left out", () => {
    const n = block("e", "expression", { formula: "max(oat - 2, rat) * k + min(a, 1)" });
    expect(portsOf(n, EXPR, none).ins.map((p) => p.name)).toEqual(["oat", "rat", "k", "a"]);
    expect(formulaInputs("if(x > 'y', 1, z)")).toEqual(["x", "z"]);
  });

  it("keeps a wired port the catalogue does not know, so its wire has an end", () => {
    const wired = { ins: new Set(["colour"]), outs: new Set<string>() };
    expect(portsOf(block("a", "and"), AND, wired).ins.map((p) => p.name)).toContain("colour");
    expect(portsOf(block("x", "nosuch"), undefined, wired).ins.map((p) => p.name)).toEqual(["colour"]);
  });

  it("inputs and constants have one output, outputs one input", () => {
    const g = programToGraph({ id: "p", site: "s", inputs: [{ id: "i", point: "s/e/p" }], blocks: [], outputs: [{ id: "o", point: "s/e/q" }], wires: [{ from: "i", to: "o" }] });
    expect(portsOf(g.nodes[0]!, undefined, wiredPorts(g, "i"))).toEqual({ ins: [], outs: [{ name: "value" }] });
    expect(portsOf(g.nodes[1]!, undefined, wiredPorts(g, "o"))).toEqual({ ins: [{ name: "value" }], outs: [] });
  });
});

describe("the palette's search", () => {
  it("matches every word in the kind, title or description", () => {
    expect(searchBlocks([AND, LEADLAG, EXPR], "true every").map((k) => k.kind)).toEqual(["and"]);
    expect(searchBlocks([AND, LEADLAG, EXPR], "")).toHaveLength(3);
    expect(searchBlocks([AND, LEADLAG, EXPR], "nothing like this")).toEqual([]);
  });
});

describe("parameters in the side panel", () => {
  it("reads numbers, whole numbers, booleans and choices, and says what was expected", () => {
    expect(parseParam(param({ name: "kp" }), " 4.5 ")).toEqual({ value: 4.5 });
    expect(parseParam(param({ name: "kp" }), "fast")).toEqual({ error: "kp: expected a number, got “fast”." });
    expect(parseParam(param({ name: "n", type: "integer" }), "2.5")).toEqual({ error: "n: expected a whole number, got “2.5”." });
    expect(parseParam(param({ name: "on", type: "boolean" }), "true")).toEqual({ value: true });
    expect(parseParam(param({ name: "op", type: "enum", choices: ["gt", "lt"] }), "lt")).toEqual({ value: "lt" });
    expect(parseParam(param({ name: "op", type: "enum", choices: ["gt", "lt"] }), "eq")).toEqual({ error: "op: expected one of gt, lt, got “eq”." });
    expect(parseParam(param({ name: "kp" }), "")).toEqual({ value: undefined });
    expect(parseParam(param({ name: "b", nullable: true }), "null")).toEqual({ value: null });
  });

  it("describes limits, unit and default", () => {
    expect(paramHint(param({ name: "deadband", minimum: 0, unit: "unit of a", default: 0 }))).toBe("≥ 0, unit of a, default 0");
    expect(paramHint(param({ name: "ti", exclusive_minimum: 0, unit: "s", required: true }))).toBe("> 0, s, required");
    expect(paramHint(param({ name: "pct", minimum: 0, maximum: 100, unit: "%" }))).toBe("0 … 100, %");
  });
});
