/**
 * The visual logic editor: a program on a canvas (@xyflow/react through
 * preact/compat), a palette of every block of the catalogue and of the site's
 * points, a side panel for the selected node's settings, validation by the
 * server as you edit, and deploy with a diff against the running version.
 *
 *   palette ──drag/Add──▶ canvas ◀──▶ history of EditorGraph states (undo/redo)
 *                           │ every change (debounced)
 *                           ▼
 *          POST …/programs/validate ──▶ issues on nodes and wires; Deploy disabled while any
 *
 * The canvas draws an EditorGraph (editor/model.ts); the program JSON it
 * saves is `graphToProgram` of it, the same document the engine runs.
 * Read-only (viewers, operators): the canvas still shows the program, its
 * live values and its settings, but nothing moves, wires or deletes.
 *
 * React Flow runs on preact/compat (vite.config.ts aliases react and
 * react-dom to it). Compat installs Preact option hooks for the whole page
 * once this chunk loads: from then on, everywhere, a text box's or
 * textarea's onChange fires on every keystroke (as React's does) and onBlur
 * and onFocus listen to focusout/focusin. Commit a text field on blur or
 * Enter, never on onChange (SidePanel.tsx does).
 */
import {
  applyEdgeChanges,
  applyNodeChanges,
  Background,
  Controls,
  Handle,
  NodeResizer,
  Position,
  ReactFlow,
  ReactFlowProvider,
  useNodesInitialized,
  useReactFlow,
  useUpdateNodeInternals,
  type Connection,
  type Edge,
  type EdgeChange,
  type Node,
  type NodeChange,
} from "@xyflow/react";
import "@xyflow/react/dist/base.css";
import "./editor.css";
import type { ComponentChildren, FunctionComponent } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import { ApiError } from "../api/problem";
import type { BlockStates, ProgramDetail, ProgramOverride, Value } from "../api/types";
import { useApp } from "../context";
import { useLive, useLiveSamples } from "../hooks";
import { formatValue } from "../lib/format";
import { splitRef, type ProgramDoc } from "../lib/graph";
import { formatIssue, issuesFromProblem, type ProgramIssue } from "../lib/programIssues";
import { portsOf, wiredPorts, type BlockKind, type PortView } from "./catalogue";
import { changeText, diffPrograms } from "./diff";
import { canRedo, canUndo, push, redo, start, undo, type History } from "./history";
import {
  addComment,
  addNode,
  autoLayout,
  connect,
  copy,
  graphToProgram,
  isChanged,
  issueTarget,
  moveNodes,
  paste,
  programToGraph,
  removeEdges,
  removeNodes,
  updateComment,
  type Clip,
  type EditorGraph,
  type EditorNode,
} from "./model";
import { heldTargets } from "./overrides";
import { Palette, type DropItem } from "./Palette";
import { SidePanel } from "./SidePanel";
import { SaveTemplateDialog } from "./Templates";
import { TestPanel, type WireSource } from "./TestPanel";

/* React Flow's components are typed for React; under preact/compat they are Preact components. */
const Flow = ReactFlow as unknown as FunctionComponent<Record<string, unknown>>;
const FlowProvider = ReactFlowProvider as unknown as FunctionComponent<{ children: ComponentChildren }>;
const Bg = Background as unknown as FunctionComponent<Record<string, unknown>>;
const Ctl = Controls as unknown as FunctionComponent<Record<string, unknown>>;
const Port = Handle as unknown as FunctionComponent<Record<string, unknown>>;
const Resizer = NodeResizer as unknown as FunctionComponent<Record<string, unknown>>;

/** The block catalogue once loaded, per API client: it changes only with the server's version (a reload). */
const loadedCatalogue = new WeakMap<object, BlockKind[]>();

const HEAD = 40;
const ROW = 20;

export interface CanvasProps {
  site: string;
  detail: ProgramDetail;
  /** The engine's values of the running program ("node.port" → value), refreshed by the page. */
  values: Record<string, Value> | null;
  /** The running blocks' insides (PID terms, timers, lead-lag order), refreshed by the page. */
  blockStates: BlockStates | null;
  mayEdit: boolean;
  mayDeploy: boolean;
  /** After a save or deploy: the page reloads the program and its versions. */
  onChanged: (message: string) => void;
  /** Whether the canvas holds changes not saved (the page asks before closing it). */
  onDirty?: (dirty: boolean) => void;
}

export function ProgramCanvas(props: CanvasProps) {
  return (
    <FlowProvider>
      <CanvasInner {...props} />
    </FlowProvider>
  );
}

interface NodeData {
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

interface CommentData {
  text: string;
  /** Resizing ended: the comment's new box (a comment is also a frame around a group of nodes). */
  onResized?: (box: { x: number; y: number; width: number; height: number }) => void;
  [key: string]: unknown;
}

function ProgramNode(props: { data: NodeData; selected?: boolean; isConnectable?: boolean }) {
  const { data } = props;
  const rows = Math.max(1, data.ins.length, data.outs.length);
  const invalid = data.issues.length > 0;
  return (
    <div
      class={`ed-node ed-node--${data.node.kind}${invalid ? " ed-node--invalid" : ""}${data.held ? " ed-node--held" : ""}${props.selected ? " ed-node--selected" : ""}`}
      style={{ height: `${HEAD + rows * ROW}px` }}
      data-node={data.node.id}
      data-held={data.held ? "true" : undefined}
      title={invalid ? data.issues.join("\n") : data.held ? "Overridden (commissioning)" : undefined}
    >
      <div class="ed-node__title">
        {invalid && (
          <span class="ed-node__badge" aria-label={`${data.issues.length} problem(s)`}>
            !
          </span>
        )}
        {data.title}
      </div>
      <div class="ed-node__sub">
        {data.sub}
        {data.live !== undefined && (data.status ? <span class="ed-node__status"> ({data.status})</span> : <span class="ed-node__live"> = {data.live}</span>)}
      </div>
      {data.ins.map((p, i) => (
        <div key={`i-${p.name}`} class="ed-port ed-port--in" style={{ top: `${HEAD + i * ROW}px` }}>
          <Port type="target" position={Position.Left} id={p.name} isConnectable={props.isConnectable !== false} style={{ top: `${ROW / 2}px` }} data-port={`${data.node.id}.${p.name}`} />
          {data.node.kind === "block" && <span class={p.required ? "ed-port__name ed-port__name--required" : "ed-port__name"}>{p.name}</span>}
        </div>
      ))}
      {data.outs.map((p, i) => (
        <div key={`o-${p.name}`} class={`ed-port ed-port--out${data.heldPorts?.includes(p.name) ? " ed-port--held" : ""}`} style={{ top: `${HEAD + i * ROW}px` }}>
          {data.node.kind === "block" && <span class="ed-port__name">{data.heldPorts?.includes(p.name) ? `${p.name} (held)` : p.name}</span>}
          <Port type="source" position={Position.Right} id={p.name} isConnectable={props.isConnectable !== false} style={{ top: `${ROW / 2}px` }} data-port={`${data.node.id}.${p.name}`} />
        </div>
      ))}
    </div>
  );
}

function CommentNode(props: { data: CommentData; selected?: boolean }) {
  const { onResized } = props.data;
  return (
    <>
      {onResized && (
        <Resizer isVisible={!!props.selected} minWidth={120} minHeight={40} onResizeEnd={(_e: unknown, box: { x: number; y: number; width: number; height: number }) => onResized(box)} />
      )}
      <div class={`ed-comment${props.selected ? " ed-node--selected" : ""}`} role="note">
        {props.data.text}
      </div>
    </>
  );
}

const NODE_TYPES = { program: ProgramNode, comment: CommentNode } as unknown as Record<string, unknown>;

const short = (point: unknown) => {
  const s = String(point ?? "");
  return s.split("/").slice(1).join("/") || s || "(no point)";
};

function CanvasInner(props: CanvasProps) {
  const { api } = useApp();
  const { site, detail, mayEdit, mayDeploy } = props;
  const flow = useReactFlow();
  const [history, setHistory] = useState<History<EditorGraph>>(() => start(programToGraph(detail.program)));
  const graph = history.present;
  // Fit a program that has nodes into the view (never above actual size); an empty one starts at actual size.
  const [fitAtStart] = useState(() => history.present.nodes.length > 0);
  const edit = useCallback((f: (g: EditorGraph) => EditorGraph) => setHistory((h) => push(h, f(h.present))), []);
  const doc = useMemo(() => graphToProgram(graph), [graph]);
  const clip = useRef<Clip | null>(null);
  // Changes not saved: the canvas differs from the program it opened and from the version it saved last.
  const [saved, setSaved] = useState<ProgramDoc>(detail.program);
  const dirty = useMemo(() => isChanged(doc, detail.program, saved), [doc, detail.program, saved]);
  useEffect(() => {
    props.onDirty?.(dirty);
    if (!dirty) return;
    // Leaving or reloading the page asks first while the canvas holds unsaved changes.
    const ask = (ev: BeforeUnloadEvent) => ev.preventDefault();
    window.addEventListener("beforeunload", ask);
    return () => window.removeEventListener("beforeunload", ask);
  }, [dirty]);
  useEffect(() => () => props.onDirty?.(false), []);
  const [catalogue, setCatalogue] = useState<BlockKind[]>(() => loadedCatalogue.get(api) ?? []);
  const [catalogueError, setCatalogueError] = useState<string | null>(null);
  const kinds = useMemo(() => new Map(catalogue.map((k) => [k.kind, k])), [catalogue]);

  useEffect(() => {
    if (loadedCatalogue.has(api)) return;
    let alive = true;
    endpoints.blocks(api).then(
      (c) => {
        loadedCatalogue.set(api, c.items);
        if (alive) setCatalogue(c.items);
      },
      (err) => alive && setCatalogueError(`The block catalogue could not be loaded: ${err instanceof Error ? err.message : String(err)}`),
    );
    return () => {
      alive = false;
    };
  }, [api]);

  /* ---------------------------------------------------------- validation */
  const [check, setCheck] = useState<{ doc: ProgramDoc; issues: ProgramIssue[]; error?: string } | null>(null);
  useEffect(() => {
    let alive = true;
    const t = setTimeout(() => {
      endpoints.validateProgram(api, site, doc).then(
        (res) => alive && setCheck({ doc, issues: res.valid ? [] : res.issues }),
        (err) => {
          if (!alive) return;
          if (err instanceof ApiError && err.problem.errors?.length) setCheck({ doc, issues: issuesFromProblem(err.problem.errors) });
          else setCheck({ doc, issues: [], error: err instanceof Error ? err.message : String(err) });
        },
      );
    }, 400);
    return () => {
      alive = false;
      clearTimeout(t);
    };
  }, [api, site, doc]);
  const checked = check !== null && check.doc === doc && !check.error;
  const issues = checked ? check!.issues : [];
  const valid = checked && issues.length === 0;
  const nodeIssues = useMemo(() => {
    const m = new Map<string, string[]>();
    const w = new Map<number, string[]>();
    for (const i of issues) {
      const t = issueTarget(i.path, doc);
      const text = formatIssue(i, doc);
      if (t.node) m.set(t.node, [...(m.get(t.node) ?? []), text]);
      if (t.wire !== undefined) w.set(t.wire, [...(w.get(t.wire) ?? []), text]);
    }
    return { nodes: m, wires: w };
  }, [issues, doc]);

  /* ------------------------------------------------------------ live view */
  // What the wires show: the running program (live inputs and the engine's values), else a replay's or a dry run's.
  const [source, setSource] = useState<WireSource | null>(null);
  const shown = source ? source.values : props.values;
  const states = source ? (source.blockStates ?? null) : props.blockStates;
  const points = useMemo(() => [...doc.inputs.map((i) => i.point), ...doc.outputs.map((o) => o.point)].filter(Boolean), [doc]);
  const samples = useLiveSamples(points);
  const liveOk = useLive();
  const live = new Map<string, Value>();
  /** A point whose last sample is not usable: its status (offline, stale, fault), shown on its node. */
  const bad = new Map<string, string>();
  if (liveOk)
    for (const [p, s] of samples) {
      if (s[2] === "ok" || s[2] === "overridden") live.set(p, s[1]);
      else bad.set(p, s[2]);
    }
  const liveKey = [...live, ...bad].map(([k, v]) => `${k}=${String(v)}`).join("|");

  // The live view proper: the deployed version, running, opened unedited and not showing a test's values.
  // Its blocks' outputs can be overridden for commissioning; the held ones are listed every few seconds.
  // (The status is not asked: right after a deploy it may not have run yet; the server answers 409 if it is not loaded.)
  const running = !source && !dirty && detail.enabled && detail.active_version === detail.version;
  const [overrides, setOverrides] = useState<ProgramOverride[] | null>(null);
  const [overridesTick, setOverridesTick] = useState(0);
  useEffect(() => {
    if (!running) return setOverrides(null);
    let alive = true;
    const load = () =>
      endpoints.programOverrides(api, site, detail.id).then(
        (list) => alive && setOverrides(list),
        () => {},
      );
    void load();
    const t = setInterval(load, 3000);
    return () => {
      alive = false;
      clearInterval(t);
    };
  }, [api, site, detail.id, running, overridesTick]);
  const held = useMemo(() => heldTargets(overrides), [overrides]);
  const heldKey = [...held.ports, "|", ...held.nodes].join(",");
  const valuesKey = JSON.stringify(shown ?? {}) + (source ? "/source" : "");

  /* ------------------------------------------------- graph → React Flow */
  const [rfNodes, setRfNodes] = useState<Node[]>([]);
  const [rfEdges, setRfEdges] = useState<Edge[]>([]);
  useEffect(() => {
    setRfNodes((prev) => {
      const old = new Map(prev.map((n) => [n.id, n]));
      const out: Node[] = graph.nodes.map((n) => {
        const kind = n.kind === "block" ? kinds.get(String(n.data.block)) : undefined;
        const { ins, outs } = portsOf(n, kind, wiredPorts(graph, n.id));
        const point = n.data.point;
        const liveV = !source && typeof point === "string" ? live.get(point) : undefined;
        const status = !source && typeof point === "string" ? bad.get(point) : undefined;
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
          issues: nodeIssues.nodes.get(n.id) ?? [],
          ...(held.nodes.has(n.id) ? { held: true, heldPorts: outs.filter((p) => held.ports.has(`${n.id}.${p.name}`)).map((p) => p.name) } : {}),
          ...(liveV !== undefined ? { live: formatValue(liveV) } : status ? { live: status, status } : {}),
        };
        const was = old.get(n.id);
        return {
          ...(was ?? {}),
          id: n.id,
          type: "program",
          // A node being dragged keeps where the pointer has it (values arriving mid-drag rebuild the nodes).
          position: was?.dragging ? was.position : { x: n.x, y: n.y },
          data,
          className: `ed-rf ed-rf--${n.kind}`,
          selected: was?.selected ?? false,
        } as Node;
      });
      for (const c of graph.comments) {
        const was = old.get(c.id);
        out.push({
          ...(was ?? {}),
          id: c.id,
          type: "comment",
          position: was?.dragging ? was.position : { x: c.x, y: c.y },
          data: {
            text: c.text,
            ...(mayEdit
              ? { onResized: (b: { x: number; y: number; width: number; height: number }) => edit((g) => updateComment(g, c.id, { x: Math.round(b.x), y: Math.round(b.y), w: Math.round(b.width), h: Math.round(b.height) })) }
              : {}),
          },
          style: { width: c.w, height: c.h },
          zIndex: -1,
          selected: was?.selected ?? false,
        } as Node);
      }
      return out;
    });
    setRfEdges((prev) => {
      const sel = new Set(prev.filter((e) => e.selected).map((e) => e.id));
      return graph.edges.map((e, i) => {
        const f = splitRef(e.from);
        const t = splitRef(e.to);
        const id = `${e.from}>${e.to}#${i}`;
        const bad = nodeIssues.wires.get(i);
        const input = doc.inputs.find((x) => x.id === f.node);
        const v = !source && input && live.has(input.point) ? live.get(input.point) : shown?.[`${f.node}.${f.port}`];
        const isHeld = held.ports.has(`${f.node}.${f.port}`);
        return {
          id,
          source: f.node,
          sourceHandle: f.port,
          target: t.node,
          targetHandle: t.port,
          selected: sel.has(id),
          className: bad ? "ed-edge ed-edge--invalid" : isHeld ? "ed-edge ed-edge--held" : "ed-edge",
          ...(bad ? { label: "!", ariaLabel: bad.join(" ") } : v !== undefined && v !== null ? { label: isHeld ? `${formatValue(v)} (held)` : formatValue(v) } : {}),
          data: { index: i, issues: bad ?? [] },
        } as Edge;
      });
    });
    // live and values are read through their keys: a new Map each render is not a change.
  }, [graph, kinds, nodeIssues, liveKey, valuesKey, heldKey]);

  // Have React Flow measure the nodes' ports again once it has measured the nodes, and whenever
  // ports change (with the catalogue, parameters, wires): under preact/compat, edges whose ports
  // were measured in the first pass were otherwise not drawn until some later change.
  const updateInternals = useUpdateNodeInternals();
  const measured = useNodesInitialized();
  const portsKey = rfNodes.map((n) => `${n.id}:${(n.data as NodeData).ins?.length ?? 0}/${(n.data as NodeData).outs?.length ?? 0}`).join(",");
  useEffect(() => {
    if (!measured) return;
    const ids = rfNodes.map((n) => n.id);
    const f = requestAnimationFrame(() => updateInternals(ids));
    return () => cancelAnimationFrame(f);
  }, [portsKey, measured]);

  const selectedIds = rfNodes.filter((n) => n.selected).map((n) => n.id);
  const selectedNode = selectedIds.length === 1 ? graph.nodes.find((n) => n.id === selectedIds[0]) : undefined;
  const selectedComment = selectedIds.length === 1 ? graph.comments.find((c) => c.id === selectedIds[0]) : undefined;

  const onNodesChange = useCallback((changes: NodeChange[]) => {
    // Removals go through onDelete (one undo step for the nodes and their wires).
    setRfNodes((nds) => applyNodeChanges(changes.filter((c) => c.type !== "remove"), nds));
  }, []);
  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    setRfEdges((eds) => applyEdgeChanges(changes.filter((c) => c.type !== "remove"), eds));
  }, []);
  const onNodeDragStop = useCallback(
    (_ev: unknown, _node: Node, nodes: Node[]) => {
      edit((g) => moveNodes(g, new Map(nodes.map((n) => [n.id, n.position]))));
    },
    [edit],
  );
  const onConnect = useCallback(
    (c: Connection) => {
      if (!c.source || !c.target) return;
      edit((g) => connect(g, { node: c.source, port: c.sourceHandle ?? "value" }, { node: c.target, port: c.targetHandle ?? "value" }));
    },
    [edit],
  );
  const onDelete = useCallback(
    ({ nodes, edges }: { nodes: Node[]; edges: Edge[] }) => {
      const dropNodes = new Set(nodes.map((n) => n.id));
      const idx = edges.map((e) => (e.data as { index: number }).index);
      edit((g) => removeNodes(removeEdges(g, idx), dropNodes));
    },
    [edit],
  );

  /* -------------------------------------------------------- palette drop */
  const place = useCallback(
    (item: DropItem, at: { x: number; y: number }) => {
      edit((g) => {
        if (item.kind === "block") {
          const k = kinds.get(item.block);
          const params: Record<string, unknown> = {};
          for (const p of k?.params ?? []) if (p.required && p.choices?.length) params[p.name] = p.choices[0];
          return addNode(g, "block", { id: item.block.replace(/_/g, "-"), block: item.block, params }, at);
        }
        if (item.kind === "constant") return addNode(g, "constant", { id: "const", value: 0 }, at);
        if (item.kind === "comment") return addComment(g, at);
        const base = (item.point ?? "").split("/").slice(-1)[0] || item.kind;
        if (item.kind === "input") return addNode(g, "input", { id: base, point: item.point ?? "" }, at);
        return addNode(g, "output", { id: base, point: item.point ?? "", priority: 10 }, at);
      });
    },
    [edit, kinds],
  );
  const wrap = useRef<HTMLDivElement>(null);
  const dropAt = (item: DropItem, x: number, y: number) => {
    const r = wrap.current?.getBoundingClientRect();
    if (!r || !mayEdit || x < r.left || x > r.right || y < r.top || y > r.bottom) return;
    place(item, flow.screenToFlowPosition({ x, y }));
  };
  const addAtCentre = (item: DropItem) => {
    const r = wrap.current?.getBoundingClientRect();
    const at = r ? flow.screenToFlowPosition({ x: r.left + r.width / 2, y: r.top + r.height / 3 }) : { x: 40, y: 40 };
    place(item, { x: at.x + (graph.nodes.length % 5) * 12, y: at.y + (graph.nodes.length % 5) * 12 });
  };

  /* ------------------------------------------------------------ keyboard */
  const select = (ids: string[]) => {
    const s = new Set(ids);
    setRfNodes((nds) => nds.map((n) => ({ ...n, selected: s.has(n.id) })));
  };
  const onKeyDown = (ev: KeyboardEvent) => {
    const t = ev.target as HTMLElement | null;
    if (t && /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)) return;
    const mod = ev.ctrlKey || ev.metaKey;
    if (!mod) return;
    const k = ev.key.toLowerCase();
    if (k === "z" && !ev.shiftKey && mayEdit) {
      ev.preventDefault();
      setHistory(undo);
    } else if ((k === "y" || (k === "z" && ev.shiftKey)) && mayEdit) {
      ev.preventDefault();
      setHistory(redo);
    } else if (k === "c" && selectedIds.length) {
      clip.current = copy(graph, selectedIds);
    } else if (k === "v" && clip.current && mayEdit) {
      ev.preventDefault();
      const c = clip.current;
      let ids: string[] = [];
      edit((g) => {
        const r = paste(g, c, { x: 40, y: 40 });
        ids = r.ids;
        return r.graph;
      });
      setTimeout(() => select(ids), 0);
    }
  };

  /* -------------------------------------------------------------- deploy */
  const [deploying, setDeploying] = useState(false);
  const [templating, setTemplating] = useState(false);
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<{ tone: "info" | "error"; text: string } | null>(null);
  const save = async (deployNote: string | null) => {
    setBusy(true);
    setNote(null);
    try {
      const res = await endpoints.saveProgramVersion(api, site, detail.id, doc, deployNote ?? "");
      setSaved(doc);
      if (res.issues.length) {
        setNote({ tone: "error", text: `Saved as version ${res.version}, not deployed: ${res.issues.map((i) => formatIssue(i, doc)).join(" ")}` });
        return;
      }
      if (deployNote === null) {
        props.onChanged(res.created ? `Saved as version ${res.version}.` : `Version ${res.version} holds this program already.`);
        return;
      }
      await endpoints.deployProgramVersion(api, site, detail.id, res.version, deployNote);
      props.onChanged(`Version ${res.version} deployed.`);
    } catch (err) {
      const e = err instanceof ApiError ? err : null;
      const list = e ? issuesFromProblem(e.problem.errors) : [];
      setNote({ tone: "error", text: list.length ? list.map((i) => formatIssue(i, doc)).join(" ") : String(e?.message ?? err) });
    } finally {
      setBusy(false);
    }
  };

  const invalidText = !checked
    ? check?.error
      ? `Validation failed: ${check.error}`
      : "Checking…"
    : valid
      ? "Valid: no problems found."
      : `${issues.length} problem${issues.length === 1 ? "" : "s"}: fix ${issues.length === 1 ? "it" : "them"} to deploy.`;

  return (
    <section class="card editor" aria-labelledby="ed-title">
      <h2 id="ed-title">Visual editor{mayEdit ? "" : " (read only)"}</h2>
      {catalogueError && <p class="banner banner--error">{catalogueError}</p>}
      {mayEdit && (
        <div class="actions actions--left editor__toolbar" role="toolbar" aria-label="Editor">
          <button type="button" class="btn btn--small" onClick={() => setHistory(undo)} disabled={!canUndo(history)} title="Ctrl+Z">
            Undo
          </button>
          <button type="button" class="btn btn--small" onClick={() => setHistory(redo)} disabled={!canRedo(history)} title="Ctrl+Y">
            Redo
          </button>
          <button type="button" class="btn btn--small" onClick={() => edit(autoLayout)}>
            Auto-layout
          </button>
          <button
            type="button"
            class="btn btn--small"
            disabled={!selectedIds.length}
            onClick={() => {
              const ids = new Set(selectedIds);
              const idx = rfEdges.filter((e) => e.selected).map((e) => (e.data as { index: number }).index);
              edit((g) => removeNodes(removeEdges(g, idx), ids));
            }}
          >
            Delete selected
          </button>
          <button type="button" class="btn btn--small" disabled={busy} onClick={() => save(null)}>
            Save as new version
          </button>
          <button type="button" class="btn btn--small" onClick={() => setTemplating(true)}>
            Save as template…
          </button>
          {mayDeploy && (
            <button type="button" class="btn btn--small btn--primary" disabled={busy || !valid} onClick={() => setDeploying(true)} title={valid ? undefined : "Fix the problems first"}>
              Deploy…
            </button>
          )}
        </div>
      )}
      <p class={`small editor__status ${checked && !valid ? "editor__status--invalid" : ""}`} role="status" aria-live="polite" data-valid={valid ? "true" : "false"}>
        {invalidText}
      </p>
      <TestPanel site={site} programId={detail.id} doc={doc} mayEdit={mayEdit} source={source} onSource={setSource} />
      {source && (
        <p class="banner banner--info editor__source" role="status">
          The wires show: {source.label}.
        </p>
      )}
      {note && (
        <p class={`banner banner--${note.tone}`} role={note.tone === "error" ? "alert" : "status"}>
          {note.text}
        </p>
      )}
      <div class={`editor__body${mayEdit ? "" : " editor__body--readonly"}`}>
        {mayEdit && <Palette site={site} kinds={catalogue} onAdd={addAtCentre} onDropAt={dropAt} />}
        <div class="editor__canvas" ref={wrap} onKeyDown={onKeyDown} tabIndex={-1}>
          <Flow
            nodes={rfNodes}
            edges={rfEdges}
            nodeTypes={NODE_TYPES}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onNodeDragStop={onNodeDragStop}
            onConnect={onConnect}
            onDelete={onDelete}
            nodesDraggable={mayEdit}
            nodesConnectable={mayEdit}
            elementsSelectable
            deleteKeyCode={mayEdit ? ["Delete", "Backspace"] : null}
            multiSelectionKeyCode={["Shift", "Meta", "Control"]}
            selectionKeyCode="Shift"
            minZoom={0.1}
            maxZoom={3}
            fitView={fitAtStart}
            fitViewOptions={{ maxZoom: 1, padding: 0.1 }}
            defaultViewport={{ x: 0, y: 0, zoom: 1 }}
            proOptions={{ hideAttribution: true }}
          >
            <Bg gap={20} size={1} />
            <Ctl showInteractive={false} />
          </Flow>
        </div>
        <SidePanel
          site={site}
          graph={graph}
          node={selectedNode}
          comment={selectedComment}
          kinds={kinds}
          issues={selectedNode ? (nodeIssues.nodes.get(selectedNode.id) ?? []) : []}
          readOnly={!mayEdit}
          values={shown}
          blockState={selectedNode ? (states?.[selectedNode.id] ?? null) : null}
          onEdit={edit}
          live={running ? { programId: detail.id, overrides, mayDeploy, onChanged: () => setOverridesTick((t) => t + 1) } : null}
        />
      </div>
      {checked && issues.length > 0 && (
        <div class="editor__issues" role="alert">
          <h3>Problems</h3>
          <ul class="error-list">
            {issues.map((i, k) => (
              <li key={k}>{formatIssue(i, doc)}</li>
            ))}
          </ul>
        </div>
      )}
      <p class="muted small">
        Drag a block or a point from the palette onto the canvas, wire an output port (right) to an input port (left), drag to move, Shift+drag to
        select several; Delete removes, Ctrl+C/Ctrl+V copy, Ctrl+Z/Ctrl+Y undo and redo; scroll to zoom, drag the background to pan.
      </p>
      {templating && (
        <SaveTemplateDialog
          site={site}
          doc={doc}
          onClose={(message) => {
            setTemplating(false);
            if (message) setNote({ tone: "info", text: message });
          }}
        />
      )}
      {deploying && (
        <DeployDialog
          detail={detail}
          doc={doc}
          onCancel={() => setDeploying(false)}
          onConfirm={async (why) => {
            setDeploying(false);
            await save(why);
          }}
        />
      )}
    </section>
  );
}

/** The running version beside the edited one: what deploying changes, and why (required, kept in the audit log). */
function DeployDialog(props: { detail: ProgramDetail; doc: ProgramDoc; onCancel: () => void; onConfirm: (why: string) => Promise<void> }) {
  const { api } = useApp();
  const { detail } = props;
  const ref = useRef<HTMLDialogElement>(null);
  const [running, setRunning] = useState<ProgramDoc | null | undefined>(undefined);
  const [why, setWhy] = useState("");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => ref.current?.showModal(), []);
  useEffect(() => {
    const active = detail.active_version;
    if (active === null) setRunning(null);
    else if (detail.version === active) setRunning(detail.program);
    else
      endpoints.program(api, detail.site, detail.id, active).then(
        (d) => setRunning(d.program),
        () => setRunning(null),
      );
  }, [api, detail]);
  const changes = running === undefined ? null : diffPrograms(running, props.doc);
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="ed-deploy-title" onCancel={props.onCancel}>
      <form
        onSubmit={(ev) => {
          ev.preventDefault();
          if (!why.trim()) return setError("Say why: it is kept with the version and in the audit log.");
          ref.current?.close();
          void props.onConfirm(why.trim());
        }}
        noValidate
      >
        <h2 id="ed-deploy-title">Deploy {detail.name || detail.id}?</h2>
        <p class="muted">
          {detail.active_version === null ? "Nothing is deployed yet." : `Compared with the running version v${detail.active_version}:`}
        </p>
        {changes === null ? (
          <p class="muted">Loading the running version…</p>
        ) : changes.length === 0 ? (
          <p>No change: the program is the same as the running version.</p>
        ) : (
          <ul class="editor__diff">
            {changes.map((c, i) => (
              <li key={i} class={`diff--${c.kind}`}>
                {changeText(c)}
              </li>
            ))}
          </ul>
        )}
        <div class={`field${error ? " field--error" : ""}`}>
          <label for="ed-why">Note (why)</label>
          <textarea id="ed-why" rows={3} maxLength={2000} value={why} onInput={(e) => setWhy(e.currentTarget.value)} aria-invalid={!!error} />
          {error && <p class="field__error">{error}</p>}
        </div>
        <div class="actions">
          <button type="button" class="btn" onClick={() => { ref.current?.close(); props.onCancel(); }}>
            Cancel
          </button>
          <button type="submit" class="btn btn--primary">
            Save and deploy
          </button>
        </div>
      </form>
    </dialog>
  );
}
