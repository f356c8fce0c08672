/**
 * The live view's commissioning overrides of a block (issue 20 item 5): each
 * of the selected block's output ports with its live value and, for those who
 * may deploy (programs:deploy), "Override…": a value of the port's type, a
 * duration and a reason, sent as POST …/programs/{id}/overrides (the engine
 * holds that output, what the block feeds and the program's outputs see it,
 * timed and audited by the server). The held ones are listed (who, until,
 * why) with "Release" (DELETE). The canvas fetches the list and marks a held
 * output on its node and wire.
 */
import { useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import type { ProgramOverride, Value } from "../api/types";
import { useApp } from "../context";
import { formatValue } from "../lib/format";
import type { PortView } from "./catalogue";
import { overrideFormFor, overrideRequest, overridesOf, overrideWords, type OverrideForm } from "./overrides";

interface Props {
  site: string;
  programId: string;
  node: string;
  /** The block's output ports (from the catalogue), or none for an output node. */
  outs: PortView[];
  values: Record<string, Value> | null;
  overrides: ProgramOverride[] | null;
  mayDeploy: boolean;
  /** After an override or a release: the canvas lists the overrides again. */
  onChanged: () => void;
}

export function OverridePanel(props: Props) {
  const { api } = useApp();
  const held = overridesOf(props.overrides, props.node);
  const [error, setError] = useState<string | null>(null);
  const release = (o: ProgramOverride) => {
    setError(null);
    endpoints
      .releaseProgramOverride(api, props.site, props.programId, o.port, o.kind === "point" ? (o.priority ?? undefined) : undefined, "released from the editor")
      .then(props.onChanged, (err) => setError(`Release ${o.port}: ${err instanceof Error ? err.message : String(err)}`));
  };
  return (
    <section class="editor__overrides" aria-label="Overrides">
      {props.outs.length > 0 && (
        <>
          <h4>Outputs</h4>
          <ul class="editor__outs">
            {props.outs.map((p) => (
              <OutputRow key={p.name} {...props} port={p} live={props.values?.[`${props.node}.${p.name}`]} held={held.some((o) => o.port === `${props.node}.${p.name}`)} />
            ))}
          </ul>
        </>
      )}
      {held.length > 0 && (
        <>
          <h4>Held</h4>
          <ul class="editor__held" aria-label="Held overrides">
            {held.map((o) => (
              <li key={`${o.port}@${o.priority ?? ""}`} data-port={o.port}>
                <strong>{o.port}</strong>: {overrideWords(o)}
                {props.mayDeploy && (
                  <>
                    {" "}
                    <button type="button" class="btn btn--small" onClick={() => release(o)} aria-label={`Release ${o.port}`}>
                      Release
                    </button>
                  </>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
      {error && (
        <p class="field__error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

function OutputRow(props: Props & { port: PortView; live: Value | undefined; held: boolean }) {
  const { api } = useApp();
  const ref = `${props.node}.${props.port.name}`;
  const [form, setForm] = useState<OverrideForm | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const type = props.port.type as "number" | "bool" | "any" | undefined;
  const submit = (ev: Event) => {
    ev.preventDefault();
    if (!form) return;
    const r = overrideRequest(ref, type, form);
    if ("error" in r) return setError(r.error);
    setError(null);
    setBusy(true);
    endpoints.overrideProgram(api, props.site, props.programId, r.body).then(
      () => {
        setBusy(false);
        setForm(null);
        props.onChanged();
      },
      (err) => {
        setBusy(false);
        setError(err instanceof Error ? err.message : String(err));
      },
    );
  };
  const set = (k: keyof OverrideForm) => (e: Event) => {
    const v = (e.currentTarget as HTMLInputElement).value;
    setForm((f) => (f ? { ...f, [k]: v } : f));
  };
  const id = `ed-ovr-${props.node}-${props.port.name}`;
  return (
    <li data-port={ref} class={props.held ? "editor__out--held" : undefined}>
      <span class="editor__out-name">{props.port.name}</span> = <span class="editor__out-value">{props.live === undefined ? "—" : formatValue(props.live)}</span>
      {props.held && <span class="ed-held-tag"> held</span>}
      {props.mayDeploy && !form && (
        <>
          {" "}
          <button type="button" class="btn btn--small" aria-label={`Override ${ref}…`} onClick={() => setForm(overrideFormFor(props.live))}>
            Override…
          </button>
        </>
      )}
      {form && (
        <form class="editor__override-form" onSubmit={submit} noValidate aria-label={`Override ${ref}`}>
          <div class="field">
            <label for={`${id}-value`}>Value{type === "bool" ? " (true or false)" : type === "number" && props.port.unit && props.port.unit !== "same" ? ` (${props.port.unit})` : ""}</label>
            {type === "bool" ? (
              <select id={`${id}-value`} value={form.value === "true" || form.value === "false" ? form.value : ""} onChange={set("value")}>
                <option value="">(choose)</option>
                <option value="true">true</option>
                <option value="false">false</option>
              </select>
            ) : (
              <input id={`${id}-value`} type="text" inputMode="decimal" value={form.value} onInput={set("value")} />
            )}
          </div>
          <div class="field">
            <label for={`${id}-minutes`}>For (minutes)</label>
            <input id={`${id}-minutes`} type="text" inputMode="decimal" value={form.minutes} onInput={set("minutes")} />
          </div>
          <div class="field">
            <label for={`${id}-reason`}>Reason</label>
            <input id={`${id}-reason`} type="text" maxLength={2000} value={form.reason} onInput={set("reason")} />
          </div>
          {error && (
            <p class="field__error" role="alert">
              {error}
            </p>
          )}
          <div class="actions actions--left">
            <button type="submit" class="btn btn--small btn--primary" disabled={busy}>
              Hold
            </button>
            <button type="button" class="btn btn--small" onClick={() => (setForm(null), setError(null))}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </li>
  );
}
