/**
 * The schedule editor's model, free of the DOM so that it is unit tested: a
 * schedule from the API becomes a *draft* of text fields (what the inputs
 * hold), is checked field by field with the API's field paths
 * ("weekly.monday.0.time"), compared with the saved one, and turned back into
 * the PUT body with each day's events in time order.
 */
import type { Value } from "../api/types";

export const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] as const;
export type Weekday = (typeof WEEKDAYS)[number];
export type ScheduleKind = "number" | "bool" | "enum";

export interface ScheduleEvent {
  time: string;
  value: Value;
}

/** A date rule or a calendar reference, as the API answers it. */
export type When =
  | { date: string }
  | { start: string; end: string; weekdays?: string[] }
  | { calendar: string }
  | { holidays: string }
  | { month?: number | null; day?: number | null; weekday?: string | null; nth?: number | null };

export interface ScheduleException {
  name: string;
  when: When;
  events: ScheduleEvent[];
  precedence: number;
}

export interface Schedule {
  id: string;
  site: string;
  name: string;
  timezone: string | null;
  kind: ScheduleKind;
  default: Value;
  priority: number;
  targets: string[];
  weekly: Partial<Record<Weekday, ScheduleEvent[]>>;
  exceptions: ScheduleException[];
}

/** One event row as typed: the value is text ("" releases). */
export interface EventDraft {
  time: string;
  value: string;
}

export type WhenKind = "date" | "range" | "calendar" | "recurring";

export interface ExceptionDraft {
  name: string;
  kind: WhenKind;
  date: string;
  start: string;
  end: string;
  calendar: string;
  /** A recurring rule (or a range's weekdays) is kept as it came: the editor does not change it. */
  kept: When | null;
  precedence: string;
  events: EventDraft[];
}

export interface ScheduleDraft {
  name: string;
  kind: ScheduleKind;
  default: string;
  priority: string;
  targets: string;
  weekly: Record<Weekday, EventDraft[]>;
  exceptions: ExceptionDraft[];
}

export const DAY_LABELS: Record<Weekday, string> = {
  monday: "Monday",
  tuesday: "Tuesday",
  wednesday: "Wednesday",
  thursday: "Thursday",
  friday: "Friday",
  saturday: "Saturday",
  sunday: "Sunday",
};

// ------------------------------------------------------------------ times and values

const TIME = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/;

/** Seconds after midnight of "07:00" / "7:00" / "07:00:30"; null when it is not a time of day. */
export function timeSeconds(text: string): number | null {
  const m = TIME.exec(text.trim());
  if (!m) return null;
  const [h, min, s] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  if (h > 23 || min > 59 || s > 59) return null;
  return h * 3600 + min * 60 + s;
}

/** "7:5" stays invalid; "7:05" → "07:05"; seconds only when not zero. */
export function normalizeTime(text: string): string | null {
  const s = timeSeconds(text);
  if (s === null) return null;
  const pad = (n: number) => String(n).padStart(2, "0");
  const hm = `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}`;
  return s % 60 ? `${hm}:${pad(s % 60)}` : hm;
}

/** A value as the inputs hold it: true/false for bool, "" for release. */
export function valueText(value: Value): string {
  if (value === null || value === undefined) return "";
  return String(value);
}

/** The typed value of an input, or what is wrong with it. */
export function parseValue(kind: ScheduleKind, text: string): { value: Value } | { error: string } {
  const t = text.trim();
  if (t === "") return { value: null };
  if (kind === "bool") {
    if (t === "true" || t === "on") return { value: true };
    if (t === "false" || t === "off") return { value: false };
    return { error: "Choose on, off or release." };
  }
  if (kind === "number") {
    const n = Number(t.replace(",", "."));
    return Number.isFinite(n) ? { value: n } : { error: "Enter a number, or leave empty to release." };
  }
  // enum: a state number or its label
  return /^\d+$/.test(t) ? { value: Number(t) } : { value: t };
}

/** A schedule value in words: On/Off, a number, a state, or "release". */
export function describeValue(value: Value, kind?: ScheduleKind): string {
  if (value === null || value === undefined) return "release";
  if (kind === "bool" || typeof value === "boolean") return value === true || value === "true" ? "on" : "off";
  return String(value);
}

/** Events in time order; of equal times the one listed last stays last (it wins). */
export function sortEvents<T extends { time: string }>(events: readonly T[]): T[] {
  return events
    .map((e, i) => ({ e, i, s: timeSeconds(e.time) ?? Number.MAX_SAFE_INTEGER }))
    .sort((a, b) => a.s - b.s || a.i - b.i)
    .map((x) => x.e);
}

// ------------------------------------------------------------------ schedule ⇄ draft

function eventDrafts(events: readonly ScheduleEvent[] | undefined): EventDraft[] {
  return (events ?? []).map((e) => ({ time: e.time, value: valueText(e.value) }));
}

function whenDraft(when: When): Pick<ExceptionDraft, "kind" | "date" | "start" | "end" | "calendar" | "kept"> {
  const blank = { date: "", start: "", end: "", calendar: "", kept: null };
  if ("calendar" in when) return { ...blank, kind: "calendar", calendar: when.calendar };
  if ("date" in when) return { ...blank, kind: "date", date: when.date };
  if ("start" in when) {
    const weekdays = when.weekdays ?? [];
    return { ...blank, kind: "range", start: when.start, end: when.end, kept: weekdays.length ? when : null };
  }
  return { ...blank, kind: "recurring", kept: when };
}

export function toDraft(s: Schedule): ScheduleDraft {
  const weekly = Object.fromEntries(WEEKDAYS.map((d) => [d, eventDrafts(s.weekly?.[d])])) as Record<Weekday, EventDraft[]>;
  return {
    name: s.name ?? "",
    kind: s.kind,
    default: valueText(s.default),
    priority: String(s.priority ?? 12),
    targets: (s.targets ?? []).join("\n"),
    weekly,
    exceptions: (s.exceptions ?? []).map((x) => ({
      name: x.name,
      ...whenDraft(x.when),
      precedence: String(x.precedence ?? 10),
      events: eventDrafts(x.events),
    })),
  };
}

/** The draft with every day's events in time order and times written "07:00" (what Save sends). */
export function normalizeDraft(d: ScheduleDraft): ScheduleDraft {
  const fix = (events: EventDraft[]) =>
    sortEvents(events).map((e) => ({ ...e, time: normalizeTime(e.time) ?? e.time.trim() }));
  return {
    ...d,
    weekly: Object.fromEntries(WEEKDAYS.map((day) => [day, fix(d.weekly[day])])) as Record<Weekday, EventDraft[]>,
    exceptions: d.exceptions.map((x) => ({ ...x, events: fix(x.events) })),
  };
}

function whenOf(x: ExceptionDraft): When {
  switch (x.kind) {
    case "date":
      return { date: x.date };
    case "range":
      return x.kept && "start" in x.kept ? { ...x.kept, start: x.start, end: x.end } : { start: x.start, end: x.end };
    case "calendar":
      return { calendar: x.calendar };
    case "recurring":
      return x.kept ?? {};
  }
}

function eventsOf(kind: ScheduleKind, events: EventDraft[]): ScheduleEvent[] {
  return sortEvents(events).map((e) => {
    const v = parseValue(kind, e.value);
    return { time: normalizeTime(e.time) ?? e.time.trim(), value: "value" in v ? v.value : e.value };
  });
}

/** The PUT body of a draft (call `validate` first: invalid text is sent as typed, for the server to name). */
export function toBody(d: ScheduleDraft): Omit<Schedule, "id" | "site" | "timezone"> {
  const def = parseValue(d.kind, d.default);
  const weekly: Partial<Record<Weekday, ScheduleEvent[]>> = {};
  for (const day of WEEKDAYS) weekly[day] = eventsOf(d.kind, d.weekly[day]);
  return {
    name: d.name.trim(),
    kind: d.kind,
    default: "value" in def ? def.value : d.default,
    priority: Number(d.priority),
    targets: d.targets.split(/[\s,]+/).filter(Boolean),
    weekly,
    exceptions: d.exceptions.map((x) => ({
      name: x.name.trim(),
      when: whenOf(x),
      events: eventsOf(d.kind, x.events),
      precedence: Number(x.precedence),
    })),
  };
}

// ------------------------------------------------------------------ validation

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

function validDate(text: string): boolean {
  if (!ISO_DATE.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}

/**
 * What is wrong with a draft, by the API's field path (as problem+json names
 * them: "weekly.monday.0.time", "exceptions.1.when.end"), so that the editor
 * shows client and server messages in the same place. Paths index the
 * draft's rows as they are; Save sorts the rows first, so the server's
 * indices match the rows shown.
 */
export function validate(d: ScheduleDraft, calendars: readonly string[] = []): Record<string, string> {
  const errors: Record<string, string> = {};
  const checkEvents = (path: string, events: EventDraft[]) => {
    events.forEach((e, i) => {
      if (timeSeconds(e.time) === null) errors[`${path}.${i}.time`] = "Enter a time from 00:00 to 23:59, as HH:MM.";
      const v = parseValue(d.kind, e.value);
      if ("error" in v) errors[`${path}.${i}.value`] = v.error;
    });
  };
  const def = parseValue(d.kind, d.default);
  if ("error" in def) errors.default = def.error;
  const p = Number(d.priority);
  if (!Number.isInteger(p) || p < 1 || p > 16) errors.priority = "Enter a priority from 1 (highest) to 16.";
  for (const day of WEEKDAYS) checkEvents(`weekly.${day}`, d.weekly[day]);
  const names = new Map<string, number>();
  d.exceptions.forEach((x, j) => {
    const base = `exceptions.${j}`;
    const name = x.name.trim();
    if (!name) errors[`${base}.name`] = "Give the exception a name.";
    else if (names.has(name)) errors[`${base}.name`] = `Another exception is already called “${name}”.`;
    names.set(name, j);
    const prec = Number(x.precedence);
    if (x.precedence.trim() === "" || !Number.isInteger(prec)) errors[`${base}.precedence`] = "Enter a whole number (lower wins).";
    if (x.kind === "date" && !validDate(x.date)) errors[`${base}.when.date`] = "Enter a date, as YYYY-MM-DD.";
    if (x.kind === "range") {
      if (!validDate(x.start)) errors[`${base}.when.start`] = "Enter the first day, as YYYY-MM-DD.";
      if (!validDate(x.end)) errors[`${base}.when.end`] = "Enter the last day, as YYYY-MM-DD.";
      else if (validDate(x.start) && x.end < x.start) errors[`${base}.when.end`] = "The range ends before it starts.";
    }
    if (x.kind === "calendar" && !x.calendar) errors[`${base}.when.calendar`] = "Choose a calendar.";
    else if (x.kind === "calendar" && calendars.length && !calendars.includes(x.calendar))
      errors[`${base}.when.calendar`] = `There is no calendar “${x.calendar}” on this site.`;
    checkEvents(`${base}.events`, x.events);
  });
  return errors;
}

/**
 * Server field paths of a PUT answer → the draft's paths. The server reads
 * `when` as one rule, so it names "exceptions.0.when.date" or, for a rule it
 * could not place, "exceptions.0.when": both are shown at the exception's date.
 */
export function serverFieldErrors(fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path, msg] of Object.entries(fields)) {
    // pydantic names the union member tried: exceptions.0.when.function-before[…].date → …when.date
    const clean = path
      .replace(/\.function-[^.]*\[[^\]]*\]/g, "")
      .replace(/\.(DateRule|RangeRule|RecurringRule|CalendarRef)/g, "")
      // The targets are one text box: a problem of one target is shown there.
      .replace(/^targets\.\d+$/, "targets");
    out[clean] = out[clean] ? `${out[clean]} ${msg}` : msg;
  }
  return out;
}

// ------------------------------------------------------------------ editing

export function addEvent(events: EventDraft[], kind: ScheduleKind): EventDraft[] {
  const last = events.length ? timeSeconds(events[events.length - 1]!.time) : null;
  const next = last === null ? 8 * 3600 : Math.min(last + 3600, 23 * 3600);
  const time = normalizeTime(`${Math.floor(next / 3600)}:${String(Math.floor((next % 3600) / 60)).padStart(2, "0")}`)!;
  return [...events, { time, value: kind === "bool" ? "true" : "" }];
}

/** Copy one day's events to other days (each gets its own copy). */
export function copyDay(weekly: Record<Weekday, EventDraft[]>, from: Weekday, to: readonly Weekday[]): Record<Weekday, EventDraft[]> {
  const out = { ...weekly };
  for (const day of to) if (day !== from) out[day] = weekly[from].map((e) => ({ ...e }));
  return out;
}

export function newException(kind: ScheduleKind, date: string, taken: readonly string[]): ExceptionDraft {
  let name = "special day";
  for (let n = 2; taken.includes(name); n++) name = `special day ${n}`;
  return {
    name,
    kind: "date",
    date,
    start: date,
    end: date,
    calendar: "",
    kept: null,
    precedence: "10",
    events: [{ time: "00:00", value: kind === "bool" ? "false" : "" }],
  };
}

// ------------------------------------------------------------------ comparing

function eventsText(kind: ScheduleKind, events: EventDraft[]): string {
  return eventsOf(kind, events)
    .map((e) => `${e.time} ${describeValue(e.value, kind)}`)
    .join(", ") || "no events";
}

/** The unsaved changes in words, one line each ("Monday: 07:00 on, 19:00 off → 06:00 on, 19:00 off"). */
export function diff(saved: ScheduleDraft, draft: ScheduleDraft): string[] {
  const out: string[] = [];
  const kind = draft.kind;
  if (saved.name.trim() !== draft.name.trim()) out.push(`Name: “${saved.name}” → “${draft.name}”`);
  const same = (a: string, b: string) => {
    const x = parseValue(kind, a);
    const y = parseValue(kind, b);
    return "value" in x && "value" in y ? x.value === y.value : a.trim() === b.trim();
  };
  if (!same(saved.default, draft.default)) out.push(`Default: ${describeValue(toBody(saved).default, kind)} → ${describeValue(toBody(draft).default, kind)}`);
  if (saved.priority.trim() !== draft.priority.trim()) out.push(`Priority: ${saved.priority} → ${draft.priority}`);
  if (saved.targets.split(/[\s,]+/).filter(Boolean).join() !== draft.targets.split(/[\s,]+/).filter(Boolean).join()) out.push("Targets changed");
  for (const day of WEEKDAYS) {
    const a = eventsText(kind, saved.weekly[day]);
    const b = eventsText(kind, draft.weekly[day]);
    if (a !== b) out.push(`${DAY_LABELS[day]}: ${a} → ${b}`);
  }
  const key = (x: ExceptionDraft) => JSON.stringify([whenOf(x), x.precedence.trim(), eventsText(kind, x.events)]);
  const before = new Map(saved.exceptions.map((x) => [x.name.trim(), x]));
  const after = new Map(draft.exceptions.map((x) => [x.name.trim(), x]));
  for (const [name, x] of after) {
    const old = before.get(name);
    if (!old) out.push(`Exception “${name}” added (${describeWhen(whenOf(x))})`);
    else if (key(old) !== key(x)) out.push(`Exception “${name}” changed`);
  }
  for (const name of before.keys()) if (!after.has(name)) out.push(`Exception “${name}” removed`);
  return out;
}

// ------------------------------------------------------------------ reading

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const NTH: Record<string, string> = { "1": "first", "2": "second", "3": "third", "4": "fourth", "5": "fifth", "-1": "last" };

/** A date rule in words: "2026-12-25", "2026-12-24 to 2027-01-01", "calendar uk-holidays", "the last Monday of May". */
export function describeWhen(when: When): string {
  if ("calendar" in when) return `the days of calendar ${when.calendar}`;
  if ("holidays" in when) return `the public holidays of ${when.holidays}`;
  if ("date" in when) return when.date;
  if ("start" in when) {
    const days = when.weekdays?.length ? ` (${when.weekdays.join(", ")} only)` : "";
    return `${when.start} to ${when.end}${days}`;
  }
  const month = when.month ? MONTHS[when.month - 1] : "every month";
  if (when.day) return when.month ? `${when.day} ${month} every year` : `day ${when.day} of every month`;
  const wd = when.weekday ? when.weekday.charAt(0).toUpperCase() + when.weekday.slice(1) : "day";
  const of = when.month ? `of ${month}` : "of every month";
  return when.nth ? `the ${NTH[String(when.nth)] ?? when.nth} ${wd} ${of}` : `every ${wd} ${of}`;
}

/** One day's value over time, for the week strip: [from s, to s, value] with the value carried over from earlier days. */
export function daySegments(d: ScheduleDraft, day: Weekday): { from: number; to: number; value: Value }[] {
  const kind = d.kind;
  const typed = (e: EventDraft): Value => {
    const v = parseValue(kind, e.value);
    return "value" in v ? v.value : null;
  };
  const valid = (events: EventDraft[]) => sortEvents(events).filter((e) => timeSeconds(e.time) !== null);
  const def = parseValue(kind, d.default);
  let carried: Value = "value" in def ? def.value : null;
  const idx = WEEKDAYS.indexOf(day);
  for (let back = 1; back <= 7; back++) {
    const earlier = valid(d.weekly[WEEKDAYS[(idx - back + 7) % 7]!]);
    if (earlier.length) {
      carried = typed(earlier[earlier.length - 1]!);
      break;
    }
  }
  const out: { from: number; to: number; value: Value }[] = [];
  let from = 0;
  let value = carried;
  for (const e of valid(d.weekly[day])) {
    const at = timeSeconds(e.time)!;
    if (at > from) out.push({ from, to: at, value });
    from = Math.max(from, at);
    value = typed(e);
  }
  out.push({ from, to: 86400, value });
  return out.filter((s) => s.to > s.from);
}

// ------------------------------------------------------------------ days in a time zone

function parts(epochMs: number, tz: string): { y: number; m: number; d: number; h: number; min: number; s: number } {
  const f = new Intl.DateTimeFormat("en-GB", {
    timeZone: tz,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  const p = Object.fromEntries(f.formatToParts(new Date(epochMs)).map((x) => [x.type, x.value]));
  return { y: +p.year!, m: +p.month!, d: +p.day!, h: +p.hour!, min: +p.minute!, s: +p.second! };
}

/** The UTC offset of `tz` at an instant, in ms (positive east of Greenwich). */
function offsetMs(epochMs: number, tz: string): number {
  const p = parts(epochMs, tz);
  return Date.UTC(p.y, p.m - 1, p.d, p.h, p.min, p.s) - Math.floor(epochMs / 1000) * 1000;
}

/** Midnight in `tz` of the local day `days` after the one holding `epochS` (epoch seconds). */
export function localMidnight(epochS: number, tz: string, days = 0): number {
  const p = parts(epochS * 1000, tz);
  const wall = Date.UTC(p.y, p.m - 1, p.d + days);
  // Two passes settle the offset across a daylight-saving change.
  let t = wall - offsetMs(wall, tz);
  t = wall - offsetMs(t, tz);
  return t / 1000;
}

/** "Tuesday 2 June" of an instant in `tz`. */
export function localDayLabel(epochS: number, tz: string): string {
  return new Intl.DateTimeFormat("en-GB", { timeZone: tz, weekday: "long", day: "numeric", month: "long" }).format(new Date(epochS * 1000));
}

/** "07:00" of an ISO local time as the API writes it ("2026-06-02T07:00:00+01:00"). */
export function localClock(iso: string): string {
  const m = /T(\d{2}:\d{2})(:\d{2})?/.exec(iso);
  if (!m) return iso;
  return m[2] && m[2] !== ":00" ? `${m[1]}${m[2]}` : m[1]!;
}

/** The YYYY-MM-DD of an instant in `tz`. */
export function localDate(epochS: number, tz: string): string {
  const p = parts(epochS * 1000, tz);
  return `${p.y}-${String(p.m).padStart(2, "0")}-${String(p.d).padStart(2, "0")}`;
}

// ------------------------------------------------------------------ calendars

/** The kinds of calendar entry the editor writes; "kept" is a rule it shows in words and keeps as it came. */
export type CalendarEntryKind = "date" | "range" | "yearly" | "holidays" | "kept";

export const CALENDAR_ENTRY_KINDS: { id: Exclude<CalendarEntryKind, "kept">; label: string }[] = [
  { id: "date", label: "A date" },
  { id: "range", label: "A range of dates" },
  { id: "yearly", label: "The same day every year" },
  { id: "holidays", label: "A country's public holidays" },
];

/** One calendar entry as typed: a date, a range, a month-day ("12-25") or a holidays code ("GB-ENG"). */
export interface CalendarEntryDraft {
  kind: CalendarEntryKind;
  date: string;
  start: string;
  end: string;
  /** "MM-DD" of a yearly day. */
  monthDay: string;
  holidays: string;
  kept: When | null;
}

export interface CalendarDraft {
  name: string;
  entries: CalendarEntryDraft[];
}

const BLANK_ENTRY: CalendarEntryDraft = { kind: "date", date: "", start: "", end: "", monthDay: "", holidays: "", kept: null };

/** An empty entry of a kind (a new row of the calendar editor). */
export function newCalendarEntry(kind: Exclude<CalendarEntryKind, "kept">, date = ""): CalendarEntryDraft {
  return { ...BLANK_ENTRY, kind, date: kind === "date" ? date : "", start: kind === "range" ? date : "", end: kind === "range" ? date : "" };
}

function entryDraft(when: When): CalendarEntryDraft {
  if ("date" in when) return { ...BLANK_ENTRY, kind: "date", date: when.date };
  if ("start" in when && !when.weekdays?.length) return { ...BLANK_ENTRY, kind: "range", start: when.start, end: when.end };
  if ("holidays" in when) return { ...BLANK_ENTRY, kind: "holidays", holidays: when.holidays };
  if ("month" in when && when.month && when.day && !when.weekday && !when.nth) {
    const p = (n: number) => String(n).padStart(2, "0");
    return { ...BLANK_ENTRY, kind: "yearly", monthDay: `${p(when.month)}-${p(when.day)}` };
  }
  return { ...BLANK_ENTRY, kind: "kept", kept: when };
}

/** A calendar as the editor holds it. */
export function toCalendarDraft(c: { name: string; entries: readonly When[] }): CalendarDraft {
  return { name: c.name, entries: c.entries.map(entryDraft) };
}

const MONTH_DAY = /^(\d{1,2})-(\d{1,2})$/;
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function monthDay(text: string): { month: number; day: number } | null {
  const m = MONTH_DAY.exec(text.trim());
  if (!m) return null;
  const month = Number(m[1]);
  const day = Number(m[2]);
  return month >= 1 && month <= 12 && day >= 1 && day <= DAYS_IN_MONTH[month - 1]! ? { month, day } : null;
}

/** Problems of a calendar draft by field (`name`, `entries.0.date`, `entries.1.end` …); empty when it can be saved. */
export function validateCalendar(d: CalendarDraft): Record<string, string> {
  const errors: Record<string, string> = {};
  d.entries.forEach((x, i) => {
    const base = `entries.${i}`;
    if (x.kind === "date" && !validDate(x.date)) errors[`${base}.date`] = "Enter a date, as YYYY-MM-DD.";
    if (x.kind === "range") {
      if (!validDate(x.start)) errors[`${base}.start`] = "Enter the first day, as YYYY-MM-DD.";
      if (!validDate(x.end)) errors[`${base}.end`] = "Enter the last day, as YYYY-MM-DD.";
      else if (validDate(x.start) && x.end < x.start) errors[`${base}.end`] = "The range ends before it starts.";
    }
    if (x.kind === "yearly" && !monthDay(x.monthDay)) errors[`${base}.month`] = "Enter a month and day, as MM-DD (12-25).";
    if (x.kind === "holidays" && !x.holidays.trim()) errors[`${base}.holidays`] = "Enter a country (or region) code, such as GB-ENG.";
  });
  return errors;
}

/** The PUT body of a calendar (`{name, entries}`), from a draft that validates. */
export function calendarBody(d: CalendarDraft): { name: string; entries: When[] } {
  const entries = d.entries.map((x): When => {
    switch (x.kind) {
      case "date":
        return { date: x.date };
      case "range":
        return { start: x.start, end: x.end };
      case "yearly": {
        const md = monthDay(x.monthDay)!;
        return { month: md.month, day: md.day };
      }
      case "holidays":
        return { holidays: x.holidays.trim() };
      case "kept":
        return x.kept!;
    }
  });
  return { name: d.name.trim(), entries };
}

/**
 * A calendar PUT's field errors → the editor's fields: the server names the rule
 * it tried (`entries.0.function-before[…].RangeRule.end`); a yearly day's `month`
 * or `day` is one box, shown at `month`; a rule it could not place at the entry's first box.
 */
export function calendarFieldErrors(fields: Record<string, string>, d: CalendarDraft): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path, msg] of Object.entries(serverFieldErrors(fields))) {
    let key = path.replace(/\.HolidaysRule/g, "").replace(/^(entries\.\d+)\.day$/, "$1.month");
    const whole = /^entries\.(\d+)$/.exec(key);
    if (whole) {
      const x = d.entries[Number(whole[1])];
      const first = x ? ({ date: "date", range: "start", yearly: "month", holidays: "holidays", kept: "kept" } as const)[x.kind] : "date";
      key = `${key}.${first}`;
    }
    out[key] = out[key] ? `${out[key]} ${msg}` : msg;
  }
  return out;
}
