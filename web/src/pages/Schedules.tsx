/**
 * Schedules: the site's list (value now, next change), and one schedule's
 * editor — the weekly grid (per weekday, time → value events), the exception
 * calendar (a date, a range or a calendar's days, with their own events) and
 * "what happens tomorrow", read from the server's transitions so that it
 * follows the server's clock and the schedule's time zone. Holiday calendars
 * are listed with the schedules, and edited there by those who may.
 */
import { useEffect, useMemo, useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import { ApiError } from "../api/problem";
import type { CalendarInfo, PointSummary, Transition, Transitions, Value } from "../api/types";
import { FormErrors } from "../components/Field";
import { useApp } from "../context";
import { useLoad, useNow, useSiteZone } from "../hooks";
import { formatCalendarDate, formatValue } from "../lib/format";
import { can } from "../lib/roles";
import {
  addEvent,
  CALENDAR_ENTRY_KINDS,
  calendarBody,
  calendarFieldErrors,
  copyDay,
  DAY_LABELS,
  daySegments,
  describeValue,
  describeWhen,
  diff,
  localClock,
  localDate,
  localDayLabel,
  localMidnight,
  newCalendarEntry,
  newException,
  normalizeDraft,
  serverFieldErrors,
  toBody,
  toCalendarDraft,
  toDraft,
  validate,
  validateCalendar,
  WEEKDAYS,
  type CalendarDraft,
  type CalendarEntryDraft,
  type CalendarEntryKind,
  type EventDraft,
  type ExceptionDraft,
  type ScheduleDraft,
  type ScheduleKind,
  type Weekday,
  type WhenKind,
} from "../lib/schedule";
import { href } from "../router";
import { LoadState } from "./common";

/**
 * A schedule's value as people read it: with the unit of the points it sets (20.0 °C), On/Off,
 * a state (a state number, counted from 1, by its label), or what a release means (the points
 * go back to lower priorities).
 */
export function scheduleValueWords(value: Value, kind: ScheduleKind, target?: Pick<PointSummary, "unit" | "precision" | "kind" | "states">): string {
  if (value === null || value === undefined) return "released (lower priorities decide)";
  if (kind === "bool" || typeof value === "boolean") return describeValue(value, kind); // on, off: within a sentence
  if (kind === "enum") return formatValue(value, { kind: "enum", states: target?.states });
  if (typeof value === "number") return formatValue(value, { kind: "number", unit: target?.unit, precision: target?.precision });
  return String(value);
}

export function Schedules(props: { site: string }) {
  const { api, me } = useApp();
  const mayEdit = can(me, "schedules:write", props.site);
  const list = useLoad(() => endpoints.schedules(api, props.site), [api, props.site]);
  useSiteZone(props.site);
  // The points schedules set, for their units and precision.
  const points = useLoad(() => endpoints.points(api, props.site), [api, props.site]);
  const pointOf = new Map((points.data ?? []).map((p) => [p.id, p]));
  const calendars = useLoad(() => endpoints.calendars(api, props.site), [api, props.site]);
  return (
    <main id="main">
      <h1>Schedules</h1>
      <LoadState {...list} />
      {list.data && list.data.length === 0 && <p class="muted">This site has no schedules.</p>}
      <ul class="cards">
        {list.data?.map((v) => (
          <li key={v.schedule.id} class="card">
            <a href={href(`/sites/${props.site}/schedules/${encodeURIComponent(v.schedule.id)}`)}>
              <strong>{v.schedule.name || v.schedule.id}</strong>
            </a>
            <p class="muted small">
              {v.schedule.id} · {v.schedule.targets.length} target{v.schedule.targets.length === 1 ? "" : "s"} · priority {v.schedule.priority}
            </p>
            <p>
              Now <strong>{scheduleValueWords(v.current.value, v.schedule.kind, pointOf.get(v.schedule.targets[0] ?? ""))}</strong>
              {v.next ? (
                <>
                  {" "}
                  · next <strong>{scheduleValueWords(v.next.value, v.schedule.kind, pointOf.get(v.schedule.targets[0] ?? ""))}</strong> at {localDayLabel(v.next.ts, v.timezone)} {localClock(v.next.local)}
                </>
              ) : (
                " · no change ahead"
              )}
            </p>
          </li>
        ))}
      </ul>
      <section class="card" aria-labelledby="cal-title">
        <h2 id="cal-title">Holiday calendars</h2>
        <LoadState {...calendars} />
        {calendars.data?.length === 0 && <p class="muted">No calendars.</p>}
        {calendars.data?.map((c) => (
          <details key={c.id}>
            <summary>
              {c.name || c.id} <span class="muted small">({c.id}, {c.entries.length} {c.entries.length === 1 ? "entry" : "entries"})</span>
            </summary>
            {mayEdit ? (
              <CalendarEditor site={props.site} calendar={c} onSaved={calendars.reload} />
            ) : (
              <ul>
                {c.entries.map((e, i) => (
                  <li key={i}>{describeWhen(e)}</li>
                ))}
              </ul>
            )}
          </details>
        ))}
      </section>
    </main>
  );
}

type Errors = Record<string, string>;

const ENTRY_KIND_LABEL: Record<CalendarEntryKind, string> = {
  ...Object.fromEntries(CALENDAR_ENTRY_KINDS.map((k) => [k.id, k.label])),
  kept: "A rule of the site file",
} as Record<CalendarEntryKind, string>;

/** One holiday calendar's entries, edited in place and saved with PUT …/calendars/{id}; problems beside their fields. */
function CalendarEditor(props: { site: string; calendar: CalendarInfo; onSaved: () => void }) {
  const { api } = useApp();
  const c = props.calendar;
  const [draft, setDraft] = useState<CalendarDraft>(() => toCalendarDraft(c));
  const [errors, setErrors] = useState<Errors>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const [addKind, setAddKind] = useState<Exclude<CalendarEntryKind, "kept">>("date");
  const key = JSON.stringify(c);
  useEffect(() => setDraft(toCalendarDraft(c)), [key]); // eslint-disable-line react-hooks/exhaustive-deps
  const id = (path: string) => `cal-${c.id}-${path}`;
  const edit = (next: CalendarDraft) => {
    setDraft(next);
    setSaved(false);
  };
  const setEntry = (i: number, patch: Partial<CalendarEntryDraft>) => edit({ ...draft, entries: draft.entries.map((x, j) => (j === i ? { ...x, ...patch } : x)) });
  const remove = (i: number) => {
    edit({ ...draft, entries: draft.entries.filter((_, j) => j !== i) });
    setErrors({});
  };

  const save = async (ev: Event) => {
    ev.preventDefault();
    const found = validateCalendar(draft);
    setErrors(found);
    setGeneral([]);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      await endpoints.putCalendar(api, props.site, c.id, calendarBody(draft));
      setSaved(true);
      props.onSaved();
    } catch (err) {
      if (err instanceof ApiError) {
        setErrors(calendarFieldErrors(err.fields, draft));
        setGeneral(err.general.length || Object.keys(err.fields).length ? err.general : [err.message]);
      } else setGeneral([String(err)]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="calendar-editor" aria-label={`Edit calendar ${c.name || c.id}`} onSubmit={save} noValidate>
      <TextField id={id("name")} label="Name" value={draft.name} error={errors.name} onInput={(v) => edit({ ...draft, name: v })} />
      {draft.entries.length === 0 && <p class="muted">No entries: the calendar matches no day.</p>}
      {draft.entries.map((x, i) => {
        const base = `entries.${i}`;
        return (
          <fieldset key={i} class="calendar-entry">
            <legend>
              Entry {i + 1}: {ENTRY_KIND_LABEL[x.kind].toLowerCase()}
            </legend>
            <div class="row">
              {x.kind === "date" && <TextField id={id(`${base}.date`)} type="date" label="Date" value={x.date} error={errors[`${base}.date`]} onInput={(v) => setEntry(i, { date: v })} />}
              {x.kind === "range" && (
                <>
                  <TextField id={id(`${base}.start`)} type="date" label="From" value={x.start} error={errors[`${base}.start`]} onInput={(v) => setEntry(i, { start: v })} />
                  <TextField id={id(`${base}.end`)} type="date" label="To (included)" value={x.end} error={errors[`${base}.end`]} onInput={(v) => setEntry(i, { end: v })} />
                </>
              )}
              {x.kind === "yearly" && (
                <TextField id={id(`${base}.month`)} label="Month and day" value={x.monthDay} hint="MM-DD, e.g. 12-25" error={errors[`${base}.month`]} onInput={(v) => setEntry(i, { monthDay: v })} />
              )}
              {x.kind === "holidays" && (
                <TextField id={id(`${base}.holidays`)} label="Country" value={x.holidays} hint="e.g. GB-ENG, US, DE-BY" error={errors[`${base}.holidays`]} onInput={(v) => setEntry(i, { holidays: v })} />
              )}
              {x.kind === "kept" && x.kept && (
                <p class="muted">
                  {describeWhen(x.kept)} (kept as it is)
                  {errors[`${base}.kept`] && (
                    <small class="error" role="alert">
                      {" "}
                      {errors[`${base}.kept`]}
                    </small>
                  )}
                </p>
              )}
            </div>
            <button type="button" class="btn btn--small" aria-label={`Remove entry ${i + 1}`} onClick={() => remove(i)}>
              Remove
            </button>
          </fieldset>
        );
      })}
      <div class="toolbar">
        <label class="inline">
          New entry{" "}
          <select value={addKind} onChange={(e) => setAddKind(e.currentTarget.value as Exclude<CalendarEntryKind, "kept">)}>
            {CALENDAR_ENTRY_KINDS.map((k) => (
              <option key={k.id} value={k.id}>
                {k.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="btn btn--small" onClick={() => edit({ ...draft, entries: [...draft.entries, newCalendarEntry(addKind)] })}>
          Add entry
        </button>
      </div>
      <FormErrors messages={general} />
      <div class="actions actions--left">
        <button type="submit" class="btn btn--primary btn--small" disabled={busy}>
          {busy ? "Saving…" : "Save calendar"}
        </button>
        {saved && (
          <span class="muted small" role="status">
            Saved.
          </span>
        )}
      </div>
    </form>
  );
}

export function ScheduleEditor(props: { site: string; id: string }) {
  const { api, me } = useApp();
  const { site, id } = props;
  const view = useLoad(() => endpoints.schedule(api, site, id), [api, site, id]);
  const calendars = useLoad(() => endpoints.calendars(api, site), [api, site]);
  const mayEdit = can(me, "schedules:write", site);
  const [saved, setSaved] = useState<ScheduleDraft | null>(null);
  const [draft, setDraft] = useState<ScheduleDraft | null>(null);
  const [errors, setErrors] = useState<Errors>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState("");
  const [version, setVersion] = useState(0);
  // The server's clock (the emulator's in the demo), from the preview: "tomorrow" is the server's.
  const [serverNow, setServerNow] = useState<number | null>(null);
  const clockNow = useNow();  // the server's clock (ms) until the preview tells its own

  useEffect(() => {
    if (!view.data) return;
    const d = toDraft(view.data.schedule);
    setSaved(d);
    setDraft(d);
  }, [view.data]);

  const changes = useMemo(() => (saved && draft ? diff(saved, draft) : []), [saved, draft]);
  const calendarIds = (calendars.data ?? []).map((c) => c.id);
  const tz = view.data?.timezone ?? "UTC";
  // The points the schedule sets, for the unit and precision of its values in the preview.
  const points = useLoad(() => endpoints.points(api, site), [api, site]);
  const pointOf = new Map((points.data ?? []).map((p) => [p.id, p]));

  if (!draft || !view.data) {
    return (
      <main id="main">
        <h1>Schedule {id}</h1>
        <LoadState {...view} />
      </main>
    );
  }
  const kind = draft.kind;
  const update = (f: (d: ScheduleDraft) => ScheduleDraft) => {
    setDraft((d) => (d ? f(d) : d));
    setStatus("");
  };

  const save = async (ev: Event) => {
    ev.preventDefault();
    const sorted = normalizeDraft(draft);
    setDraft(sorted);
    const found = validate(sorted, calendarIds);
    setErrors(found);
    setGeneral([]);
    if (Object.keys(found).length) {
      setStatus("");
      focusFirstError();
      return;
    }
    setBusy(true);
    try {
      const answer = await endpoints.putSchedule(api, site, id, { ...toBody(sorted), timezone: view.data!.schedule.timezone });
      const d = toDraft(answer.schedule);
      setSaved(d);
      setDraft(d);
      setVersion((v) => v + 1);
      setStatus("Saved: the schedule runs with these events now.");
    } catch (err) {
      if (err instanceof ApiError) {
        setErrors(serverFieldErrors(err.fields));
        setGeneral(err.general);
        focusFirstError();
      } else setGeneral([String(err)]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={href(`/sites/${site}/schedules`)}>Schedules</a> / <span aria-current="page">{id}</span>
      </nav>
      <h1>{saved?.name || id}</h1>
      <p class="muted">
        {kind === "bool" ? "On/off" : kind === "number" ? "Numeric" : "Multi-state"} schedule · times in {tz} · writes priority {view.data.schedule.priority} of{" "}
        {view.data.schedule.targets.length} point{view.data.schedule.targets.length === 1 ? "" : "s"} · now{" "}
        <strong>{describeValue(view.data.current.value, kind)}</strong> ({view.data.current.source})
      </p>
      {!mayEdit && <p class="banner banner--info">You may look at this schedule; changing it needs the facility manager or admin role.</p>}
      <div class="schedule-layout">
        <form onSubmit={save} noValidate aria-label={`Edit schedule ${id}`} class="schedule-form">
          <ErrorSummary errors={errors} />
          <FormErrors messages={general} />
          <fieldset disabled={!mayEdit || busy} class="plain">
            <legend class="sr-only">Schedule settings</legend>
            <section class="card" aria-labelledby="set-title">
              <h2 id="set-title">Settings</h2>
              <div class="row">
                <TextField id="f-name" label="Name" value={draft.name} error={errors.name} onInput={(v) => update((d) => ({ ...d, name: v }))} />
                <ValueField id="f-default" label="Default (nothing scheduled)" kind={kind} value={draft.default} error={errors.default} onChange={(v) => update((d) => ({ ...d, default: v }))} />
                <TextField id="f-priority" label="Priority" value={draft.priority} error={errors.priority} inputMode="numeric" narrow onInput={(v) => update((d) => ({ ...d, priority: v }))} hint="1–16; 8 is manual operator" />
              </div>
              <div class={`field${errors.targets ? " field--error" : ""}`}>
                <label for="f-targets">Target points (one per line)</label>
                <textarea id="f-targets" rows={Math.min(6, draft.targets.split("\n").length + 1)} value={draft.targets} aria-invalid={!!errors.targets} aria-describedby={errors.targets ? "f-targets-error" : undefined} onInput={(e) => update((d) => ({ ...d, targets: e.currentTarget.value }))} />
                {errors.targets && <small id="f-targets-error" class="error" role="alert">{errors.targets}</small>}
              </div>
            </section>

            <section class="card" aria-labelledby="week-title">
              <h2 id="week-title">Weekly schedule</h2>
              <p class="muted small">Each event sets the value from its time until the next event; before a day's first event the previous day's last value carries on. Leave a value empty (or choose Release) to release the points to lower priorities.</p>
              <WeekStrip draft={draft} />
              <div class="week-days">
              {WEEKDAYS.map((day) => (
                <fieldset key={day} class="day">
                  <legend>{DAY_LABELS[day]}</legend>
                  <EventList
                    label={DAY_LABELS[day]}
                    path={`weekly.${day}`}
                    kind={kind}
                    events={draft.weekly[day]}
                    errors={errors}
                    onChange={(events) => update((d) => ({ ...d, weekly: { ...d.weekly, [day]: events } }))}
                  />
                  <div class="actions actions--left">
                    <button type="button" class="btn btn--small" aria-label={`Add an event on ${DAY_LABELS[day]}`} onClick={() => update((d) => ({ ...d, weekly: { ...d.weekly, [day]: addEvent(d.weekly[day], kind) } }))}>
                      Add event
                    </button>
                    <CopyDay day={day} onCopy={(to) => update((d) => ({ ...d, weekly: copyDay(d.weekly, day, to) }))} />
                  </div>
                </fieldset>
              ))}
              </div>
            </section>

            <section class="card" aria-labelledby="exc-title">
              <h2 id="exc-title">Exceptions</h2>
              <p class="muted small">On a day an exception matches, its events replace the weekly ones. When several match, the lowest precedence wins.</p>
              {draft.exceptions.length === 0 && <p class="muted">No exceptions.</p>}
              {draft.exceptions.map((x, j) => (
                <ExceptionEditor
                  key={j}
                  index={j}
                  x={x}
                  kind={kind}
                  calendars={calendars.data ?? []}
                  errors={errors}
                  onChange={(nx) => update((d) => ({ ...d, exceptions: d.exceptions.map((o, k) => (k === j ? nx : o)) }))}
                  onRemove={() => update((d) => ({ ...d, exceptions: d.exceptions.filter((_, k) => k !== j) }))}
                />
              ))}
              <div class="actions actions--left">
                <button
                  type="button"
                  class="btn btn--small"
                  onClick={() =>
                    update((d) => ({
                      ...d,
                      exceptions: [...d.exceptions, newException(kind, localDate(localMidnight(serverNow ?? clockNow / 1000, tz, 1), tz), d.exceptions.map((e) => e.name))],
                    }))
                  }
                >
                  Add exception
                </button>
              </div>
            </section>
          </fieldset>

          {mayEdit && (
            <div class="card sticky-actions">
              {changes.length > 0 ? (
                <details>
                  <summary>
                    {changes.length} unsaved change{changes.length === 1 ? "" : "s"}
                  </summary>
                  <ul class="small">
                    {changes.map((c) => (
                      <li key={c}>{c}</li>
                    ))}
                  </ul>
                </details>
              ) : (
                <p class="muted small">No unsaved changes.</p>
              )}
              <p role="status" aria-live="polite" class="small">
                {status}
              </p>
              <div class="actions actions--left">
                <button type="submit" class="btn btn--primary" disabled={busy || changes.length === 0}>
                  {busy ? "Saving…" : "Save schedule"}
                </button>
                <button
                  type="button"
                  class="btn"
                  disabled={busy || changes.length === 0}
                  onClick={() => {
                    setDraft(saved);
                    setErrors({});
                    setGeneral([]);
                  }}
                >
                  Discard changes
                </button>
              </div>
            </div>
          )}
        </form>
        <Preview site={site} id={id} kind={kind} version={version} onNow={setServerNow} target={pointOf.get(view.data.schedule.targets[0] ?? "")} />
      </div>
    </main>
  );
}

function focusFirstError() {
  requestAnimationFrame(() => document.querySelector<HTMLElement>(".error-summary a, [aria-invalid='true']")?.focus());
}

/** Every problem in one list at the top, each a link to its field (as well as the message beside it). */
function ErrorSummary(props: { errors: Errors }) {
  const entries = Object.entries(props.errors);
  if (entries.length === 0) return null;
  return (
    <div class="banner banner--error error-summary" role="alert">
      <p>
        {entries.length} problem{entries.length === 1 ? "" : "s"} to fix before saving:
      </p>
      <ul>
        {entries.map(([path, msg]) => (
          <li key={path}>
            <a
              href={`#f-${path}`}
              onClick={(e) => {
                e.preventDefault();
                const el = document.getElementById(`f-${path}`);
                el?.focus();
              }}
            >
              {pathLabel(path)}
            </a>
            : {msg}
          </li>
        ))}
      </ul>
    </div>
  );
}

function pathLabel(path: string): string {
  const p = path.split(".");
  if (p[0] === "weekly" && p[1]) return `${DAY_LABELS[p[1] as Weekday] ?? p[1]}, event ${Number(p[2]) + 1}${p[3] ? ` ${p[3]}` : ""}`;
  if (p[0] === "exceptions") return `Exception ${Number(p[1]) + 1}${p.length > 2 ? `, ${p.slice(2).map((x) => (/^\d+$/.test(x) ? Number(x) + 1 : x)).join(" ")}` : ""}`;
  return path || "Schedule";
}

/**
 * A labelled text input. A date (`type="date"`) is typed as YYYY-MM-DD — one order for every
 * language, never the browser's mm/dd/yyyy — and said back in words in the hint.
 */
function TextField(props: { id: string; label: string; value: string; error?: string; hint?: string; narrow?: boolean; inputMode?: "numeric" | "text"; type?: "text" | "date"; onInput: (v: string) => void }) {
  const err = `${props.id}-error`;
  const isDate = props.type === "date";
  const hintText = isDate ? (formatCalendarDate(props.value) ?? "YYYY-MM-DD, e.g. 2026-12-24") : props.hint;
  const hint = `${props.id}-hint`;
  return (
    <div class={`field${props.error ? " field--error" : ""}`}>
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="text"
        class={props.narrow || isDate ? "narrow" : undefined}
        inputMode={isDate ? "numeric" : props.inputMode}
        placeholder={isDate ? "YYYY-MM-DD" : undefined}
        maxLength={isDate ? 10 : undefined}
        value={props.value}
        aria-invalid={!!props.error}
        aria-describedby={[props.error ? err : "", hintText ? hint : ""].filter(Boolean).join(" ") || undefined}
        onInput={(e) => props.onInput(e.currentTarget.value)}
      />
      {hintText && <small id={hint} class="hint">{hintText}</small>}
      {props.error && <small id={err} class="error" role="alert">{props.error}</small>}
    </div>
  );
}

/** A schedule value: on/off/release for bool, text for numbers and states ("" releases). */
function ValueControl(props: { id: string; label: string; kind: ScheduleKind; value: string; invalid: boolean; describedBy?: string; onChange: (v: string) => void }) {
  const common = { id: props.id, "aria-label": props.label, "aria-invalid": props.invalid, "aria-describedby": props.describedBy };
  if (props.kind === "bool") {
    return (
      <select {...common} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        <option value="true">On</option>
        <option value="false">Off</option>
        <option value="">Release</option>
      </select>
    );
  }
  return (
    <input
      {...common}
      type="text"
      class="narrow"
      inputMode={props.kind === "number" ? "decimal" : "text"}
      placeholder="release"
      value={props.value}
      onInput={(e) => props.onChange(e.currentTarget.value)}
    />
  );
}

function ValueField(props: { id: string; label: string; kind: ScheduleKind; value: string; error?: string; onChange: (v: string) => void }) {
  return (
    <div class={`field${props.error ? " field--error" : ""}`}>
      <label for={props.id}>{props.label}</label>
      <ValueControl id={props.id} label={props.label} kind={props.kind} value={props.value} invalid={!!props.error} describedBy={props.error ? `${props.id}-error` : undefined} onChange={props.onChange} />
      {props.error && <small id={`${props.id}-error`} class="error" role="alert">{props.error}</small>}
    </div>
  );
}

/** A day's (or an exception's) events: time and value per row, each removable. */
function EventList(props: { label: string; path: string; kind: ScheduleKind; events: EventDraft[]; errors: Errors; onChange: (e: EventDraft[]) => void }) {
  const { events, path, errors } = props;
  if (events.length === 0) return <p class="muted small">No events: the value carries on from before.</p>;
  const set = (i: number, patch: Partial<EventDraft>) => props.onChange(events.map((e, k) => (k === i ? { ...e, ...patch } : e)));
  return (
    <ol class="events">
      {events.map((e, i) => {
        const tErr = errors[`${path}.${i}.time`];
        const vErr = errors[`${path}.${i}.value`];
        const n = `${props.label} event ${i + 1}`;
        return (
          <li key={i} class={tErr || vErr ? "field--error" : ""}>
            <input
              id={`f-${path}.${i}.time`}
              type="text"
              class="time"
              inputMode="numeric"
              placeholder="HH:MM"
              aria-label={`${n} time`}
              value={e.time}
              aria-invalid={!!tErr}
              aria-describedby={tErr ? `f-${path}.${i}.time-error` : undefined}
              onInput={(ev) => set(i, { time: ev.currentTarget.value })}
            />
            <span aria-hidden="true">→</span>
            <ValueControl
              id={`f-${path}.${i}.value`}
              label={`${n} value`}
              kind={props.kind}
              value={e.value}
              invalid={!!vErr}
              describedBy={vErr ? `f-${path}.${i}.value-error` : undefined}
              onChange={(v) => set(i, { value: v })}
            />
            <button type="button" class="btn btn--small" aria-label={`Remove ${n}`} onClick={() => props.onChange(events.filter((_, k) => k !== i))}>
              Remove
            </button>
            {tErr && <small id={`f-${path}.${i}.time-error`} class="error" role="alert">{tErr}</small>}
            {vErr && <small id={`f-${path}.${i}.value-error`} class="error" role="alert">{vErr}</small>}
          </li>
        );
      })}
    </ol>
  );
}

const COPY_TARGETS: { id: string; label: string; days: Weekday[] }[] = [
  { id: "weekdays", label: "Monday to Friday", days: ["monday", "tuesday", "wednesday", "thursday", "friday"] },
  { id: "all", label: "every day", days: [...WEEKDAYS] },
  { id: "weekend", label: "Saturday and Sunday", days: ["saturday", "sunday"] },
];

function CopyDay(props: { day: Weekday; onCopy: (to: Weekday[]) => void }) {
  const [to, setTo] = useState("weekdays");
  const sel = `copy-${props.day}`;
  return (
    <span class="inline copy">
      <label for={sel} class="sr-only">
        Copy {DAY_LABELS[props.day]} to
      </label>
      <select id={sel} value={to} onChange={(e) => setTo(e.currentTarget.value)}>
        {COPY_TARGETS.map((t) => (
          <option key={t.id} value={t.id}>
            {t.label}
          </option>
        ))}
      </select>
      <button type="button" class="btn btn--small" aria-label={`Copy ${DAY_LABELS[props.day]} to the days chosen`} onClick={() => props.onCopy(COPY_TARGETS.find((t) => t.id === to)!.days)}>
        Copy
      </button>
    </span>
  );
}

/** The week at a glance: each day as a 24-hour bar coloured by value (the table below is the accessible form). */
function WeekStrip(props: { draft: ScheduleDraft }) {
  const d = props.draft;
  const nums = WEEKDAYS.flatMap((day) => daySegments(d, day).map((s) => s.value)).filter((v): v is number => typeof v === "number");
  const lo = Math.min(...nums);
  const hi = Math.max(...nums);
  const shade = (v: unknown) => {
    if (v === null) return "var(--border)";
    if (v === true) return "var(--ok)";
    if (v === false) return "var(--offline)";
    if (typeof v === "number") return `color-mix(in srgb, var(--accent) ${hi > lo ? 30 + (70 * (v - lo)) / (hi - lo) : 70}%, transparent)`;
    return "var(--override)";
  };
  return (
    <div class="week-strip" aria-hidden="true">
      {WEEKDAYS.map((day) => (
        <div key={day} class="week-strip__row">
          <span class="week-strip__day">{DAY_LABELS[day].slice(0, 3)}</span>
          <div class="week-strip__bar">
            {daySegments(d, day).map((s) => (
              <span
                key={s.from}
                style={{ left: `${(s.from / 864).toFixed(3)}%`, width: `${((s.to - s.from) / 864).toFixed(3)}%`, background: shade(s.value) }}
                title={`${describeValue(s.value, d.kind)}`}
              />
            ))}
          </div>
        </div>
      ))}
      {d.kind === "bool" && (
        <p class="week-strip__legend small muted">
          <span style={{ background: "var(--ok)" }} /> on <span style={{ background: "var(--offline)" }} /> off <span style={{ background: "var(--border)" }} /> released
        </p>
      )}
      <div class="week-strip__row week-strip__scale">
        <span class="week-strip__day" />
        <div class="week-strip__ticks">
          <span>00</span>
          <span>06</span>
          <span>12</span>
          <span>18</span>
          <span>24</span>
        </div>
      </div>
    </div>
  );
}

const WHEN_KINDS: { id: WhenKind; label: string }[] = [
  { id: "date", label: "A date" },
  { id: "range", label: "A range of dates" },
  { id: "calendar", label: "The days of a calendar" },
];

function ExceptionEditor(props: {
  index: number;
  x: ExceptionDraft;
  kind: ScheduleKind;
  calendars: { id: string; name: string }[];
  errors: Errors;
  onChange: (x: ExceptionDraft) => void;
  onRemove: () => void;
}) {
  const { x, index: j, errors } = props;
  const base = `exceptions.${j}`;
  const label = `Exception ${j + 1}`;
  const set = (patch: Partial<ExceptionDraft>) => props.onChange({ ...x, ...patch });
  const whenErr = errors[`${base}.when`];
  return (
    <fieldset class="exception">
      <legend>
        {label}: {x.name || "unnamed"}
      </legend>
      <div class="row">
        <TextField id={`f-${base}.name`} label="Name" value={x.name} error={errors[`${base}.name`]} onInput={(v) => set({ name: v })} />
        <div class="field">
          <label for={`f-${base}.kind`}>When</label>
          <select id={`f-${base}.kind`} value={x.kind} onChange={(e) => set({ kind: e.currentTarget.value as WhenKind })}>
            {WHEN_KINDS.map((k) => (
              <option key={k.id} value={k.id}>
                {k.label}
              </option>
            ))}
            {x.kind === "recurring" && <option value="recurring">Every year (kept as it is)</option>}
          </select>
        </div>
        {x.kind === "date" && <TextField id={`f-${base}.when.date`} type="date" label="Date" value={x.date} error={errors[`${base}.when.date`] ?? whenErr} onInput={(v) => set({ date: v })} />}
        {x.kind === "range" && (
          <>
            <TextField id={`f-${base}.when.start`} type="date" label="From" value={x.start} error={errors[`${base}.when.start`] ?? whenErr} onInput={(v) => set({ start: v })} />
            <TextField id={`f-${base}.when.end`} type="date" label="To (included)" value={x.end} error={errors[`${base}.when.end`]} onInput={(v) => set({ end: v })} />
          </>
        )}
        {x.kind === "calendar" && (
          <div class={`field${errors[`${base}.when.calendar`] || whenErr ? " field--error" : ""}`}>
            <label for={`f-${base}.when.calendar`}>Calendar</label>
            <select id={`f-${base}.when.calendar`} value={x.calendar} aria-invalid={!!(errors[`${base}.when.calendar`] || whenErr)} aria-describedby={errors[`${base}.when.calendar`] || whenErr ? `f-${base}.when.calendar-error` : undefined} onChange={(e) => set({ calendar: e.currentTarget.value })}>
              <option value="">Choose…</option>
              {props.calendars.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name || c.id}
                </option>
              ))}
            </select>
            {(errors[`${base}.when.calendar`] || whenErr) && (
              <small id={`f-${base}.when.calendar-error`} class="error" role="alert">
                {errors[`${base}.when.calendar`] ?? whenErr}
              </small>
            )}
          </div>
        )}
        {x.kind === "recurring" && x.kept && <p class="muted">{describeWhen(x.kept)}</p>}
        <TextField id={`f-${base}.precedence`} label="Precedence" narrow inputMode="numeric" value={x.precedence} error={errors[`${base}.precedence`]} hint="lower wins" onInput={(v) => set({ precedence: v })} />
      </div>
      {x.kind === "range" && x.kept && "weekdays" in x.kept && x.kept.weekdays?.length ? <p class="muted small">Only on {x.kept.weekdays.join(", ")}.</p> : null}
      <EventList label={label} path={`${base}.events`} kind={props.kind} events={x.events} errors={errors} onChange={(events) => set({ events })} />
      <div class="actions actions--left">
        <button type="button" class="btn btn--small" aria-label={`Add an event to ${label}`} onClick={() => set({ events: addEvent(x.events, props.kind) })}>
          Add event
        </button>
        <button type="button" class="btn btn--small" aria-label={`Remove ${label} (${x.name})`} onClick={props.onRemove}>
          Remove exception
        </button>
      </div>
    </fieldset>
  );
}

/**
 * What the saved schedule does tomorrow (the server's tomorrow, in the
 * schedule's time zone) and over the next 48 hours. Reloads after each save.
 */
function Preview(props: { site: string; id: string; kind: ScheduleKind; version: number; onNow: (t: number) => void; target?: PointSummary | undefined }) {
  const { api } = useApp();
  const data = useLoad(async () => {
    const next = await endpoints.transitions(api, props.site, props.id);
    props.onNow(next.since);
    const start = localMidnight(next.since, next.timezone, 1);
    const end = localMidnight(next.since, next.timezone, 2);
    const tomorrow = await endpoints.transitions(api, props.site, props.id, { since: start, until: end });
    return { next, tomorrow };
  }, [api, props.site, props.id, props.version]);
  const k = props.kind;
  return (
    <aside class="card preview" aria-labelledby="preview-title" aria-busy={data.loading}>
      <h2 id="preview-title">What happens tomorrow</h2>
      <LoadState {...data} />
      {data.data && (
        <>
          <p>
            <strong>{localDayLabel(data.data.tomorrow.since, data.data.tomorrow.timezone)}</strong> <span class="muted small">({data.data.tomorrow.timezone})</span>
          </p>
          <TransitionList t={data.data.tomorrow} kind={k} label="Tomorrow's changes" startLabel="At midnight" target={props.target} />
          <h3>Next 48 hours</h3>
          <TransitionList t={data.data.next} kind={k} label="Changes in the next 48 hours" startLabel="Now" withDay target={props.target} />
        </>
      )}
    </aside>
  );
}

function source(s: string): string {
  return s.startsWith("exception:") ? `exception “${s.slice(10)}”` : s;
}

function TransitionList(props: { t: Transitions; kind: ScheduleKind; label: string; startLabel: string; withDay?: boolean; target?: PointSummary | undefined }) {
  const { t } = props;
  const row = (x: Transition) => (
    <li key={x.ts}>
      <time dateTime={new Date(x.ts * 1000).toISOString()}>
        {props.withDay ? `${localDayLabel(x.ts, t.timezone).split(" ")[0]} ` : ""}
        {localClock(x.local)}
      </time>{" "}
      → <strong>{scheduleValueWords(x.value, props.kind, props.target)}</strong> <span class="muted small">({source(x.source)})</span>
    </li>
  );
  return (
    <>
      <p class="small">
        {props.startLabel}: <strong>{scheduleValueWords(t.initial.value, props.kind, props.target)}</strong> <span class="muted">({source(t.initial.source)})</span>
      </p>
      {t.transitions.length === 0 ? (
        <p class="muted small">No change.</p>
      ) : (
        <ul class="transitions" aria-label={props.label}>
          {t.transitions.map(row)}
        </ul>
      )}
    </>
  );
}
