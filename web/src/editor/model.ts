/**
 * The editor's graph of a logic program, and back: pure functions, no DOM.
 *
 *   program JSON ──programToGraph──▶ EditorGraph (nodes with positions, edges, comments)
 *        ▲                                  │ edits (add, connect, move, delete, paste…)
 *        └──────────graphToProgram──────────┘
 *
 * The round trip is lossless: every field the document holds (unknown ones
 * too), the order of its lists, a wire written "oat" or "oat.value", and its
 * `layout` come back as they were. A node's position is written to `layout`
 * only when it came from there or the user placed it (moved, dropped, laid
 * out), so opening and saving a program without a layout adds none.
 * Comments live in `layout["$comments"]` (the server keeps `layout` as it
 * is, and `$` cannot start a node id, so the key never names a node).
 */
import { layoutProgram, splitRef, storedPosition, VALUE_PORT, type NodeKind, type ProgramDoc } from "../lib/graph";

export type Element = { id: string } & Record<string, unknown>;

export interface EditorNode {
  id: string;
  kind: NodeKind;
  x: number;
  y: number;
  /** The position is written to `layout` (it came from there, or the user placed the node). */
  placed: boolean;
  /** The document's element as it is (an input's point, a block's kind and params, unknown fields too). */
  data: Element;
}

export interface EditorEdge {
  /** The wire's ends as written: "oat", "pid.out". */
  from: string;
  to: string;
  /** Fields of the wire other than from/to (none today; kept should the server add some). */
  extra?: Record<string, unknown>;
}

export interface Comment {
  id: string;
  x: number;
  y: number;
  w: number;
  h: number;
  text: string;
}

export interface EditorGraph {
  /** The document without its node lists, wires and layout (id, site, name, period_s, unknown fields). */
  meta: Record<string, unknown>;
  nodes: EditorNode[];
  edges: EditorEdge[];
  comments: Comment[];
  /** `layout` without node positions and comments (whatever else another tool put there). */
  layoutRest: Record<string, unknown>;
  /** Which of the lists and `layout` the document held (so an absent one stays absent). */
  present: string[];
}

export const COMMENTS_KEY = "$comments";
const LISTS: [NodeKind, "inputs" | "constants" | "blocks" | "outputs"][] = [
  ["input", "inputs"],
  ["constant", "constants"],
  ["block", "blocks"],
  ["output", "outputs"],
];

const isComment = (c: unknown): c is Comment => {
  if (typeof c !== "object" || c === null) return false;
  const o = c as Record<string, unknown>;
  return typeof o.id === "string" && typeof o.text === "string" && ["x", "y", "w", "h"].every((k) => typeof o[k] === "number");
};

/** The program as the editor's graph; nodes without a stored position are laid out by wire depth. */
export function programToGraph(doc: ProgramDoc): EditorGraph {
  const auto = new Map(layoutProgram({ ...doc, layout: {} }).nodes.map((n) => [n.id, n]));
  const nodes: EditorNode[] = [];
  for (const [kind, list] of LISTS) {
    for (const el of (doc[list] ?? []) as Element[]) {
      const at = storedPosition(doc, el.id);
      const a = auto.get(el.id);
      nodes.push({ id: el.id, kind, x: at?.x ?? a?.x ?? 0, y: at?.y ?? a?.y ?? 0, placed: at !== null, data: el });
    }
  }
  const edges = (doc.wires ?? []).map((w) => {
    const { from, to, ...extra } = w as { from: string; to: string } & Record<string, unknown>;
    return Object.keys(extra).length ? { from, to, extra } : { from, to };
  });
  const layoutRest: Record<string, unknown> = {};
  let comments: Comment[] = [];
  const ids = new Set(nodes.map((n) => n.id));
  for (const [k, v] of Object.entries(doc.layout ?? {})) {
    if (k === COMMENTS_KEY && Array.isArray(v) && v.every(isComment)) comments = v.map((c) => ({ ...c }));
    else if (!(ids.has(k) && storedPosition(doc, k))) layoutRest[k] = v;
  }
  const meta: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) {
    if (!["inputs", "constants", "blocks", "outputs", "wires", "layout"].includes(k)) meta[k] = v;
  }
  const present = ["inputs", "constants", "blocks", "outputs", "wires", "layout"].filter((k) => k in doc);
  return { meta, nodes, edges, comments, layoutRest, present };
}

/** The graph as the program JSON the engine runs (and the server validates). */
export function graphToProgram(g: EditorGraph): ProgramDoc {
  const doc: Record<string, unknown> = { ...g.meta };
  for (const [kind, list] of LISTS) {
    const els = g.nodes.filter((n) => n.kind === kind).map((n) => n.data);
    if (els.length || g.present.includes(list)) doc[list] = els;
  }
  if (g.edges.length || g.present.includes("wires")) doc.wires = g.edges.map((e) => ({ from: e.from, to: e.to, ...(e.extra ?? {}) }));
  const layout: Record<string, unknown> = { ...g.layoutRest };
  for (const n of g.nodes) if (n.placed) layout[n.id] = { x: n.x, y: n.y };
  if (g.comments.length) layout[COMMENTS_KEY] = g.comments.map((c) => ({ ...c }));
  if (Object.keys(layout).length || g.present.includes("layout")) doc.layout = layout;
  return doc as ProgramDoc;
}

/* ------------------------------------------------------------------ edits */

/** "pid" + port "out" → "pid.out"; an input, constant or output's only port is written bare. */
export function ref(node: string, port: string): string {
  return port === VALUE_PORT ? node : `${node}.${port}`;
}

/** An id not yet taken: "pid", else "pid-2", "pid-3"… (node ids may not hold a dot). */
export function freshId(g: EditorGraph, base: string, taken: Set<string> = new Set()): string {
  const clean = base.replace(/[^A-Za-z0-9_-]/g, "-").replace(/^-+/, "") || "node";
  const used = new Set([...g.nodes.map((n) => n.id), ...taken]);
  if (!used.has(clean)) return clean;
  const stem = clean.replace(/-\d+$/, "");
  for (let i = 2; ; i++) if (!used.has(`${stem}-${i}`)) return `${stem}-${i}`;
}

export function addNode(g: EditorGraph, kind: NodeKind, data: Element, at: { x: number; y: number }): EditorGraph {
  const id = freshId(g, data.id);
  return { ...g, nodes: [...g.nodes, { id, kind, x: at.x, y: at.y, placed: true, data: { ...data, id } }] };
}

/** Wire `from` (node.port) to `to` (node.port); an input port takes one wire, so one already there is replaced. */
export function connect(g: EditorGraph, from: { node: string; port: string }, to: { node: string; port: string }): EditorGraph {
  const dst = ref(to.node, to.port);
  const edges = g.edges.filter((e) => !sameEnd(e.to, to.node, to.port));
  if (from.node === to.node) return g;
  return { ...g, edges: [...edges, { from: ref(from.node, from.port), to: dst }] };
}

const sameEnd = (written: string, node: string, port: string) => {
  const s = splitRef(written);
  return s.node === node && s.port === port;
};

export function removeEdges(g: EditorGraph, indexes: Iterable<number>): EditorGraph {
  const drop = new Set(indexes);
  return { ...g, edges: g.edges.filter((_, i) => !drop.has(i)) };
}

/** Remove nodes and comments by id, and every wire to or from a removed node. */
export function removeNodes(g: EditorGraph, ids: Iterable<string>): EditorGraph {
  const drop = new Set(ids);
  return {
    ...g,
    nodes: g.nodes.filter((n) => !drop.has(n.id)),
    comments: g.comments.filter((c) => !drop.has(c.id)),
    edges: g.edges.filter((e) => !drop.has(splitRef(e.from).node) && !drop.has(splitRef(e.to).node)),
  };
}

/** Move nodes (and comments) to new positions; a moved node's position is kept in `layout`. */
export function moveNodes(g: EditorGraph, moves: Map<string, { x: number; y: number }>): EditorGraph {
  const r = (v: number) => Math.round(v);
  return {
    ...g,
    nodes: g.nodes.map((n) => {
      const m = moves.get(n.id);
      return m ? { ...n, x: r(m.x), y: r(m.y), placed: true } : n;
    }),
    comments: g.comments.map((c) => {
      const m = moves.get(c.id);
      return m ? { ...c, x: r(m.x), y: r(m.y) } : c;
    }),
  };
}

/** Change a node's element (a block's params, an input's point, an output's priority…); `undefined` removes a field. */
export function updateNode(g: EditorGraph, id: string, patch: Record<string, unknown>): EditorGraph {
  return {
    ...g,
    nodes: g.nodes.map((n) => {
      if (n.id !== id) return n;
      const data: Element = { ...n.data };
      for (const [k, v] of Object.entries(patch)) {
        if (k === "id") continue;
        if (v === undefined) delete data[k];
        else data[k] = v;
      }
      return { ...n, data };
    }),
  };
}

/** Set or clear (`undefined`) one parameter of a block. */
export function setParam(g: EditorGraph, id: string, name: string, value: unknown): EditorGraph {
  const n = g.nodes.find((x) => x.id === id);
  if (!n) return g;
  const params = { ...((n.data.params as Record<string, unknown> | undefined) ?? {}) };
  if (value === undefined) delete params[name];
  else params[name] = value;
  return updateNode(g, id, { params });
}

/** Rename a node and every wire end that names it; null when the new id is taken or not a valid id. */
export function renameNode(g: EditorGraph, id: string, next: string): EditorGraph | null {
  if (id === next) return g;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(next) || next.length > 64) return null;
  if (g.nodes.some((n) => n.id === next) || g.comments.some((c) => c.id === next)) return null;
  const re = (w: string) => {
    const s = splitRef(w);
    return s.node === id ? (w.includes(".") ? `${next}.${s.port}` : next) : w;
  };
  return {
    ...g,
    nodes: g.nodes.map((n) => (n.id === id ? { ...n, id: next, data: { ...n.data, id: next } } : n)),
    edges: g.edges.map((e) => ({ ...e, from: re(e.from), to: re(e.to) })),
  };
}

export function addComment(g: EditorGraph, at: { x: number; y: number }, text = "Comment"): EditorGraph {
  const id = freshCommentId(g);
  return { ...g, comments: [...g.comments, { id, x: Math.round(at.x), y: Math.round(at.y), w: 220, h: 80, text }] };
}

function freshCommentId(g: EditorGraph): string {
  const used = new Set(g.comments.map((c) => c.id));
  for (let i = 1; ; i++) if (!used.has(`$c${i}`)) return `$c${i}`;
}

export function updateComment(g: EditorGraph, id: string, patch: Partial<Omit<Comment, "id">>): EditorGraph {
  return { ...g, comments: g.comments.map((c) => (c.id === id ? { ...c, ...patch } : c)) };
}

/** Every node laid out again by wire depth (inputs left, outputs right), all positions kept in `layout`. */
export function autoLayout(g: EditorGraph): EditorGraph {
  const doc = graphToProgram(g);
  const auto = new Map(layoutProgram({ ...doc, layout: {} }).nodes.map((n) => [n.id, n]));
  return {
    ...g,
    nodes: g.nodes.map((n) => {
      const a = auto.get(n.id);
      return a ? { ...n, x: a.x, y: a.y, placed: true } : n;
    }),
  };
}

/* -------------------------------------------------------- copy and paste */

export interface Clip {
  nodes: EditorNode[];
  edges: EditorEdge[];
  comments: Comment[];
}

/** The selected nodes and comments, with the wires between selected nodes. */
export function copy(g: EditorGraph, ids: Iterable<string>): Clip {
  const sel = new Set(ids);
  return {
    nodes: g.nodes.filter((n) => sel.has(n.id)),
    comments: g.comments.filter((c) => sel.has(c.id)),
    edges: g.edges.filter((e) => sel.has(splitRef(e.from).node) && sel.has(splitRef(e.to).node)),
  };
}

/** The clip added under fresh ids, shifted by `offset`; returns the graph and the new ids (to select them). */
export function paste(g: EditorGraph, clip: Clip, offset: { x: number; y: number }): { graph: EditorGraph; ids: string[] } {
  const rename = new Map<string, string>();
  const taken = new Set<string>();
  for (const n of clip.nodes) {
    const id = freshId(g, n.id, taken);
    taken.add(id);
    rename.set(n.id, id);
  }
  const nodes = clip.nodes.map((n) => {
    const id = rename.get(n.id)!;
    return { ...n, id, x: n.x + offset.x, y: n.y + offset.y, placed: true, data: { ...n.data, id } };
  });
  const re = (w: string) => {
    const s = splitRef(w);
    const id = rename.get(s.node)!;
    return w.includes(".") ? `${id}.${s.port}` : id;
  };
  const edges = clip.edges.map((e) => ({ ...e, from: re(e.from), to: re(e.to) }));
  let graph: EditorGraph = { ...g, nodes: [...g.nodes, ...nodes], edges: [...g.edges, ...edges] };
  const commentIds: string[] = [];
  for (const c of clip.comments) {
    const id = freshCommentId(graph);
    commentIds.push(id);
    graph = { ...graph, comments: [...graph.comments, { ...c, id, x: c.x + offset.x, y: c.y + offset.y }] };
  }
  return { graph, ids: [...nodes.map((n) => n.id), ...commentIds] };
}

/* ------------------------------------------------------ issues on the graph */

export interface IssueTarget {
  /** The node the issue is about, if any. */
  node?: string;
  /** The index of the wire it is about, if any. */
  wire?: number;
}

/**
 * Which node or wire an issue of the validate route is about: "blocks[2].params.kp"
 * → the third block; "wires[3].to" → wire 3; "outputs[0]" → the first output.
 */
export function issueTarget(path: string, doc: Pick<ProgramDoc, "inputs" | "blocks" | "outputs" | "constants">): IssueTarget {
  const m = /^(inputs|constants|blocks|outputs|wires)\[(\d+)\]/.exec(path);
  if (!m) return {};
  const i = Number(m[2]);
  if (m[1] === "wires") return { wire: i };
  const list = (doc[m[1] as "inputs"] ?? []) as { id: string }[];
  const el = list[i];
  return el ? { node: el.id } : {};
}

/** JSON text with every object's keys sorted: two documents that differ only in key order give the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * Whether the canvas's program differs from every one of `versions` (the opened program, the last
 * saved), key order aside: the canvas writes `layout` in node order, a file may not.
 */
export function isChanged(doc: ProgramDoc, ...versions: unknown[]): boolean {
  const text = canonicalJson(doc);
  return versions.every((v) => canonicalJson(v) !== text);
}
