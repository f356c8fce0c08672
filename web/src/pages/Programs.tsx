/**
 * Logic programs: the site's list, and one program as a graph with live
 * values on its wires, its status and versions, and (for those allowed) a
 * JSON editor with validate, save as a new version, deploy, roll back,
 * disable and enable. Every deploy, rollback, disable and enable is confirmed
 * in a dialog that names the version, what runs now, and asks why (kept in
 * the audit log). The visual editor (editor/ProgramCanvas.tsx, its own chunk
 * with the graph library, loaded as a program page opens) draws the program
 * on a canvas to edit, validate as you go and deploy; `?edit` in the address
 * opens it at once.
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import { ApiError } from "../api/problem";
import type { BlockStates, ProgramDetail, ProgramDetailWithState, ProgramVersion, Value } from "../api/types";
import { DataTable } from "../components/DataTable";
import { Field } from "../components/Field";
import { useApp } from "../context";
import { useLive, useLiveSamples, useLoad, useSiteZone } from "../hooks";
import { formatTime, formatValue } from "../lib/format";
import { fitZoom, layoutProgram, wirePath, wireValue, type GraphLayout, type ProgramDoc } from "../lib/graph";
import { formatIssue, issuesFromProblem, parseProgramText, type ProgramIssue } from "../lib/programIssues";
import { can } from "../lib/roles";
import type { CanvasProps } from "../editor/ProgramCanvas";
import { loadedEditor, loadEditor, preloadEditor } from "../editor/preload";
import { TemplatesSection } from "../editor/Templates";
import { currentPath, href, navigate } from "../router";
import { LoadState } from "./common";

export function Programs(props: { site: string }) {
  const { api, me } = useApp();
  const [tick, setTick] = useState(0);
  const list = useLoad(() => endpoints.programs(api, props.site), [api, props.site, tick]);
  useSiteZone(props.site);
  const mayWrite = can(me, "programs:write", props.site);
  const mayDeploy = can(me, "programs:deploy", props.site);
  return (
    <main id="main">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={href(`/sites/${props.site}`)}>{props.site}</a> / <span aria-current="page">Programs</span>
      </nav>
      <h1>Logic programs</h1>
      {mayWrite && <NewProgram site={props.site} />}
      <LoadState {...list} />
      {list.data && list.data.length === 0 && <p class="muted">This site has no logic programs.</p>}
      {list.data && list.data.length > 0 && (
        <DataTable
          rows={list.data}
          rowKey={(p) => p.id}
          caption={`Logic programs of ${props.site}`}
          columns={[
            {
              key: "program",
              header: "Program",
              rowHeader: true,
              cell: (p) => (
                <>
                  <a href={href(`/sites/${props.site}/programs/${p.id}`)}>{p.name || p.id}</a>
                  <div class="muted small">{p.id}</div>
                </>
              ),
            },
            { key: "state", header: "State", cell: (p) => stateText(p.enabled, p.status?.state) },
            { key: "deployed", header: "Deployed", cell: (p) => (p.active_version === null ? "none" : `v${p.active_version}`) },
            { key: "latest", header: "Latest", headClass: "hide-sm", cellClass: "hide-sm", cell: (p) => `v${p.latest_version}` },
            { key: "changed", header: "Changed", headClass: "hide-sm", cellClass: "hide-sm", cell: (p) => formatTime(p.updated_at * 1000) },
          ]}
        />
      )}
      <TemplatesSection site={props.site} mayWrite={mayWrite} mayDeploy={mayDeploy} onChanged={() => setTick((t) => t + 1)} />
    </main>
  );
}

/** A new, empty program saved as its version 1, then opened in the visual editor. */
function NewProgram(props: { site: string }) {
  const { api } = useApp();
  const [id, setId] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState<string | undefined>(undefined);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const pid = id.trim();
    if (!/^[a-z0-9][a-z0-9_.-]*$/.test(pid) || pid.length > 64) {
      setError("An id is lower-case letters, digits, '.', '_' and '-', starting with a letter or digit (at most 64).");
      return;
    }
    try {
      await endpoints.saveProgramVersion(api, props.site, pid, { name: name.trim(), inputs: [], blocks: [], outputs: [], wires: [] }, "new program");
      navigate(`/sites/${props.site}/programs/${pid}?edit`);
    } catch (err) {
      const e = err instanceof ApiError ? err : null;
      const issues = e ? issuesFromProblem(e.problem.errors) : [];
      setError(issues.length ? issues.map((i) => formatIssue(i, null)).join(" ") : String(e?.message ?? err));
    }
  };
  return (
    <details class="card">
      <summary>New program</summary>
      <form class="actions actions--left" onSubmit={submit} noValidate>
        <Field id="np-id" label="Id" error={error}>
          {(aria) => <input {...aria} value={id} onInput={(e) => setId(e.currentTarget.value)} maxLength={64} placeholder="ahu-2-economiser" />}
        </Field>
        <Field id="np-name" label="Name">
          {(aria) => <input {...aria} value={name} onInput={(e) => setName(e.currentTarget.value)} maxLength={200} />}
        </Field>
        <button type="submit" class="btn btn--primary">
          Create and open the editor
        </button>
      </form>
    </details>
  );
}

function stateText(enabled: boolean, state: string | undefined): string {
  if (!enabled) return "disabled";
  return state ?? "not running";
}

export function ProgramPage(props: { site: string; id: string }) {
  const { api, me } = useApp();
  const { site, id } = props;
  useSiteZone(site);
  const [tick, setTick] = useState(0);
  const detail = useLoad(() => endpoints.program(api, site, id), [api, site, id, tick]);
  const versions = useLoad(() => endpoints.programVersions(api, site, id), [api, site, id, tick]);
  const [message, setMessage] = useState<{ tone: "info" | "error"; text: string } | null>(null);
  const [pending, setPending] = useState<PendingChange | null>(null);
  const mayWrite = can(me, "programs:write", site);
  const mayDeploy = can(me, "programs:deploy", site);
  const [canvasOpen, setCanvasOpen] = useState(() => /[?&]edit\b/.test(currentPath()));
  // The editor's chunk and the block catalogue load as the page opens: opening the editor waits for neither.
  useEffect(() => preloadEditor(api), [api]);
  const { Canvas, error: canvasError } = useEditor(canvasOpen);
  const canvasDirty = useRef(false);

  // The engine's values on the wires: refreshed every few seconds.
  const [values, setValues] = useState<Record<string, Value> | null>(null);
  const [blockStates, setBlockStates] = useState<BlockStates | null>(null);
  useEffect(() => {
    setValues(detail.data?.values ?? null);
    setBlockStates((detail.data as ProgramDetailWithState | null)?.block_states ?? null);
  }, [detail.data]);
  useEffect(() => {
    let alive = true;
    const t = setInterval(() => {
      endpoints.program(api, site, id).then(
        (d) => {
          if (!alive) return;
          setValues(d.values ?? null);
          setBlockStates((d as ProgramDetailWithState).block_states ?? null);
        },
        () => {},
      );
    }, 3000);
    return () => {
      alive = false;
      clearInterval(t);
    };
  }, [api, site, id]);

  const reload = () => setTick((t) => t + 1);
  const act = async (what: string, run: () => Promise<unknown>) => {
    setMessage(null);
    try {
      await run();
      setMessage({ tone: "info", text: what });
      reload();
    } catch (err) {
      const e = err instanceof ApiError ? err : null;
      const issues = e ? issuesFromProblem(e.problem.errors) : [];
      const text = issues.length
        ? issues.map((i) => formatIssue(i, detail.data?.program ?? null)).join(" ")
        : e?.status === 409
          ? e.message
          : String(e?.message ?? err);
      setMessage({ tone: "error", text });
    }
  };

  const d = detail.data;
  return (
    <main id="main">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={href(`/sites/${site}`)}>{site}</a> / <a href={href(`/sites/${site}/programs`)}>Programs</a> /{" "}
        <span aria-current="page">{id}</span>
      </nav>
      <h1>{d?.name || id}</h1>
      <LoadState {...detail} />
      {message && (
        <p class={`banner banner--${message.tone}`} role={message.tone === "error" ? "alert" : "status"}>
          {message.text}
        </p>
      )}
      {d && (
        <>
          <section class="card" aria-labelledby="prog-status">
            <h2 id="prog-status">Status</h2>
            <p>
              <strong>{stateText(d.enabled, d.status?.state)}</strong>
              {" · "}deployed {d.active_version === null ? "none" : `v${d.active_version}`} · latest v{d.latest_version} · showing v{d.version}
              {d.status && (
                <span class="muted small">
                  {" "}
                  · {d.status.runs} runs, {d.status.writes} writes, {d.status.errors} errors
                  {d.status.last_run ? `, last run ${formatTime(d.status.last_run * 1000)}` : ""}
                </span>
              )}
            </p>
            {d.status?.last_error && <p class="text--alarm">Last error: {d.status.last_error}</p>}
            {d.program.description && <p class="muted small">{d.program.description}</p>}
            {mayDeploy && (
              <div class="actions actions--left">
                {d.active_version !== d.latest_version && (
                  <button type="button" class="btn btn--primary" onClick={() => setPending({ action: "deploy", version: d.latest_version })}>
                    Deploy v{d.latest_version}
                  </button>
                )}
                <button type="button" class="btn" onClick={() => setPending({ action: "rollback" })}>
                  Roll back
                </button>
                {d.enabled ? (
                  <button type="button" class="btn" onClick={() => setPending({ action: "disable" })}>
                    Disable
                  </button>
                ) : (
                  <button type="button" class="btn" onClick={() => setPending({ action: "enable" })}>
                    Enable
                  </button>
                )}
              </div>
            )}
          </section>
          <div class="actions actions--left">
            <button
              type="button"
              class="btn"
              aria-pressed={canvasOpen}
              onClick={() => {
                if (canvasOpen && canvasDirty.current && !window.confirm("Close the editor and lose the changes not saved?")) return;
                setCanvasOpen((o) => !o);
              }}
            >
              {canvasOpen ? "Close the visual editor" : mayWrite ? "Open the visual editor" : "Open on the canvas"}
            </button>
          </div>
          {canvasOpen ? (
            Canvas ? (
              <Canvas
                // Opened again on what runs after a deploy or a rollback; a save keeps the canvas as it is.
                key={`${d.id}/${d.active_version}`}
                site={site}
                detail={d}
                values={values}
                blockStates={blockStates}
                onDirty={(dirty) => (canvasDirty.current = dirty)}
                mayEdit={mayWrite}
                mayDeploy={mayDeploy}
                onChanged={(text) => {
                  setMessage({ tone: "info", text });
                  reload();
                }}
              />
            ) : (
              <p class={canvasError ? "banner banner--error" : "muted"} role={canvasError ? "alert" : undefined}>
                {canvasError ?? "Loading the editor…"}
              </p>
            )
          ) : (
            <ProgramGraph doc={d.program} values={values} />
          )}
          {/* One editor at a time: the canvas, or the JSON (two would drift apart). */}
          {mayWrite && !canvasOpen && (
            <ProgramEditor
              site={site}
              detail={d}
              mayDeploy={mayDeploy}
              onSaved={reload}
              onDeploy={(version, reason) => setPending({ action: "deploy", version, reason })}
            />
          )}
          {pending && (
            <ConfirmChange
              detail={d}
              versions={versions.data ?? []}
              change={pending}
              onCancel={() => setPending(null)}
              onConfirm={async (reason) => {
                const change = pending;
                setPending(null);
                await act(doneText(change), () =>
                  change.action === "deploy"
                    ? endpoints.deployProgramVersion(api, site, id, change.version ?? d.latest_version, reason)
                    : endpoints.changeProgram(api, site, id, change.action, reason),
                );
              }}
            />
          )}
          <section class="card" aria-labelledby="prog-versions">
            <h2 id="prog-versions">Versions</h2>
            <LoadState {...versions} />
            <DataTable
              rows={[...(versions.data ?? [])].sort((a, b) => b.version - a.version)}
              rowKey={(v) => v.version}
              rowClass={(v) => (v.deployed ? "row--active" : "")}
              caption={`Versions of ${id}`}
              columns={[
                {
                  key: "version",
                  header: "Version",
                  rowHeader: true,
                  cell: (v) => (
                    <>
                      v{v.version}
                      {v.deployed && <span class="tag"> deployed</span>}
                    </>
                  ),
                },
                { key: "saved", header: "Saved", cell: (v) => formatTime(v.created_at * 1000) },
                { key: "by", header: "By", cell: (v) => v.created_by },
                { key: "why", header: "Why", cell: (v) => v.comment || "—" },
                mayDeploy && {
                  key: "deploy",
                  header: <span class="sr-only">Deploy</span>,
                  cell: (v) =>
                    !v.deployed && (
                      <button type="button" class="btn btn--small" aria-label={`Deploy version ${v.version}`} onClick={() => setPending({ action: "deploy", version: v.version })}>
                        Deploy
                      </button>
                    ),
                },
              ]}
            />
          </section>
        </>
      )}
    </main>
  );
}

/**
 * The visual editor's component once its chunk has loaded (editor/preload.ts starts it as the page
 * opens), or why it could not load; opening the editor again tries again.
 */
function useEditor(open: boolean): { Canvas: ((p: CanvasProps & { key?: string }) => preact.JSX.Element) | null; error: string | null } {
  const [comp, setComp] = useState<((p: CanvasProps) => preact.JSX.Element) | null>(() => loadedEditor());
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (comp) return;
    let alive = true;
    setError(null);
    loadEditor().then(
      (c) => alive && setComp(() => c),
      (err: unknown) => alive && open && setError(`The editor could not be loaded (${err instanceof Error ? err.message : String(err)}): check the connection and open it again.`),
    );
    return () => {
      alive = false;
    };
  }, [comp, open]);
  return { Canvas: comp, error };
}

/** The program drawn: inputs left, outputs right, the value on each wire. */
export function ProgramGraph(props: { doc: ProgramDoc; values: Record<string, Value> | null }) {
  const { doc } = props;
  const layout: GraphLayout | null = useMemo(() => {
    try {
      return layoutProgram(doc);
    } catch {
      return null;
    }
  }, [doc]);
  const points = useMemo(() => [...doc.inputs.map((i) => i.point), ...doc.outputs.map((o) => o.point)], [doc]);
  const samples = useLiveSamples(points);
  const [zoom, setZoom] = useState(1);
  const wrap = useRef<HTMLDivElement>(null);
  const liveOk = useLive();
  const live = new Map<string, Value>();
  if (liveOk) for (const [p, s] of samples) if (s[2] === "ok" || s[2] === "overridden") live.set(p, s[1]);
  if (!layout) return <p class="muted">This program cannot be drawn.</p>;
  const outputOf = (id: string) => doc.outputs.find((o) => o.id === id);
  const inputOf = (id: string) => doc.inputs.find((o) => o.id === id);
  const show = (v: Value | undefined) => (v === undefined ? "" : formatValue(v));
  return (
    <section class="card" aria-labelledby="prog-graph">
      <h2 id="prog-graph">Graph</h2>
      <div class="actions actions--left" role="group" aria-label="Zoom">
        <button type="button" class="btn btn--small" onClick={() => setZoom((z) => Math.max(0.25, z / 1.25))} aria-label="Zoom out">
          −
        </button>
        <button type="button" class="btn btn--small" onClick={() => setZoom(1)} aria-label="Actual size">
          {Math.round(zoom * 100)} %
        </button>
        <button type="button" class="btn btn--small" onClick={() => setZoom((z) => Math.min(4, z * 1.25))} aria-label="Zoom in">
          +
        </button>
        <button type="button" class="btn btn--small" onClick={() => wrap.current && setZoom(fitZoom(layout, wrap.current.clientWidth))}>
          Fit
        </button>
      </div>
      <div class="graph-wrap" ref={wrap} style={{ overflow: "auto", maxHeight: "75vh" }}>
        <svg
          class="program-graph"
          viewBox={`0 0 ${layout.width} ${layout.height}`}
          width={layout.width * zoom}
          height={layout.height * zoom}
          role="img"
          aria-label={`Program ${doc.id}: ${doc.inputs.length} inputs, ${doc.blocks.length} blocks, ${doc.outputs.length} outputs`}
        >
          {/* Blocks first, wires over them: a wire that crosses a block stays in sight. */}
          {layout.nodes.map((n) => {
            const point = n.kind === "input" ? inputOf(n.id)?.point : n.kind === "output" ? outputOf(n.id)?.point : undefined;
            const liveV = point !== undefined ? live.get(point) : undefined;
            return (
              <g key={n.id} class={`node node--${n.kind}`} data-node={n.id}>
                <rect x={n.x} y={n.y} width={n.w} height={n.h} rx={6} />
                <text x={n.x + 8} y={n.y + 16} class="node__title">
                  {n.id}
                </text>
                <text x={n.x + 8} y={n.y + 30} class="node__sub">
                  {n.kind === "block" ? n.sub : short(n.sub)}
                  {liveV !== undefined ? ` = ${show(liveV)}` : ""}
                </text>
                {n.inPorts.map((p) => (
                  <g key={`i${p.port}`} data-port={`${n.id}.${p.port}`}>
                    <circle cx={n.x} cy={p.y} r={3} class="node__pin" style={{ fill: "var(--accent)" }} />
                    <text x={n.x + 6} y={p.y + 4} class="node__port">
                      {n.kind === "block" ? p.port : ""}
                    </text>
                  </g>
                ))}
                {n.outPorts.map((p) => (
                  <g key={`o${p.port}`} data-port={`${n.id}.${p.port}`}>
                    <circle cx={n.x + n.w} cy={p.y} r={3} class="node__pin" style={{ fill: "var(--accent)" }} />
                    <text x={n.x + n.w - 6} y={p.y + 4} class="node__port" text-anchor="end">
                      {n.kind === "block" ? p.port : ""}
                    </text>
                  </g>
                ))}
              </g>
            );
          })}
          {layout.edges.map((e) => {
            const v = wireValue(e, doc, props.values, live);
            return (
              <g key={`${e.from}>${e.to}`} class="wire" data-from={e.from} data-to={e.to}>
                <path d={wirePath(e)} fill="none" />
                {v !== undefined && (
                  <text x={e.x1 + 6} y={e.y1 - 4} class="wire__value">
                    {show(v)}
                  </text>
                )}
                <title>{`${e.from} → ${e.to}${v !== undefined ? `: ${show(v)}` : ""}`}</title>
              </g>
            );
          })}
        </svg>
      </div>
      <p class="muted small">
        Inputs on the left, outputs on the right (or where the program's layout puts them); values on wires are live (inputs from the points, the rest from the
        engine every 3 s). Scroll or zoom to see a large program.
      </p>
    </section>
  );
}

const short = (point: string) => point.split("/").slice(1).join("/") || point;

function ProgramEditor(props: {
  site: string;
  detail: ProgramDetail;
  mayDeploy: boolean;
  onSaved: () => void;
  /** Ask to deploy a version (the page confirms it and asks why). */
  onDeploy: (version: number, reason: string) => void;
}) {
  const { api } = useApp();
  const { site, detail } = props;
  const [text, setText] = useState(() => JSON.stringify(detail.program, null, 2));
  const [comment, setComment] = useState("");
  const [issues, setIssues] = useState<string[] | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    setText(JSON.stringify(detail.program, null, 2));
  }, [detail.program]);

  const check = (): ProgramDoc | null => {
    const parsed = parseProgramText(text);
    if (parsed.error) {
      setIssues([parsed.error]);
      return null;
    }
    return parsed.doc;
  };
  const show = (list: ProgramIssue[], doc: ProgramDoc | null) => setIssues(list.map((i) => formatIssue(i, doc)));
  const fail = (err: unknown, doc: ProgramDoc | null) => {
    if (err instanceof ApiError && err.problem.errors?.length) show(issuesFromProblem(err.problem.errors), doc);
    else setIssues([err instanceof ApiError ? err.message : String(err)]);
  };

  const validate = async () => {
    setNote(null);
    const doc = check();
    if (!doc) return;
    setBusy(true);
    try {
      const res = await endpoints.validateProgram(api, site, doc);
      if (res.valid) {
        setIssues([]);
        setNote("Valid: no problems found.");
      } else show(res.issues, doc);
    } catch (err) {
      fail(err, doc);
    } finally {
      setBusy(false);
    }
  };
  const save = async (deploy: boolean) => {
    setNote(null);
    const doc = check();
    if (!doc) return;
    setBusy(true);
    try {
      const res = await endpoints.saveProgramVersion(api, site, detail.id, doc, comment);
      show(res.issues, doc);
      const running = detail.enabled && detail.active_version === res.version;
      let msg = res.created ? `Saved as version ${res.version}.` : `No new version: version ${res.version} holds this program already.`;
      if (deploy && res.issues.length > 0) msg += " Not deployed: fix the problems listed first.";
      else if (deploy && running) msg += " It is deployed and running.";
      setNote(msg);
      setComment("");
      props.onSaved();
      if (deploy && res.issues.length === 0 && !running) props.onDeploy(res.version, comment.trim());
    } catch (err) {
      fail(err, doc);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="prog-edit">
      <h2 id="prog-edit">Edit</h2>
      <div class="program-editor">
        <div class="field">
          <label for="prog-json">Program JSON (version {detail.version})</label>
          <textarea
            id="prog-json"
            rows={18}
            spellcheck={false}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
            aria-invalid={!!issues?.length}
            aria-describedby="prog-issues"
          />
        </div>
        <div id="prog-issues" class="program-issues" aria-live="polite">
          <h3>Problems</h3>
          {issues === null ? (
            <p class="muted small">Validate to check the program against the site's points and blocks.</p>
          ) : issues.length === 0 ? (
            <p class="small">None.</p>
          ) : (
            <ul class="error-list" role="alert">
              {issues.map((m, i) => (
                <li key={i}>{m}</li>
              ))}
            </ul>
          )}
          {note && <p class="banner banner--info" role="status">{note}</p>}
        </div>
      </div>
      <div class="field">
        <label for="prog-comment">Why (kept with the version)</label>
        <input id="prog-comment" value={comment} onInput={(e) => setComment(e.currentTarget.value)} maxLength={2000} />
      </div>
      <div class="actions actions--left">
        <button type="button" class="btn" onClick={validate} disabled={busy}>
          Validate
        </button>
        <button type="button" class="btn btn--primary" onClick={() => save(false)} disabled={busy}>
          Save as new version
        </button>
        {props.mayDeploy && (
          <button type="button" class="btn" onClick={() => save(true)} disabled={busy}>
            Save and deploy
          </button>
        )}
        <button type="button" class="btn" onClick={() => { setText(JSON.stringify(detail.program, null, 2)); setIssues(null); setNote(null); }} disabled={busy}>
          Discard changes
        </button>
      </div>
    </section>
  );
}

/** A change the page asks to confirm: deploy a version, roll back, disable or enable. */
export interface PendingChange {
  action: "deploy" | "rollback" | "disable" | "enable";
  version?: number;
  /** The reason to start from (Save and deploy: the version's comment). */
  reason?: string;
}

function doneText(c: PendingChange): string {
  switch (c.action) {
    case "deploy":
      return `Version ${c.version} deployed.`;
    case "rollback":
      return "Rolled back to the version deployed before.";
    case "disable":
      return "Program disabled; its slots are released.";
    default:
      return "Program enabled.";
  }
}

const versionText = (v: ProgramVersion | undefined, n: number) =>
  v ? `v${n}, saved ${formatTime(v.created_at * 1000)} by ${v.created_by || "—"}${v.comment ? ` (“${v.comment}”)` : ""}` : `v${n}`;

/** The confirmation of a change to what runs: which version, what runs now, and why (required). */
function ConfirmChange(props: {
  detail: ProgramDetail;
  versions: ProgramVersion[];
  change: PendingChange;
  onConfirm: (reason: string) => Promise<void>;
  onCancel: () => void;
}) {
  const { detail: d, change } = props;
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState(change.reason ?? "");
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  useEffect(() => ref.current?.showModal(), []);
  const find = (n: number | null | undefined) => props.versions.find((v) => v.version === n);
  const active = d.active_version;
  const now =
    active === null ? "Nothing is deployed." : `Now ${d.enabled ? "running" : "deployed (disabled)"}: ${versionText(find(active), active)}.`;
  const name = d.name || d.id;
  const title =
    change.action === "deploy"
      ? `Deploy version ${change.version} of ${name}?`
      : change.action === "rollback"
        ? `Roll back ${name}?`
        : change.action === "disable"
          ? `Disable ${name}?`
          : `Enable ${name}?`;
  const what =
    change.action === "deploy"
      ? `Deploys ${versionText(find(change.version), change.version ?? 0)}.`
      : change.action === "rollback"
        ? "Deploys again the version deployed before the current one."
        : change.action === "disable"
          ? "Stops the program and releases the points it commands."
          : `Runs the deployed version${active !== null ? ` (v${active})` : ""} again.`;
  const older = change.action === "deploy" && active !== null && change.version !== undefined && change.version < active;
  const close = () => {
    ref.current?.close();
    props.onCancel();
  };
  const submit = async (ev: Event) => {
    ev.preventDefault();
    if (!reason.trim()) return setError("Say why: it is kept in the audit log.");
    setBusy(true);
    ref.current?.close();
    await props.onConfirm(reason.trim());
  };
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="pc-title" onCancel={props.onCancel}>
      <form onSubmit={submit} noValidate>
        <h2 id="pc-title">{title}</h2>
        <p>{what}</p>
        <p class="muted">{now}</p>
        {older && (
          <p class="banner banner--error">
            Version {change.version} is older than the deployed version {active}.
          </p>
        )}
        <Field id="pc-reason" label="Reason" error={error}>
          {(aria) => <textarea {...aria} rows={3} maxLength={2000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />}
        </Field>
        <div class="actions">
          <button type="button" class="btn" onClick={close}>
            Cancel
          </button>
          <button type="submit" class="btn btn--primary" disabled={busy}>
            {change.action === "deploy" ? `Deploy v${change.version}` : change.action === "rollback" ? "Roll back" : change.action === "disable" ? "Disable" : "Enable"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
