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
 *
 * Opening is one render: the program page has loaded this chunk and the
 * catalogue already (preload.ts); the nodes come with their sizes and
 * handles (flow.ts, geometry.ts) and React Flow's store is created with
 * them and the fitted view, so the first frame shows every node and wire
 * where it stays (docs/benchmarks.md has the figures).
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
  type Connection,
  type Edge,
  type EdgeChange,
  type Node,
  type NodeChange,
  type ReactFlowInstance,
  type Viewport,
} from "@xyflow/react";
import "@xyflow/react/dist/base.css";
import "./editor.css";
import type { ComponentChildren, FunctionComponent } from "preact";
import { memo } from "preact/compat";
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import { ApiError } from "../api/problem";
import type { BlockStates, ProgramDetail, ProgramOverride, Value } from "../api/types";
import { useApp } from "../context";
import { useLive, useLiveSamples } from "../hooks";
import type { ProgramDoc } from "../lib/graph";
import { formatIssue, issuesFromProblem, type ProgramIssue } from "../lib/programIssues";
import type { BlockKind } from "./catalogue";
import { changeText, diffPrograms } from "./diff";
import { flowEdges, flowNodes, type CommentData, type FlowInput, type NodeData } from "./flow";
import { FIT, fitViewport, HEAD, ROW } from "./geometry";
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
} from "./model";
import { heldTargets } from "./overrides";
import { Palette, type DropItem } from "./Palette";
import { loadCatalogue, loadedCatalogue } from "./preload";
import { SidePanel } from "./SidePanel";
import { SaveTemplateDialog } from "./Templates";
import { TestPanel, type WireSource } from "./TestPanel";

/* React Flow's components are typed for React; under preact/compat they are Preact components. */
const Flow = ReactFlow as unknown as FunctionComponent<Record<string, unknown>>;
const FlowProvider = ReactFlowProvider as unknown as FunctionComponent<Record<string, unknown> & { children: ComponentChildren }>;
const Bg = Background as unknown as FunctionComponent<Record<string, unknown>>;
const Ctl = Controls as unknown as FunctionComponent<Record<string, unknown>>;
const Port = Handle as unknown as FunctionComponent<Record<string, unknown>>;
const Resizer = NodeResizer as unknown as FunctionComponent<Record<string, unknown>>;

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

/*
 * The panels beside the canvas re-render only when their own props change: the canvas re-renders
 * several times a second while live values arrive, and the palette alone lists the whole catalogue.
 */
const PaletteView = memo(Palette);
const SidePanelView = memo(SidePanel);
const TestPanelView = memo(TestPanel);

// Memoised: React Flow re-renders every node once it has measured them after the first paint (its
// ResizeObserver always re-measures); a node whose props are the same need not draw again.
const NODE_TYPES = { program: memo(ProgramNode), comment: memo(CommentNode) } as unknown as Record<string, unknown>;

/** No issues (one array: a new empty one each render would rebuild every node each render). */
const NO_ISSUES: ProgramIssue[] = [];
const NO_TEXT: string[] = [];

export function ProgramCanvas(props: CanvasProps) {
  const { api } = useApp();
  const { site, detail, mayEdit, mayDeploy } = props;
  // React Flow's instance (screen ↔ canvas coordinates), once it has started.
  const flow = useRef<ReactFlowInstance | null>(null);
  const wrap = useRef<HTMLDivElement>(null);
  const [history, setHistory] = useState<History<EditorGraph>>(() => start(programToGraph(detail.program)));
  const graph = history.present;
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
  // The program page started loading the catalogue when it opened (editor/preload.ts): usually it is here already.
  const [catalogue, setCatalogue] = useState<BlockKind[]>(() => loadedCatalogue(api) ?? []);
  const [catalogueError, setCatalogueError] = useState<string | null>(null);
  const kinds = useMemo(() => new Map(catalogue.map((k) => [k.kind, k])), [catalogue]);

  useEffect(() => {
    if (loadedCatalogue(api)) return;
    let alive = true;
    loadCatalogue(api).then(
      (items) => alive && setCatalogue(items),
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
  const issues = checked ? check!.issues : NO_ISSUES;
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
  const overridesChanged = useCallback(() => setOverridesTick((t) => t + 1), []);
  const liveOverrides = useMemo(
    () => (running ? { programId: detail.id, overrides, mayDeploy, onChanged: overridesChanged } : null),
    [running, detail.id, overrides, mayDeploy, overridesChanged],
  );
  const heldKey = [...held.ports, "|", ...held.nodes].join(",");
  const valuesKey = JSON.stringify(shown ?? {}) + (source ? "/source" : "");

  /* ------------------------------------------------- graph → React Flow */
  // Built before the first render (not in an effect after it), with every node's size and handles
  // (editor/geometry.ts): React Flow draws the nodes, their wires and the fitted view at once.
  const onResized = useCallback(
    (id: string, b: { x: number; y: number; width: number; height: number }) =>
      edit((g) => updateComment(g, id, { x: Math.round(b.x), y: Math.round(b.y), w: Math.round(b.width), h: Math.round(b.height) })),
    [edit],
  );
  const flowInput: FlowInput = { graph, doc, kinds, nodeIssues, live, bad, testing: source !== null, shown, held, onResized: mayEdit ? onResized : undefined };
  const [rfNodes, setRfNodes] = useState<Node[]>(() => flowNodes([], flowInput));
  const [rfEdges, setRfEdges] = useState<Edge[]>(() => flowEdges([], flowInput));
  const built = useRef(false);
  useLayoutEffect(() => {
    if (!built.current) {
      built.current = true;
      return;
    }
    setRfNodes((prev) => flowNodes(prev, flowInput));
    setRfEdges((prev) => flowEdges(prev, flowInput));
    // live and values are read through their keys: a new Map each render is not a change.
  }, [graph, kinds, nodeIssues, liveKey, valuesKey, heldKey]);

  // React Flow starts once the canvas has its size (before the first paint): its store is created with
  // the nodes, the wires and the view that fits them (a program with nodes, never above actual size; an
  // empty one at actual size), so its first render draws them all. Its own fitView would wait for its
  // measuring and then move everything once more.
  const [boot, setBoot] = useState<{ width: number; height: number; view: Viewport; fit: boolean } | null>(null);
  useLayoutEffect(() => {
    const el = wrap.current;
    if (!el) return;
    const size = { width: el.clientWidth, height: el.clientHeight };
    const fit = rfNodes.length > 0;
    const boxes = rfNodes.map((n) => ({ ...n.position, width: n.width ?? 0, height: n.height ?? 0 }));
    setBoot({ ...size, fit, view: fit ? fitViewport(boxes, size) : { x: 0, y: 0, zoom: 1 } });
  }, []);

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
  const dropAt = (item: DropItem, x: number, y: number) => {
    const r = wrap.current?.getBoundingClientRect();
    if (!r || !mayEdit || x < r.left || x > r.right || y < r.top || y > r.bottom) return;
    if (flow.current) place(item, flow.current.screenToFlowPosition({ x, y }));
  };
  const addAtCentre = (item: DropItem) => {
    const r = wrap.current?.getBoundingClientRect();
    const at = r && flow.current ? flow.current.screenToFlowPosition({ x: r.left + r.width / 2, y: r.top + r.height / 3 }) : { x: 40, y: 40 };
    place(item, { x: at.x + (graph.nodes.length % 5) * 12, y: at.y + (graph.nodes.length % 5) * 12 });
  };
  // The palette's handlers, the same functions from render to render (the palette is memoised).
  const paletteActs = useRef({ dropAt, addAtCentre });
  paletteActs.current = { dropAt, addAtCentre };
  const onPaletteAdd = useCallback((item: DropItem) => paletteActs.current.addAtCentre(item), []);
  const onPaletteDrop = useCallback((item: DropItem, x: number, y: number) => paletteActs.current.dropAt(item, x, y), []);

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
      <TestPanelView site={site} programId={detail.id} doc={doc} mayEdit={mayEdit} source={source} onSource={setSource} />
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
        {mayEdit && <PaletteView site={site} kinds={catalogue} onAdd={onPaletteAdd} onDropAt={onPaletteDrop} />}
        <div class="editor__canvas" ref={wrap} onKeyDown={onKeyDown} tabIndex={-1}>
          {boot && (
          <FlowProvider
            initialNodes={rfNodes}
            initialEdges={rfEdges}
            initialWidth={boot.width}
            initialHeight={boot.height}
            fitView={boot.fit}
            initialFitViewOptions={FIT}
            initialMinZoom={FIT.minZoom}
            initialMaxZoom={FIT.maxZoom}
          >
          <Flow
            onInit={(instance: ReactFlowInstance) => (flow.current = instance)}
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
            fitViewOptions={FIT}
            defaultViewport={boot.view}
            proOptions={{ hideAttribution: true }}
          >
            <Bg gap={20} size={1} />
            <Ctl showInteractive={false} />
          </Flow>
          </FlowProvider>
          )}
        </div>
        <SidePanelView
          site={site}
          graph={graph}
          node={selectedNode}
          comment={selectedComment}
          kinds={kinds}
          issues={selectedNode ? (nodeIssues.nodes.get(selectedNode.id) ?? NO_TEXT) : NO_TEXT}
          readOnly={!mayEdit}
          values={shown}
          blockState={selectedNode ? (states?.[selectedNode.id] ?? null) : null}
          onEdit={edit}
          live={liveOverrides}
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
