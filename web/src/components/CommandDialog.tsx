/**
 * Command a writable point: a value (or a release) at a priority, for a
 * duration, with a reason. Shows the point's priority array and follows the
 * command's status (pending → executing → completed | failed …) live.
 *
 * The point is named as people read it (its display name), its value pre-filled
 * rounded to its precision, "Now" follows its live value and is read again when
 * a command ends, and a refusal is shown beside the field it concerns.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import { ApiError } from "../api/problem";
import type { Command, PointDetail, PriorityArray, Value } from "../api/types";
import { useApp } from "../context";
import { useLiveSamples, useLiveStatus, useSiteZone } from "../hooks";
import { formatNumber, formatTime, formatValue, inputNumber, pointLabel, stateWords, unitLabel, withUnit } from "../lib/format";
import { overrideLabel } from "../lib/overrides";
import { DataTable } from "./DataTable";
import { Field, FormErrors } from "./Field";

const DURATIONS: { label: string; s: number | null }[] = [
  { label: "Until released", s: null },
  { label: "10 minutes", s: 600 },
  { label: "30 minutes", s: 1800 },
  { label: "1 hour", s: 3600 },
  { label: "4 hours", s: 14400 },
  { label: "24 hours", s: 86400 },
];
const FINAL = new Set(["completed", "failed", "superseded", "expired"]);

/**
 * The form field a refusal of the server concerns, from what it says, for a refusal that names
 * no field (the server names it in `errors` when one field is the problem, and those are shown
 * beside it as they are): the priority, the duration or the expiry, else the value.
 */
export function refusalField(message: string, mode: "write" | "release"): string {
  if (/\bpriority\b/i.test(message)) return "priority";
  if (/\b(duration|expire)/i.test(message)) return mode === "write" ? "duration_s" : "priority";
  return mode === "write" ? "value" : "priority";
}

/** A refusal's words without the point id it starts with ("hq/ahu-1/sat-sp: 40 is above …" → "40 is above …"). */
function refusalText(message: string, pointId: string): string {
  const text = message.startsWith(`${pointId}: `) ? message.slice(pointId.length + 2) : message;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The text a value field starts with: the point's value rounded to its precision (23.8, not 23.799999237060547). */
export function prefill(point: Pick<PointDetail, "kind" | "states" | "value" | "precision">): string {
  if (point.kind === "bool") return "true";
  if (point.kind === "enum") {
    // The state the point is in (state numbers count from 1), else the first.
    const v = point.value;
    const current = typeof v === "number" && Number.isInteger(v) && v >= 1 ? point.states?.[v - 1] : undefined;
    return current ?? point.states?.[0] ?? "";
  }
  const v = point.value;
  return typeof v === "number" && Number.isFinite(v) ? inputNumber(v, point.precision) : String(v ?? "");
}

/**
 * The priorities the dialog offers for a point and the one it starts at: at a central openbms the
 * edge keeps 1-8 (its life safety and its own operators), so 9-16 and 12; else 1-16 and 8.
 */
export function priorityChoices(point: Pick<PointDetail, "remote">): { offered: number[]; initial: number } {
  return point.remote
    ? { offered: [9, 10, 11, 12, 13, 14, 15, 16], initial: 12 }
    : { offered: Array.from({ length: 16 }, (_, i) => i + 1), initial: 8 };
}

/**
 * The priority the dialog shows and sends for the point it has now: the one chosen while that
 * point offers it, else the point's initial one. Derived on every render, never kept apart from
 * the point: a priority kept from an earlier point (8, chosen or initial, then a central point
 * offering 9-16) was sent while the select showed none of its options.
 */
export function dialogPriority(point: Pick<PointDetail, "remote">, chosen: number | null): number {
  const { offered, initial } = priorityChoices(point);
  return chosen !== null && offered.includes(chosen) ? chosen : initial;
}

function parseValue(text: string, point: PointDetail): Value {
  if (point.kind === "bool") return text === "true";
  if (point.kind === "enum") return text;
  const n = Number(text);
  return text.trim() === "" || !Number.isFinite(n) ? text : n;
}

export function CommandDialog(props: { site: string; point: PointDetail; onClose: () => void }) {
  const { api, live } = useApp();
  const { site } = props;
  // The point as last read: read again when a command ends (its status and override change too).
  const [point, setPoint] = useState<PointDetail>(props.point);
  const ref = useRef<HTMLDialogElement>(null);
  const [mode, setMode] = useState<"write" | "release">("write");
  const [value, setValue] = useState(() => prefill(props.point));
  useSiteZone(site); // "until" times in the site's zone
  const latest = useLiveSamples([props.point.id]).get(props.point.id);
  const nowValue = latest && (point.ts === null || latest[0] >= point.ts) ? latest[1] : point.value;
  const nowStatus = latest && (point.ts === null || latest[0] >= point.ts) ? latest[2] : point.status;
  // The priorities of the point the dialog has now (it follows its props): 9-16 at a central openbms.
  const priorities = priorityChoices(point).offered;
  const [chosenPriority, setPriority] = useState<number | null>(null);
  const priority = dialogPriority(point, chosenPriority);
  const [duration, setDuration] = useState<number | null>(600);
  const [reason, setReason] = useState("");
  const [errors, setErrors] = useState<{ fields: Record<string, string>; general: string[] }>({ fields: {}, general: [] });
  const [busy, setBusy] = useState(false);
  const [cmd, setCmd] = useState<Command | null>(null);
  const [array, setArray] = useState<PriorityArray | null>(null);
  const connState = useLiveStatus().state;
  const linkDown = connState === "reconnecting" || connState === "offline";
  // The button that opened the dialog gets the focus back however it closes (Escape too:
  // the page unmounts the dialog on cancel, before the browser could restore the focus).
  const opener = useRef<HTMLElement | null>(null);

  const loadArray = () =>
    endpoints.priorityArray(api, site, point.equipment, point.name).then(setArray, () => setArray(null));

  useEffect(() => {
    const active = document.activeElement;
    opener.current = active instanceof HTMLElement && active !== document.body ? active : null;
    ref.current?.showModal();
    return () => {
      const el = opener.current;
      if (el?.isConnected) el.focus();
    };
  }, []);

  // The page may hand the open dialog a fresh copy of its point, or another point: it follows
  // (another point starts afresh: its value, its priorities, no command or refusal of the last).
  const given = useRef(props.point);
  useEffect(() => {
    if (given.current === props.point) return;
    const other = given.current.id !== props.point.id;
    given.current = props.point;
    setPoint(props.point);
    if (other) {
      setValue(prefill(props.point));
      setPriority(null);
      setCmd(null);
      setArray(null);
      setErrors({ fields: {}, general: [] });
    }
  }, [props.point]);

  useEffect(() => {
    void loadArray();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [point.id]);

  // Follow the command: WebSocket `command` messages, and a poll in case the stream is down.
  useEffect(() => {
    if (!cmd || FINAL.has(cmd.status)) return;
    const off = live.onMessage((msg) => {
      const c = msg.command as Partial<Command> | undefined;
      if (msg.type === "command" && c?.id === cmd.id) setCmd((prev) => (prev ? { ...prev, ...c } as Command : prev));
    });
    const unsub = live.subscribe({ type: "subscribe", commands: [site] });
    const poll = setInterval(() => {
      endpoints.commandStatus(api, site, cmd.id).then((c) => setCmd(c), () => {});
    }, 2000);
    return () => {
      off();
      unsub();
      clearInterval(poll);
    };
  }, [cmd?.id, cmd && FINAL.has(cmd.status)]);

  useEffect(() => {
    // A new command (a release after a write both answer "completed") reloads it too, and the point:
    // its value, status and override are the command's doing.
    if (cmd && FINAL.has(cmd.status)) {
      void loadArray();
      endpoints.point(api, site, point.equipment, point.name).then(setPoint, () => {});
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [cmd?.id, cmd?.status]);

  const submit = async (ev: Event) => {
    ev.preventDefault();
    const fields: Record<string, string> = {};
    if (!reason.trim()) fields.reason = "Say why: the reason is kept with the command.";
    if (mode === "write" && point.kind === "number" && !Number.isFinite(Number(value))) fields.value = "Enter a number.";
    if (Object.keys(fields).length) {
      setErrors({ fields, general: [] });
      return;
    }
    setBusy(true);
    setErrors({ fields: {}, general: [] });
    try {
      const c =
        mode === "write"
          ? await endpoints.command(api, site, point.equipment, point.name, {
              value: parseValue(value, point),
              priority,
              ...(duration ? { duration_s: duration } : {}),
              reason: reason.trim(),
            })
          : await endpoints.release(api, site, point.equipment, point.name, { priority, reason: reason.trim() });
      setCmd(c);
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fields).length === 0 && err.status === 422 && err.general.length > 0) {
        // A refusal that names no field (the arbiter's words): beside the field it is about.
        const text = refusalText(err.general.join(" "), point.id);
        setErrors({ fields: { [refusalField(text, mode)]: text }, general: [] });
      } else if (err instanceof ApiError) setErrors({ fields: err.fields, general: err.general });
      else setErrors({ fields: {}, general: [String(err)] });
    } finally {
      setBusy(false);
    }
  };

  const close = () => {
    ref.current?.close();
    props.onClose();
  };
  const limits = point.limits;
  const bound = (v: number | null, none: string) => (v === null ? none : formatNumber(v, point.precision ?? 0));
  const hint =
    point.kind === "number" && limits && (limits.min !== null || limits.max !== null)
      ? withUnit(`Between ${bound(limits.min, "−∞")} and ${bound(limits.max, "∞")}`, point.unit)
      : undefined;
  const unit = unitLabel(point.unit);
  const label = pointLabel(point);

  return (
    // Named by its point's id and its display name: the id tells two alike-named points apart.
    <dialog ref={ref} class="dialog" aria-label={`Command ${point.id} (${label})`} onClose={props.onClose} onCancel={props.onClose}>
      <form onSubmit={submit} noValidate>
        <h2 id="cmd-title">Command {label}</h2>
        <p class="muted small">{point.id}</p>
        <p class="muted" data-testid="cmd-now">
          Now: <strong>{formatValue(nowValue, point)}</strong> · {nowStatus ? stateWords(nowStatus).toLowerCase() : "no value yet"}
          {point.override && ` · ${overrideLabel(point.override)}`}
        </p>
        <fieldset class="segmented">
          <legend>Action</legend>
          <label>
            <input type="radio" name="mode" checked={mode === "write"} onChange={() => setMode("write")} /> Set a value
          </label>
          <label>
            <input type="radio" name="mode" checked={mode === "release"} onChange={() => setMode("release")} /> Release
          </label>
        </fieldset>
        {mode === "write" && (
          <Field id="cmd-value" label={`Value${unit ? ` (${unit})` : ""}`} error={errors.fields.value} hint={hint}>
            {(aria) =>
              point.kind === "bool" ? (
                <select {...aria} value={value} onChange={(e) => setValue(e.currentTarget.value)}>
                  <option value="true">On</option>
                  <option value="false">Off</option>
                </select>
              ) : point.kind === "enum" ? (
                <select {...aria} value={value} onChange={(e) => setValue(e.currentTarget.value)}>
                  {(point.states ?? []).map((s) => (
                    <option key={s} value={s}>
                      {s}
                    </option>
                  ))}
                </select>
              ) : (
                <input {...aria} type="number" step="any" inputMode="decimal" required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
              )
            }
          </Field>
        )}
        <div class="row">
          <Field
            id="cmd-priority"
            label="Priority"
            error={errors.fields.priority}
            hint={point.remote ? "Sent to the site, whose priorities 1-8 stay its own" : "1 is highest; 8 is manual operator"}
          >
            {(aria) => (
              <select {...aria} value={String(priority)} onChange={(e) => setPriority(Number(e.currentTarget.value))}>
                {priorities.map((p) => (
                  <option key={p} value={p}>
                    {p}
                    {p === 8 ? " (manual operator)" : ""}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {mode === "write" && (
            <Field id="cmd-duration" label="For" error={errors.fields.duration_s}>
              {(aria) => (
                <select {...aria} value={String(duration)} onChange={(e) => setDuration(e.currentTarget.value === "null" ? null : Number(e.currentTarget.value))}>
                  {DURATIONS.map((d) => (
                    <option key={d.label} value={String(d.s)}>
                      {d.label}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          )}
        </div>
        <Field id="cmd-reason" label="Reason" error={errors.fields.reason}>
          {(aria) => <input {...aria} type="text" required maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />}
        </Field>
        <FormErrors messages={errors.general} />
        {linkDown && (
          <p class="banner banner--warn" id="cmd-dialog-offline">
            The live connection is down: commands wait until it is back.
          </p>
        )}
        {cmd && (
          <p class={`progress progress--${cmd.status}`} role="status" aria-live="polite">
            {cmd.release ? `Priority ${cmd.priority} released` : `Set to ${formatValue(cmd.value, point)} at priority ${cmd.priority}`}:{" "}
            <strong>{stateWords(cmd.status).toLowerCase()}</strong>
            {cmd.error ? ` — ${cmd.error}` : ""}
            {cmd.expires_at ? ` · until ${formatTime(cmd.expires_at * 1000)}` : ""}
          </p>
        )}
        <div class="actions">
          <button type="button" class="btn" onClick={close}>
            Close
          </button>
          <button type="submit" class="btn btn--primary" disabled={busy || linkDown} aria-describedby={linkDown ? "cmd-dialog-offline" : undefined}>
            {busy ? "Sending…" : mode === "write" ? "Send command" : "Release"}
          </button>
        </div>
        <PriorityTable array={array} point={point} />
      </form>
    </dialog>
  );
}

function PriorityTable(props: { array: PriorityArray | null; point: PointDetail }) {
  const a = props.array;
  if (!a) return null;
  const used = a.slots.filter((s) => s.value !== null || s.command_id);
  return (
    <section aria-labelledby="pa-title">
      <h3 id="pa-title">Priority array</h3>
      <p>
        Effective value <strong>{formatValue(a.effective, props.point)}</strong>
        {a.active_priority ? ` from priority ${a.active_priority}` : " (relinquish default)"}; relinquish default{" "}
        {formatValue(a.relinquish_default, props.point)}.
      </p>
      <DataTable
        rows={used}
        rowKey={(s) => s.priority}
        rowClass={(s) => (s.priority === a.active_priority ? "row--active" : "")}
        empty={<p class="muted">Every slot is empty.</p>}
        columns={[
          { key: "priority", header: "Priority", cell: (s) => s.priority },
          { key: "value", header: "Value", cell: (s) => formatValue(s.value, props.point) },
          { key: "by", header: "By", cell: (s) => s.requested_by ?? (s.source ? stateWords(s.source) : "—") },
          { key: "reason", header: "Reason", cell: (s) => s.reason ?? "" },
          { key: "until", header: "Until", cell: (s) => (s.expires_at ? formatTime(s.expires_at * 1000) : "—") },
        ]}
      />
    </section>
  );
}
