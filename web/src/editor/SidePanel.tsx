/**
 * The side panel: the selected node's settings (its id, a point's id, an
 * output's priority, a constant's value, a block's parameters with their
 * units, limits and defaults from the catalogue), a comment's text, or with
 * nothing selected the program's own (name, run period). In the live view of
 * a running program a block's outputs can be overridden (OverridePanel.tsx).
 * A change is applied
 * when the field is left or Enter is pressed: one undo step each. (Not on
 * `change`: preact/compat, loaded with the canvas, turns a text box's
 * onChange into onInput, as React does.)
 */
import { useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import type { PointDetail, ProgramOverride, Value } from "../api/types";
import { CommandDialog } from "../components/CommandDialog";
import { useApp } from "../context";
import { canCommand } from "../lib/roles";
import { formatValue } from "../lib/format";
import { paramHint, paramText, parseParam, portsOf, wiredPorts, type BlockKind, type CatalogueParam } from "./catalogue";
import { OverridePanel } from "./OverridePanel";
import { renameNode, setParam, updateComment, updateNode, type Comment, type EditorGraph, type EditorNode } from "./model";

interface Props {
  site: string;
  graph: EditorGraph;
  node: EditorNode | undefined;
  comment: Comment | undefined;
  kinds: Map<string, BlockKind>;
  issues: string[];
  readOnly: boolean;
  values: Record<string, Value> | null;
  /** The selected block's insides while it runs (PID terms, a timer's remaining_s, lead-lag order). */
  blockState?: Record<string, Value> | null;
  onEdit: (f: (g: EditorGraph) => EditorGraph) => void;
  /** The live view of the running program (its deployed version, unedited): overrides of its blocks' outputs. */
  live?: LiveOverrides | null;
}

export interface LiveOverrides {
  programId: string;
  overrides: ProgramOverride[] | null;
  mayDeploy: boolean;
  onChanged: () => void;
}

export function SidePanel(props: Props) {
  const { node, comment } = props;
  return (
    <aside class="editor__side" aria-label="Settings">
      {node ? (
        <NodeSettings key={node.id} {...props} node={node} />
      ) : comment ? (
        <CommentSettings key={comment.id} comment={comment} readOnly={props.readOnly} onEdit={props.onEdit} />
      ) : (
        <ProgramSettings graph={props.graph} readOnly={props.readOnly} onEdit={props.onEdit} />
      )}
    </aside>
  );
}

/** A text box applied on change (blur or Enter), with an error shown under it. */
function TextField(props: {
  id: string;
  label: string;
  hint?: string;
  value: string;
  readOnly: boolean;
  type?: "text" | "number";
  apply: (text: string) => string | null;
}) {
  const [text, setText] = useState(props.value);
  const [error, setError] = useState<string | null>(null);
  const [applied, setApplied] = useState(props.value);
  const commit = () => {
    if (text === applied) return;
    const err = props.apply(text);
    setError(err);
    if (!err) setApplied(text);
  };
  return (
    <div class={`field${error ? " field--error" : ""}`}>
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="text"
        inputMode={props.type === "number" ? "decimal" : undefined}
        value={text}
        disabled={props.readOnly}
        aria-invalid={!!error}
        aria-describedby={props.hint ? `${props.id}-hint` : undefined}
        onInput={(e) => setText(e.currentTarget.value)}
        onBlur={commit}
        onKeyDown={(e) => e.key === "Enter" && commit()}
      />
      {props.hint && (
        <p id={`${props.id}-hint`} class="muted small">
          {props.hint}
        </p>
      )}
      {error && <p class="field__error" role="alert">{error}</p>}
    </div>
  );
}

function NodeSettings(props: Props & { node: EditorNode }) {
  const { node, readOnly, onEdit } = props;
  const kind = node.kind === "block" ? props.kinds.get(String(node.data.block)) : undefined;
  const params = (node.data.params ?? {}) as Record<string, unknown>;
  const extra = Object.keys(params).filter((k) => !kind?.params.some((p) => p.name === k));
  const outs = props.values
    ? Object.entries(props.values).filter(([k]) => k.startsWith(`${node.id}.`))
    : [];
  return (
    <>
      <h3>
        {node.kind === "block" ? (kind?.title ?? String(node.data.block)) : node.kind.charAt(0).toUpperCase() + node.kind.slice(1)} “{node.id}”
      </h3>
      {props.issues.length > 0 && (
        <ul class="error-list" role="alert">
          {props.issues.map((m, i) => (
            <li key={i}>{m}</li>
          ))}
        </ul>
      )}
      <TextField
        id="ed-node-id"
        label="Id"
        value={node.id}
        readOnly={readOnly}
        apply={(t) => {
          const next = renameNode(props.graph, node.id, t.trim());
          if (!next) return "An id is letters, digits, _ and - (no dot), and no other node may have it.";
          onEdit(() => next);
          return null;
        }}
      />
      {(node.kind === "input" || node.kind === "output") && (
        <TextField
          id="ed-node-point"
          label="Point"
          hint={`The point's id: ${props.site}/equipment/name`}
          value={String(node.data.point ?? "")}
          readOnly={readOnly}
          apply={(t) => {
            onEdit((g) => updateNode(g, node.id, { point: t.trim() }));
            return null;
          }}
        />
      )}
      {node.kind === "output" && (
        <>
          <TextField
            id="ed-node-priority"
            label="Priority (1–16)"
            hint="8 is the operator's; programs usually write at 10 to 16"
            type="number"
            value={String(node.data.priority ?? 10)}
            readOnly={readOnly}
            apply={(t) => {
              const v = Number(t);
              if (!Number.isInteger(v) || v < 1 || v > 16) return `Priority: expected a whole number from 1 to 16, got “${t}”.`;
              onEdit((g) => updateNode(g, node.id, { priority: v }));
              return null;
            }}
          />
          <div class="field field--check">
            <label>
              <input
                type="checkbox"
                disabled={readOnly}
                checked={node.data.release_when_none !== false}
                onChange={(e) => {
                  const on = e.currentTarget.checked;
                  onEdit((g) => updateNode(g, node.id, { release_when_none: on ? undefined : false }));
                }}
              />{" "}
              Release the point when the value is unknown
            </label>
          </div>
        </>
      )}
      {node.kind === "output" && typeof node.data.point === "string" && node.data.point && <OverrideOutput site={props.site} point={node.data.point} />}
      {node.kind === "constant" && (
        <TextField
          id="ed-node-value"
          label="Value"
          hint="A number, true or false, or text"
          value={paramText(node.data.value)}
          readOnly={readOnly}
          apply={(t) => {
            const s = t.trim();
            const v: unknown = s === "true" ? true : s === "false" ? false : s !== "" && Number.isFinite(Number(s)) ? Number(s) : s;
            onEdit((g) => updateNode(g, node.id, { value: v }));
            return null;
          }}
        />
      )}
      {node.kind === "block" && kind && (
        <>
          <p class="muted small">{kind.description.split("\n\n")[0]}</p>
          {kind.params.map((p) => (
            <ParamField key={p.name} node={node} param={p} value={params[p.name]} readOnly={readOnly} onEdit={onEdit} />
          ))}
        </>
      )}
      {node.kind === "block" && !kind && <p class="muted small">Block kind “{String(node.data.block)}” is not in the catalogue.</p>}
      {extra.map((name) => (
        <TextField
          key={name}
          id={`ed-param-${name}`}
          label={`${name} (not a parameter of this block)`}
          value={paramText(params[name])}
          readOnly={readOnly}
          apply={(t) => {
            onEdit((g) => setParam(g, node.id, name, t.trim() === "" ? undefined : t));
            return null;
          }}
        />
      ))}
      {props.blockState && Object.keys(props.blockState).length > 0 && (
        <>
          <h4>State</h4>
          <dl class="editor__values" aria-label="Block state">
            {Object.entries(props.blockState).map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>{formatValue(v)}</dd>
              </div>
            ))}
          </dl>
        </>
      )}
      {props.live && (node.kind === "block" || node.kind === "output") && (
        <OverridePanel
          site={props.site}
          programId={props.live.programId}
          node={node.id}
          outs={node.kind === "block" ? portsOf(node, kind, wiredPorts(props.graph, node.id)).outs.filter((p) => wiredPorts(props.graph, node.id).outs.has(p.name)) : []}
          values={props.values}
          overrides={props.live.overrides}
          mayDeploy={props.live.mayDeploy}
          onChanged={props.live.onChanged}
        />
      )}
      {outs.length > 0 && !(props.live && node.kind === "block") && (
        <>
          <h4>Values</h4>
          <dl class="editor__values">
            {outs.map(([k, v]) => (
              <div key={k}>
                <dt>{k.slice(node.id.length + 1)}</dt>
                <dd>{formatValue(v)}</dd>
              </div>
            ))}
          </dl>
        </>
      )}
    </>
  );
}

/**
 * Commissioning: override what an output writes, through the arbiter like any
 * command (a value at a priority above the program's, for a time, with a
 * reason, audited): the command dialog of the output's point.
 */
function OverrideOutput(props: { site: string; point: string }) {
  const { api, me } = useApp();
  const [detail, setDetail] = useState<PointDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (!canCommand(me, props.site)) return null;
  const [, equip, name] = props.point.split("/");
  const open = () => {
    setError(null);
    if (!equip || !name) return setError(`“${props.point}” is not a point id (site/equipment/name).`);
    endpoints.point(api, props.site, equip, name).then(setDetail, (err) => setError(err instanceof Error ? err.message : String(err)));
  };
  return (
    <div class="field">
      <button type="button" class="btn btn--small" onClick={open}>
        Override the output…
      </button>
      <p class="muted small">Commands its point at a priority above the program's, for a time, with a reason (audited).</p>
      {error && <p class="field__error" role="alert">{error}</p>}
      {detail && <CommandDialog site={props.site} point={detail} onClose={() => setDetail(null)} />}
    </div>
  );
}

function ParamField(props: { node: EditorNode; param: CatalogueParam; value: unknown; readOnly: boolean; onEdit: Props["onEdit"] }) {
  const { node, param: p, readOnly, onEdit } = props;
  const id = `ed-param-${p.name}`;
  const hint = [paramHint(p), p.description].filter(Boolean).join(" · ");
  if (p.type === "enum" || p.type === "boolean") {
    const choices = p.type === "boolean" ? [true, false] : (p.choices ?? []);
    return (
      <div class="field">
        <label for={id}>{p.name}</label>
        <select
          id={id}
          disabled={readOnly}
          value={props.value === undefined ? "" : String(props.value)}
          aria-describedby={`${id}-hint`}
          onChange={(e) => {
            const t = e.currentTarget.value;
            const v = t === "" ? undefined : choices.find((c) => String(c) === t);
            onEdit((g) => setParam(g, node.id, p.name, v));
          }}
        >
          <option value="">{p.default !== null && p.default !== undefined ? `(default: ${String(p.default)})` : "(not set)"}</option>
          {choices.map((c) => (
            <option key={String(c)} value={String(c)}>
              {String(c)}
            </option>
          ))}
        </select>
        <p id={`${id}-hint`} class="muted small">
          {hint}
        </p>
      </div>
    );
  }
  return (
    <TextField
      id={id}
      label={p.unit && !p.unit.startsWith("unit of") ? `${p.name} (${p.unit})` : p.name}
      hint={hint}
      value={paramText(props.value)}
      readOnly={readOnly}
      apply={(t) => {
        const r = parseParam(p, t);
        if ("error" in r) return r.error;
        const v = r.value;
        if (typeof v === "number") {
          if (p.minimum !== null && v < p.minimum) return `${p.name}: at least ${p.minimum}, got ${v}.`;
          if (p.maximum !== null && v > p.maximum) return `${p.name}: at most ${p.maximum}, got ${v}.`;
          if (p.exclusive_minimum !== null && v <= p.exclusive_minimum) return `${p.name}: more than ${p.exclusive_minimum}, got ${v}.`;
          if (p.exclusive_maximum !== null && v >= p.exclusive_maximum) return `${p.name}: less than ${p.exclusive_maximum}, got ${v}.`;
        }
        onEdit((g) => setParam(g, node.id, p.name, v));
        return null;
      }}
    />
  );
}

function CommentSettings(props: { comment: Comment; readOnly: boolean; onEdit: Props["onEdit"] }) {
  const [text, setText] = useState(props.comment.text);
  return (
    <>
      <h3>Comment</h3>
      <div class="field">
        <label for="ed-comment-text">Text</label>
        <textarea
          id="ed-comment-text"
          rows={5}
          disabled={props.readOnly}
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
          onBlur={() => text !== props.comment.text && props.onEdit((g) => updateComment(g, props.comment.id, { text }))}
        />
      </div>
    </>
  );
}

function ProgramSettings(props: { graph: EditorGraph; readOnly: boolean; onEdit: Props["onEdit"] }) {
  const { graph, readOnly, onEdit } = props;
  const setMeta = (k: string, v: unknown) => onEdit((g) => ({ ...g, meta: { ...g.meta, [k]: v } }));
  return (
    <>
      <h3>Program</h3>
      <p class="muted small">Select a node to see and change its settings.</p>
      <TextField id="ed-prog-name" label="Name" value={String(graph.meta.name ?? "")} readOnly={readOnly} apply={(t) => (setMeta("name", t), null)} />
      <TextField
        id="ed-prog-period"
        label="Run period (s)"
        hint="How often time-based blocks (PID, timers, staging) run; 1 to 86 400"
        type="number"
        value={String(graph.meta.period_s ?? 5)}
        readOnly={readOnly}
        apply={(t) => {
          const v = Number(t);
          if (!Number.isFinite(v) || v < 1 || v > 86400) return `Run period: expected a number of seconds from 1 to 86 400, got “${t}”.`;
          setMeta("period_s", v);
          return null;
        }}
      />
    </>
  );
}
