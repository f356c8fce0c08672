/**
 * React Flow's nodes and edges for the editor's graph: pure functions, no DOM.
 *
 *   EditorGraph + catalogue + issues + live values ──flowNodes/flowEdges──▶ Node[] / Edge[]
 *
 * Every node carries its size and its handles (geometry.ts), so React Flow
 * draws it and its wires without measuring first. A node or wire that draws
 * as before is the same object as before: React Flow then re-renders only
 * what changed (live values arrive several times a second).
 */
import type { Edge, Node } from "@xyflow/react";
import type { Value } from "../api/types";
import { formatValue } from "../lib/format";
import { splitRef, type ProgramDoc } from "../lib/graph";
import { portsOf, wiredPorts, type BlockKind, type PortView } from "./catalogue";
import { nodeBox } from "./geometry";
import type { EditorGraph, EditorNode } from "./model";

export interface NodeData {
  node: EditorNode;
  ins: PortView[];
  outs: PortView[];
  title: string;
  sub: string;
  issues: string[];
  live?: string;
  /** The point's sample status when it is not usable (offline, stale, fault). */
  status?: string;
  /** Held by a commissioning override: the node (an output node's point), and which of its output ports. */
  held?: boolean;
  heldPorts?: string[];
  [key: string]: unknown;
}

export interface CommentData {
  text: string;
  /** Resizing ended: the comment's new box (a comment is also a frame around a group of nodes). */
  onResized?: (box: { x: number; y: number; width: number; height: number }) => void;
  [key: string]: unknown;
}

const short = (point: unknown) => {
  const s = String(point ?? "");
  return s.split("/").slice(1).join("/") || s || "(no point)";
};

/** What the canvas's nodes and wires are drawn from. */
export interface FlowInput {
  graph: EditorGraph;
  doc: ProgramDoc;
  kinds: Map<string, BlockKind>;
  nodeIssues: { nodes: Map<string, string[]>; wires: Map<number, string[]> };
  /** Usable live values of points, and the status of the points whose last sample is not usable. */
  live: Map<string, Value>;
  bad: Map<string, string>;
  /** The wires show a replay's or a dry run's values, not the running program's. */
  testing: boolean;
  shown: Record<string, Value> | null;
  held: { ports: Set<string>; nodes: Set<string> };
  /** Comments can be resized (the editor is not read-only). */
  onResized?: (id: string, box: { x: number; y: number; width: number; height: number }) => void;
}

/** Whether two nodes' data draw the same (the node's element by identity, the rest by value). */
export function sameData(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    const x = a[k];
    const y = b[k];
    if (x === y) continue;
    if (k === "node" || typeof x !== "object" || typeof y !== "object" || JSON.stringify(x) !== JSON.stringify(y)) return false;
  }
  return true;
}

/**
 * React Flow's nodes for the graph. A node that draws as before is the same object as before, so
 * that React Flow re-renders only the nodes whose values, issues or ports changed (live values
 * arrive several times a second); what React Flow keeps on its nodes (selection, a drag) is kept.
 */
export function flowNodes(prev: readonly Node[], f: FlowInput): Node[] {
  const { graph, kinds, live, bad, held } = f;
  const old = new Map(prev.map((n) => [n.id, n]));
  const out: Node[] = graph.nodes.map((n) => {
    const kind = n.kind === "block" ? kinds.get(String(n.data.block)) : undefined;
    const { ins, outs } = portsOf(n, kind, wiredPorts(graph, n.id));
    const point = n.data.point;
    const liveV = !f.testing && typeof point === "string" ? live.get(point) : undefined;
    const status = !f.testing && typeof point === "string" ? bad.get(point) : undefined;
    const data: NodeData = {
      node: n,
      ins,
      outs,
      title: n.id,
      sub:
        n.kind === "block"
          ? (kind?.title ?? String(n.data.block))
          : n.kind === "constant"
            ? `constant ${formatValue(n.data.value)}`
            : `${n.kind === "input" ? "reads" : "writes"} ${short(point)}${n.kind === "output" ? ` @${String(n.data.priority ?? 10)}` : ""}`,
      issues: f.nodeIssues.nodes.get(n.id) ?? [],
      ...(held.nodes.has(n.id) ? { held: true, heldPorts: outs.filter((p) => held.ports.has(`${n.id}.${p.name}`)).map((p) => p.name) } : {}),
      ...(liveV !== undefined ? { live: formatValue(liveV) } : status ? { live: status, status } : {}),
    };
    const was = old.get(n.id);
    // A node being dragged keeps where the pointer has it (values arriving mid-drag rebuild the nodes).
    const position = was?.dragging ? was.position : { x: n.x, y: n.y };
    if (was && was.position.x === position.x && was.position.y === position.y && sameData(was.data, data)) return was;
    const box = nodeBox(n.kind, ins, outs);
    return {
      ...(was ?? {}),
      id: n.id,
      type: "program",
      position,
      data,
      className: `ed-rf ed-rf--${n.kind}`,
      selected: was?.selected ?? false,
      width: box.width,
      height: box.height,
      measured: { width: box.width, height: box.height },
      handles: box.handles,
    } as Node;
  });
  for (const c of graph.comments) {
    const was = old.get(c.id);
    const position = was?.dragging ? was.position : { x: c.x, y: c.y };
    const data: CommentData = { text: c.text, ...(f.onResized ? { onResized: (b: { x: number; y: number; width: number; height: number }) => f.onResized!(c.id, b) } : {}) };
    if (
      was &&
      was.position.x === position.x &&
      was.position.y === position.y &&
      was.data.text === c.text &&
      !!was.data.onResized === !!f.onResized &&
      was.width === c.w &&
      was.height === c.h
    )
      out.push(was);
    else
      out.push({
        ...(was ?? {}),
        id: c.id,
        type: "comment",
        position,
        data,
        style: { width: c.w, height: c.h },
        width: c.w,
        height: c.h,
        measured: { width: c.w, height: c.h },
        zIndex: -1,
        selected: was?.selected ?? false,
      } as Node);
  }
  return out;
}

/** React Flow's edges for the graph's wires, each with its value or its problem; an unchanged wire is the same object. */
export function flowEdges(prev: readonly Edge[], f: FlowInput): Edge[] {
  const old = new Map(prev.map((e) => [e.id, e]));
  const inputs = new Map(f.doc.inputs.map((x) => [x.id, x.point]));
  return f.graph.edges.map((e, i) => {
    const from = splitRef(e.from);
    const to = splitRef(e.to);
    const id = `${e.from}>${e.to}#${i}`;
    const bad = f.nodeIssues.wires.get(i);
    const point = inputs.get(from.node);
    const v = !f.testing && point !== undefined && f.live.has(point) ? f.live.get(point) : f.shown?.[`${from.node}.${from.port}`];
    const isHeld = f.held.ports.has(`${from.node}.${from.port}`);
    const className = bad ? "ed-edge ed-edge--invalid" : isHeld ? "ed-edge ed-edge--held" : "ed-edge";
    const label = bad ? "!" : v !== undefined && v !== null ? (isHeld ? `${formatValue(v)} (held)` : formatValue(v)) : undefined;
    const ariaLabel = bad ? bad.join(" ") : undefined;
    const was = old.get(id);
    if (was && was.className === className && was.label === label && was.ariaLabel === ariaLabel && (was.data as { index: number }).index === i) return was;
    return {
      id,
      source: from.node,
      sourceHandle: from.port,
      target: to.node,
      targetHandle: to.port,
      selected: was?.selected ?? false,
      className,
      ...(label !== undefined ? { label } : {}),
      ...(ariaLabel !== undefined ? { ariaLabel } : {}),
      data: { index: i, issues: bad ?? [] },
    } as Edge;
  });
}

