/**
 * The alarm console: the site's alarms live, filters, acknowledge one or
 * many, notes, shelving, and the event history. New alarms are outlined and
 * announced (no sound) until acknowledged or looked at.
 *
 * At a central openbms the alarms are the edges' (`remote`): shown, read again every 10 s (the
 * centre's WebSocket carries no alarm events), and acknowledged, noted and shelved at the edge:
 * the page offers none of those there and says so.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import { ApiError } from "../api/problem";
import { ObjectTable } from "../components/DataTable";
import { Field, FormErrors } from "../components/Field";
import { useApp } from "../context";
import { useLoad, useNow, useSiteZone } from "../hooks";
import { ackNote, filterAlarms, hiddenShelvedText, type AlarmWithHistory, type ShelvedFilter } from "../lib/alarms";
import { alarmsActionable } from "../lib/central";
import { formatAge, formatTime, formatValue, pointLabel, stateWords } from "../lib/format";
import { canAck } from "../lib/roles";
import { LoadState } from "./common";

const STATES: Record<string, string> = Object.fromEntries(
  ["active-unacked", "active-acked", "returned-unacked", "normal"].map((s) => [s, stateWords(s)]),
);

export function Alarms(props: { site: string }) {
  const { api, live, me } = useApp();
  const { site } = props;
  const [state, setState] = useState("");
  const [maxPriority, setMaxPriority] = useState("");
  const [shelved, setShelved] = useState<ShelvedFilter>("false");
  const [text, setText] = useState("");
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [acting, setActing] = useState<{ kind: "note" | "shelve" | "ack"; ids: string[] } | null>(null);
  const [tab, setTab] = useState<"list" | "history">("list");
  const [announce, setAnnounce] = useState("");
  const now = useNow(10_000);
  useSiteZone(site);
  // At a central openbms the site's alarms are its edge's: handled there.
  const siteInfo = useLoad(() => endpoints.site(api, site), [api, site]);
  const atEdge = !!siteInfo.data?.central;
  // The site's points, for each alarm's point as people read it: its display name, precision and unit.
  const points = useLoad(() => endpoints.points(api, site), [api, site]);
  const pointOf = new Map((points.data ?? []).map((p) => [p.id, p]));

  // Shelved or not, every alarm is loaded: the page filters them, so it can tell how many it hides.
  const alarms = useLoad(
    () =>
      endpoints.alarms(api, site, {
        state: state || undefined,
        max_priority: maxPriority || undefined,
      }) as Promise<AlarmWithHistory[]>,
    [api, site, state, maxPriority],
  );
  const reload = useRef(alarms.reload);
  reload.current = alarms.reload;
  const mayAck = canAck(me, site) && alarmsActionable(alarms.data, siteInfo.data);
  useEffect(() => {
    if (!atEdge) return;
    const timer = setInterval(() => reload.current(), 10_000);
    return () => clearInterval(timer);
  }, [atEdge]);

  // Live: every alarm event reloads the list (coalesced), and a raise marks the alarm new.
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const off = live.onMessage((msg) => {
      if (msg.type !== "alarm") return;
      const ev = msg.alarm as { alarm_id?: string; action?: string; message?: string } | undefined;
      if (ev?.alarm_id && (ev.action === "raise" || ev.action === "reactivate" || ev.action === "reannunciate")) {
        setFresh((s) => new Set(s).add(ev.alarm_id!));
        setAnnounce(`New alarm: ${ev.message ?? ev.alarm_id}`);
      }
      if (!timer) timer = setTimeout(() => ((timer = null), reload.current()), 300);
    });
    const unsub = live.subscribe({ type: "subscribe", alarms: [site] });
    return () => {
      off();
      unsub();
      if (timer) clearTimeout(timer);
    };
  }, [live, site]);

  const { shown: list, hiddenShelved } = filterAlarms(alarms.data ?? [], shelved, text);
  const hiddenText = hiddenShelvedText(hiddenShelved);
  const unackedIds = list.filter((a) => a.state.endsWith("unacked")).map((a) => a.id);
  const toggle = (id: string) =>
    setPicked((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  return (
    <main id="main">
      <h1>Alarms</h1>
      {atEdge && (
        <p class="muted" data-testid="alarms-at-edge">
          These are the site's own alarms, as its openbms reported them. Acknowledge, add notes and shelve at the site.
        </p>
      )}
      <div class="sr-only" role="status" aria-live="polite">
        {announce}
      </div>
      <div class="tabs" role="tablist">
        <button role="tab" aria-selected={tab === "list"} class="btn btn--small" onClick={() => setTab("list")}>
          Current
        </button>
        <button role="tab" aria-selected={tab === "history"} class="btn btn--small" onClick={() => setTab("history")}>
          History
        </button>
      </div>
      {tab === "history" ? (
        <AlarmHistory site={site} />
      ) : (
        <>
          <form class="toolbar" role="search" aria-label="Filter alarms" onSubmit={(e) => e.preventDefault()}>
            <label class="inline">
              State{" "}
              <select value={state} onChange={(e) => setState(e.currentTarget.value)}>
                <option value="">Any not normal</option>
                {Object.entries(STATES).map(([k, v]) => (
                  <option key={k} value={k}>
                    {v}
                  </option>
                ))}
              </select>
            </label>
            <label class="inline">
              Priority up to{" "}
              <input type="number" min={0} max={255} value={maxPriority} onInput={(e) => setMaxPriority(e.currentTarget.value)} class="narrow" />
            </label>
            <label class="inline">
              Shelved{" "}
              <select value={shelved} onChange={(e) => setShelved(e.currentTarget.value as ShelvedFilter)}>
                <option value="false">Hide</option>
                <option value="true">Only shelved</option>
                <option value="">Show all</option>
              </select>
            </label>
            <label class="inline">
              Search <input type="search" value={text} onInput={(e) => setText(e.currentTarget.value)} />
            </label>
          </form>
          {mayAck && (
            <div class="toolbar">
              <button type="button" class="btn btn--primary btn--small" disabled={picked.size === 0} onClick={() => setActing({ kind: "ack", ids: [...picked] })}>
                Acknowledge selected ({picked.size})
              </button>
              <button type="button" class="btn btn--small" disabled={unackedIds.length === 0} onClick={() => setActing({ kind: "ack", ids: unackedIds })}>
                Acknowledge all shown ({unackedIds.length})
              </button>
            </div>
          )}
          <LoadState {...alarms} />
          {alarms.data && (list.length === 0 || hiddenText) && (
            <p class="muted" data-testid="alarms-hidden">
              {list.length === 0 ? "No alarms match." : ""}
              {hiddenText && (
                <>
                  {list.length === 0 ? " " : ""}
                  {hiddenText}{" "}
                  <button type="button" class="btn btn--small btn--link" onClick={() => setShelved("")}>
                    Show shelved alarms
                  </button>
                </>
              )}
            </p>
          )}
          <ul class="alarm-list">
            {list.map((a) => (
              <li
                key={a.id}
                class={`alarm card alarm--${a.state}${fresh.has(a.id) ? " alarm--new" : ""}`}
                onFocusIn={() => fresh.has(a.id) && setFresh((s) => ((s = new Set(s)), s.delete(a.id), s))}
              >
                <div class="alarm__head">
                  {mayAck && (
                    <input type="checkbox" aria-label={`Select ${a.name}`} checked={picked.has(a.id)} onChange={() => toggle(a.id)} />
                  )}
                  <span class="prio" title="priority (lower is more urgent)">
                    P{a.priority}
                  </span>
                  <strong>{a.name}</strong>
                  {fresh.has(a.id) && <span class="tag tag--new">new</span>}
                  {a.shelved && <span class="tag">shelved{a.shelved_until ? ` until ${formatTime(a.shelved_until * 1000)}` : ""}</span>}
                  {a.flapping && <span class="tag">flapping</span>}
                </div>
                <p>{a.message}</p>
                <p class="muted small">
                  {stateWords(a.state)} · {pointOf.has(a.point) ? pointLabel(pointOf.get(a.point)!) : a.point} ={" "}
                  {formatValue(a.value, pointOf.get(a.point))} · since {formatAge((a.active_since ?? a.changed_ts ?? 0) * 1000, now)}
                  {a.acked_by ? ` · acknowledged by ${a.acked_by}` : ""}
                  {a.count > 1 ? ` · ${a.count} times` : ""}
                </p>
                {ackNote(a) && (
                  <p class="ack-note small" data-testid="ack-note">
                    <span class="muted">Acknowledged with the note:</span> {ackNote(a)}
                  </p>
                )}
                {a.notes.length > 0 && (
                  <ul class="notes">
                    {a.notes.map((n) => (
                      <li key={n.ts}>
                        <span class="muted small">
                          {formatTime(n.ts * 1000)} {n.who}:
                        </span>{" "}
                        {n.text}
                      </li>
                    ))}
                  </ul>
                )}
                {mayAck && (
                  <div class="actions actions--left">
                    {a.state.endsWith("unacked") && (
                      <button type="button" class="btn btn--small btn--primary" aria-label={`Acknowledge ${a.name}`} onClick={() => setActing({ kind: "ack", ids: [a.id] })}>
                        Acknowledge
                      </button>
                    )}
                    <button type="button" class="btn btn--small" aria-label={`Add a note to ${a.name}`} onClick={() => setActing({ kind: "note", ids: [a.id] })}>
                      Add note
                    </button>
                    {a.shelved ? (
                      <button type="button" class="btn btn--small" aria-label={`Unshelve ${a.name}`} onClick={() => endpoints.unshelve(api, site, a.id).then(alarms.reload)}>
                        Unshelve
                      </button>
                    ) : (
                      <button type="button" class="btn btn--small" aria-label={`Shelve ${a.name}`} onClick={() => setActing({ kind: "shelve", ids: [a.id] })}>
                        Shelve…
                      </button>
                    )}
                  </div>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
      {acting && (
        <AlarmAction
          site={site}
          {...acting}
          onDone={() => {
            setActing(null);
            setPicked(new Set());
            setFresh((s) => {
              const n = new Set(s);
              for (const id of acting.ids) n.delete(id);
              return n;
            });
            alarms.reload();
          }}
          onCancel={() => setActing(null)}
        />
      )}
    </main>
  );
}

const SHELVE = [
  { label: "1 hour", s: 3600 },
  { label: "8 hours", s: 8 * 3600 },
  { label: "1 day", s: 86400 },
  { label: "7 days", s: 7 * 86400 },
];

function AlarmAction(props: { site: string; kind: "note" | "shelve" | "ack"; ids: string[]; onDone: () => void; onCancel: () => void }) {
  const { api } = useApp();
  const ref = useRef<HTMLDialogElement>(null);
  const [note, setNote] = useState("");
  const [duration, setDuration] = useState(3600);
  const [errors, setErrors] = useState<{ fields: Record<string, string>; general: string[] }>({ fields: {}, general: [] });
  const [busy, setBusy] = useState(false);
  useEffect(() => ref.current?.showModal(), []);
  const field = props.kind === "shelve" ? "reason" : "note";
  const required = props.kind !== "ack";
  const title = props.kind === "ack" ? `Acknowledge ${props.ids.length} alarm${props.ids.length > 1 ? "s" : ""}` : props.kind === "note" ? "Add a note" : "Shelve alarm";

  const submit = async (ev: Event) => {
    ev.preventDefault();
    if (required && !note.trim()) return setErrors({ fields: { [field]: props.kind === "shelve" ? "Say why it is shelved." : "Write the note." }, general: [] });
    setBusy(true);
    try {
      const [one] = props.ids;
      if (props.kind === "ack") {
        if (props.ids.length === 1 && one) await endpoints.ack(api, props.site, one, note.trim() || undefined);
        else {
          const r = await endpoints.ackMany(api, props.site, props.ids, note.trim() || undefined);
          const failed = r.results.filter((x) => !x.acknowledged);
          if (failed.length) {
            setErrors({ fields: {}, general: failed.map((f) => `${f.id}: ${f.error ?? "not acknowledged"}`) });
            setBusy(false);
            return;
          }
        }
      } else if (props.kind === "note" && one) await endpoints.note(api, props.site, one, note.trim());
      else if (one) await endpoints.shelve(api, props.site, one, duration, note.trim());
      ref.current?.close();
      props.onDone();
    } catch (err) {
      if (err instanceof ApiError) setErrors({ fields: err.fields, general: err.general });
      else setErrors({ fields: {}, general: [String(err)] });
      setBusy(false);
    }
  };

  return (
    <dialog ref={ref} class="dialog" aria-labelledby="aa-title" onCancel={props.onCancel}>
      <form onSubmit={submit} noValidate>
        <h2 id="aa-title">{title}</h2>
        {props.kind === "shelve" && (
          <Field id="aa-duration" label="Shelve for" error={errors.fields.duration_s ?? errors.fields.until}>
            {(aria) => (
              <select {...aria} value={String(duration)} onChange={(e) => setDuration(Number(e.currentTarget.value))}>
                {SHELVE.map((d) => (
                  <option key={d.s} value={d.s}>
                    {d.label}
                  </option>
                ))}
              </select>
            )}
          </Field>
        )}
        <Field id="aa-note" label={props.kind === "shelve" ? "Reason" : props.kind === "ack" ? "Note (optional)" : "Note"} error={errors.fields[field]}>
          {(aria) => <textarea {...aria} rows={3} maxLength={2000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />}
        </Field>
        <FormErrors messages={errors.general} />
        <div class="actions">
          <button
            type="button"
            class="btn"
            onClick={() => {
              ref.current?.close();
              props.onCancel();
            }}
          >
            Cancel
          </button>
          <button type="submit" class="btn btn--primary" disabled={busy}>
            {busy ? "Saving…" : props.kind === "ack" ? "Acknowledge" : props.kind === "note" ? "Add note" : "Shelve"}
          </button>
        </div>
      </form>
    </dialog>
  );
}

function AlarmHistory(props: { site: string }) {
  const { api } = useApp();
  const events = useLoad(() => endpoints.alarmEvents(api, props.site), [api, props.site]);
  return (
    <>
      <LoadState {...events} />
      {events.data && (
        <ObjectTable items={events.data.items} caption="Alarm events, newest first" columns={["ts", "alarm_id", "action", "from_state", "to_state", "who", "message", "note"]} />
      )}
    </>
  );
}
