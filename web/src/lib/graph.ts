/**
 * A logic program as a graph: inputs, constants, blocks and outputs laid out
 * in columns by topological depth (inputs and constants first, outputs last,
 * each block one column right of the deepest block feeding it), wires as
 * lines between the named ports. A node with a position in the document's
 * `layout` (`{"pid1": {"x": 220, "y": 40}}`) is drawn there instead; the
 * drawing grows to hold every node, so nothing is cut off.
 */
import type { Value } from "../api/types";

export interface ProgramDoc {
  id: string;
  site: string;
  name?: string;
  description?: string;
  period_s?: number;
  inputs: { id: string; point: string }[];
  constants?: { id: string; value: unknown }[];
  blocks: { id: string; block: string; params?: Record<string, unknown> }[];
  outputs: { id: string; point: string; priority?: number }[];
  wires: { from: string; to: string }[];
  /** The dashboard's: node id → its position ({x, y}, the node's top left corner). */
  layout?: Record<string, unknown>;
  [key: string]: unknown;
}

export type NodeKind = "input" | "constant" | "block" | "output";

export interface GraphNode {
  id: string;
  kind: NodeKind;
  /** The block type, the point of an input or output, or a constant's value. */
  sub: string;
  depth: number;
  x: number;
  y: number;
  w: number;
  h: number;
  /** Ports wired into the node, in order, with their y (absolute). */
  inPorts: { port: string; y: number }[];
  /** Ports wired out of the node, with their y (absolute). */
  outPorts: { port: string; y: number }[];
}

export interface GraphEdge {
  from: string;
  to: string;
  /** The key of the wire's value in GET …/programs/{id}'s `values`: "node.port". */
  key: string;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface GraphLayout {
  nodes: GraphNode[];
  edges: GraphEdge[];
  width: number;
  height: number;
}

export const VALUE_PORT = "value";

/** "sat-reset.out" → { node: "sat-reset", port: "out" }; "oat" → { node: "oat", port: "value" }. */
export function splitRef(ref: string): { node: string; port: string } {
  const i = ref.indexOf(".");
  return i < 0 ? { node: ref, port: VALUE_PORT } : { node: ref.slice(0, i), port: ref.slice(i + 1) };
}

/** Each node's column: inputs 0, a block 1 + its deepest source, outputs one past the deepest block. */
export function depths(doc: ProgramDoc): Map<string, number> {
  const depth = new Map<string, number>();
  const blocks = new Set(doc.blocks.map((b) => b.id));
  const sources = new Map<string, string[]>();
  for (const w of doc.wires ?? []) {
    const to = splitRef(w.to).node;
    const from = splitRef(w.from).node;
    if (!sources.has(to)) sources.set(to, []);
    sources.get(to)!.push(from);
  }
  for (const i of doc.inputs) depth.set(i.id, 0);
  for (const c of doc.constants ?? []) depth.set(c.id, 0);
  const visiting = new Set<string>();
  const blockDepth = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 1; // a loop: cut it here rather than recurse forever
    visiting.add(id);
    let d = 1;
    for (const s of sources.get(id) ?? []) {
      if (blocks.has(s)) d = Math.max(d, blockDepth(s) + 1);
    }
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  let deepest = 0;
  for (const b of doc.blocks) deepest = Math.max(deepest, blockDepth(b.id));
  for (const o of doc.outputs) depth.set(o.id, deepest + 1);
  return depth;
}

const COL_W = 200;
const NODE_W = 150;
const GAP = 24;
const PORT_GAP = 18;
const HEAD = 38;
const PAD = 16;

/** A node's position stored in the document's `layout` ({x, y} of finite numbers), or null. */
export function storedPosition(doc: ProgramDoc, id: string): { x: number; y: number } | null {
  const p = doc.layout?.[id];
  if (typeof p !== "object" || p === null) return null;
  const { x, y } = p as { x?: unknown; y?: unknown };
  return typeof x === "number" && typeof y === "number" && Number.isFinite(x) && Number.isFinite(y) ? { x, y } : null;
}

/** Where every node and wire goes in the SVG. */
export function layoutProgram(doc: ProgramDoc): GraphLayout {
  const depth = depths(doc);
  const all: { id: string; kind: NodeKind; sub: string }[] = [
    ...doc.inputs.map((i) => ({ id: i.id, kind: "input" as const, sub: i.point })),
    ...(doc.constants ?? []).map((c) => ({ id: c.id, kind: "constant" as const, sub: String(c.value) })),
    ...doc.blocks.map((b) => ({ id: b.id, kind: "block" as const, sub: b.block })),
    ...doc.outputs.map((o) => ({ id: o.id, kind: "output" as const, sub: o.point })),
  ];
  const inPorts = new Map<string, string[]>();
  const outPorts = new Map<string, string[]>();
  const add = (m: Map<string, string[]>, node: string, port: string) => {
    const list = m.get(node) ?? [];
    if (!list.includes(port)) list.push(port);
    m.set(node, list);
  };
  for (const w of doc.wires ?? []) {
    const f = splitRef(w.from);
    const t = splitRef(w.to);
    add(outPorts, f.node, f.port);
    add(inPorts, t.node, t.port);
  }
  const columns = new Map<number, typeof all>();
  for (const n of all) {
    const d = depth.get(n.id) ?? 0;
    if (!columns.has(d)) columns.set(d, []);
    columns.get(d)!.push(n);
  }
  const nodes = new Map<string, GraphNode>();
  const sortedDepths = [...columns.keys()].sort((a, b) => a - b);
  // Columns are numbered in order (a program without blocks has inputs next to outputs).
  sortedDepths.forEach((d, col) => {
    let y = PAD;
    const list = columns.get(d)!;
    // Order a column by where its sources sit (fewer crossings), then as written.
    const order = list.map((n, i) => {
      const srcYs = (doc.wires ?? [])
        .filter((w) => splitRef(w.to).node === n.id)
        .map((w) => nodes.get(splitRef(w.from).node)?.y)
        .filter((v): v is number => v !== undefined);
      const key = srcYs.length ? srcYs.reduce((a, b) => a + b, 0) / srcYs.length : Number.POSITIVE_INFINITY;
      return { n, i, key };
    });
    order.sort((a, b) => (a.key === b.key ? a.i - b.i : a.key - b.key));
    for (const { n } of order) {
      const ins = inPorts.get(n.id) ?? [];
      const outs = outPorts.get(n.id) ?? [];
      const h = HEAD + Math.max(1, ins.length, outs.length) * PORT_GAP;
      const at = storedPosition(doc, n.id) ?? { x: PAD + col * COL_W, y };
      const portY = (k: number) => at.y + HEAD + k * PORT_GAP + PORT_GAP / 2 - 4;
      nodes.set(n.id, {
        ...n,
        depth: d,
        x: at.x,
        y: at.y,
        w: NODE_W,
        h,
        inPorts: ins.map((port, k) => ({ port, y: portY(k) })),
        outPorts: outs.map((port, k) => ({ port, y: portY(k) })),
      });
      if (!storedPosition(doc, n.id)) y += h + GAP;
    }
  });
  // Stored positions may lie left of or above the margin: shift everything so every node shows.
  const placed = [...nodes.values()];
  const dx = placed.length ? PAD - Math.min(PAD, ...placed.map((n) => n.x)) : 0;
  const dy = placed.length ? PAD - Math.min(PAD, ...placed.map((n) => n.y)) : 0;
  for (const n of placed) {
    n.x += dx;
    n.y += dy;
    for (const p of [...n.inPorts, ...n.outPorts]) p.y += dy;
  }
  const width = Math.max(PAD * 2 + NODE_W, ...placed.map((n) => n.x + n.w + PAD));
  const height = Math.max(PAD * 2, ...placed.map((n) => n.y + n.h + PAD));
  const edges: GraphEdge[] = [];
  for (const w of doc.wires ?? []) {
    const f = splitRef(w.from);
    const t = splitRef(w.to);
    const a = nodes.get(f.node);
    const b = nodes.get(t.node);
    if (!a || !b) continue;
    edges.push({
      from: w.from,
      to: w.to,
      key: `${f.node}.${f.port}`,
      x1: a.x + a.w,
      y1: a.outPorts.find((p) => p.port === f.port)?.y ?? a.y + a.h / 2,
      x2: b.x,
      y2: b.inPorts.find((p) => p.port === t.port)?.y ?? b.y + b.h / 2,
    });
  }
  return { nodes: placed, edges, width, height };
}

/** A wire's SVG path: a curve leaving its source port to the right and entering its target port from the left. */
export function wirePath(e: Pick<GraphEdge, "x1" | "y1" | "x2" | "y2">): string {
  const bend = Math.max(40, Math.abs(e.x2 - e.x1) / 2);
  return `M${e.x1},${e.y1} C${e.x1 + bend},${e.y1} ${e.x2 - bend},${e.y2} ${e.x2},${e.y2}`;
}

/** The zoom that fits the whole drawing in `width` pixels (at most 1: a small program is not blown up). */
export function fitZoom(layout: Pick<GraphLayout, "width">, width: number): number {
  return layout.width > 0 && width > 0 ? Math.min(1, width / layout.width) : 1;
}

/**
 * The value to show on a wire: the live sample of an input's point when there
 * is one (fresher than the engine's last run), else the engine's value of the
 * wire's source port.
 */
export function wireValue(
  edge: Pick<GraphEdge, "from" | "key">,
  doc: ProgramDoc,
  engineValues: Record<string, Value> | null,
  live: Map<string, Value>,
): Value | undefined {
  const src = splitRef(edge.from).node;
  const input = doc.inputs.find((i) => i.id === src);
  if (input && live.has(input.point)) return live.get(input.point);
  if (engineValues && edge.key in engineValues) return engineValues[edge.key];
  return undefined;
}
