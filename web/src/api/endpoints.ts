/**
 * Every REST endpoint the dashboard calls, in one place, so that checking the
 * dashboard against the API means reading this file.
 */
import type { ApiClient, Query } from "./client";
import type {
  Alarm,
  AlarmEvent,
  Command,
  Energy,
  Equipment,
  History,
  Me,
  Page,
  PointDetail,
  PointSummary,
  PriorityArray,
  Site,
  Value,
} from "./types";
import type { Schedule } from "../lib/schedule";
import type { CalendarInfo, ScheduleView, Transitions } from "./types";
import type { AuditEntry, ProgramDetail, ProgramSummary, ProgramVersion, TokenOut, UserOut } from "./types";

const V1 = "/api/v1";
const enc = encodeURIComponent;
const site = (s: string) => `${V1}/sites/${enc(s)}`;
const point = (s: string, equip: string, name: string) => `${site(s)}/points/${enc(equip)}/${enc(name)}`;

/** Every page of a cursor-paginated list (bounded, for lists the dashboard shows whole). */
export async function all<T>(
  api: ApiClient,
  path: string,
  query: Query = {},
  maxPages = 20,
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < maxPages; i++) {
    const page: Page<T> = await api.get<Page<T>>(path, { ...query, limit: 1000, cursor });
    out.push(...page.items);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return out;
}

export const endpoints = {
  me: (api: ApiClient) => api.get<Me>(`${V1}/auth/me`),
  sites: (api: ApiClient) => all<Site>(api, `${V1}/sites`),
  site: (api: ApiClient, s: string) => api.get<Site>(site(s)),
  equipment: (api: ApiClient, s: string) => all<Equipment>(api, `${site(s)}/equipment`),
  equipmentItem: (api: ApiClient, s: string, equip: string) => api.get<Equipment>(`${site(s)}/equipment/${enc(equip)}`),
  points: (api: ApiClient, s: string, filter: { equipment?: string; tag?: string; q?: string } = {}) =>
    all<PointSummary>(api, `${site(s)}/points`, filter),
  point: (api: ApiClient, s: string, equip: string, name: string) =>
    api.get<PointDetail>(point(s, equip, name)),
  priorityArray: (api: ApiClient, s: string, equip: string, name: string) =>
    api.get<PriorityArray>(`${point(s, equip, name)}/priority-array`),
  command: (
    api: ApiClient,
    s: string,
    equip: string,
    name: string,
    body: { value: Value; priority?: number; duration_s?: number; reason: string },
  ) => api.post<Command>(`${point(s, equip, name)}/commands`, body),
  release: (api: ApiClient, s: string, equip: string, name: string, body: { priority?: number; reason: string }) =>
    api.post<Command>(`${point(s, equip, name)}/release`, body),
  commandStatus: (api: ApiClient, s: string, id: string) => api.get<Command>(`${site(s)}/commands/${enc(id)}`),
  /** The site's newest commands (one page), newest first. */
  commands: (api: ApiClient, s: string, limit = 100) => api.get<Page<Command>>(`${site(s)}/commands`, { limit }),
  history: (
    api: ApiClient,
    s: string,
    q: { points: string[]; since: number; until: number; rollup: "raw" | "hour" | "day" },
    signal?: AbortSignal,
  ) =>
    api.get<History>(
      `${site(s)}/history`,
      { points: q.points, since: q.since.toFixed(3), until: q.until.toFixed(3), rollup: q.rollup },
      signal,
    ),
  /**
   * Energy of the site's meters (all of them, site meters first, unless `points` names some) per
   * hour or per local day of the site: the last `count` buckets up to now, computed by the server.
   */
  energy: (api: ApiClient, s: string, q: { bucket: "hour" | "day"; count: number; points?: string[] }) =>
    api.get<Energy>(`${site(s)}/energy`, { bucket: q.bucket, count: q.count, points: q.points }),
  /** The CSV download URL's path and query (fetched with the token, then saved). */
  historyCsv: (api: ApiClient, s: string, q: { points: string[]; since: number; until: number; rollup: string }) =>
    api.request<Response>("GET", `${site(s)}/history`, {
      query: { points: q.points, since: q.since.toFixed(0), until: q.until.toFixed(0), rollup: q.rollup, format: "csv" },
      raw: true,
    }),
  alarms: (api: ApiClient, s: string, filter: Query = {}) => all<Alarm>(api, `${site(s)}/alarms`, filter),
  /** The newest alarm events (one page). */
  alarmEvents: (api: ApiClient, s: string, limit = 200) => api.get<Page<AlarmEvent>>(`${site(s)}/alarms/history`, { limit }),
  ackMany: (api: ApiClient, s: string, ids: string[], note?: string) =>
    api.post<{ results: { id: string; acknowledged: boolean; error: string | null }[] }>(`${site(s)}/alarms/ack`, {
      ids,
      ...(note ? { note } : {}),
    }),
  ack: (api: ApiClient, s: string, id: string, note?: string) =>
    api.post<Alarm>(`${site(s)}/alarms/${enc(id)}/ack`, note ? { note } : {}),
  note: (api: ApiClient, s: string, id: string, note: string) =>
    api.post<Alarm>(`${site(s)}/alarms/${enc(id)}/notes`, { note }),
  shelve: (api: ApiClient, s: string, id: string, duration_s: number, reason: string) =>
    api.post<Alarm>(`${site(s)}/alarms/${enc(id)}/shelve`, { duration_s, reason }),
  unshelve: (api: ApiClient, s: string, id: string) => api.post<Alarm>(`${site(s)}/alarms/${enc(id)}/unshelve`, {}),
  schedules: (api: ApiClient, s: string) => all<ScheduleView>(api, `${site(s)}/schedules`),
  schedule: (api: ApiClient, s: string, id: string) => api.get<ScheduleView>(`${site(s)}/schedules/${enc(id)}`),
  /** Without a window: the next 48 hours from the server's clock (`since` tells its time). */
  transitions: (api: ApiClient, s: string, id: string, window: { since?: number; until?: number } = {}) =>
    api.get<Transitions>(`${site(s)}/schedules/${enc(id)}/transitions`, {
      since: window.since?.toFixed(0),
      until: window.until?.toFixed(0),
    }),
  putSchedule: (api: ApiClient, s: string, id: string, body: Omit<Schedule, "id" | "site">) =>
    api.request<ScheduleView>("PUT", `${site(s)}/schedules/${enc(id)}`, { body }),
  calendars: (api: ApiClient, s: string) => all<CalendarInfo>(api, `${site(s)}/calendars`),
  /** GET /points across every site the user may see; `qs` from lib/search's searchQueryString. */
  searchPoints: (api: ApiClient, qs: string) => api.get<Page<PointSummary>>(`${V1}/points${qs}`),
  programs: (api: ApiClient, s: string) => all<ProgramSummary>(api, `${site(s)}/programs`),
  program: (api: ApiClient, s: string, id: string, version?: number) =>
    api.get<ProgramDetail>(`${site(s)}/programs/${enc(id)}`, { version }),
  programVersions: (api: ApiClient, s: string, id: string) => all<ProgramVersion>(api, `${site(s)}/programs/${enc(id)}/versions`),
  validateProgram: (api: ApiClient, s: string, program: unknown) =>
    api.post<{ valid: boolean; issues: { path: string; message: string }[] }>(`${site(s)}/programs/validate`, program),
  users: (api: ApiClient) => all<UserOut>(api, `${V1}/users`),
  createUser: (api: ApiClient, body: { email: string; name: string; password: string; grants: Record<string, string> }) =>
    api.post<UserOut>(`${V1}/users`, body),
  updateUser: (api: ApiClient, id: string, body: { disabled?: boolean; name?: string }) =>
    api.request<UserOut>("PATCH", `${V1}/users/${enc(id)}`, { body }),
  grant: (api: ApiClient, id: string, s: string, role: string) =>
    api.request<unknown>("PUT", `${V1}/users/${enc(id)}/grants/${enc(s)}`, { body: { role } }),
  revokeGrant: (api: ApiClient, id: string, s: string) =>
    api.request<void>("DELETE", `${V1}/users/${enc(id)}/grants/${enc(s)}`),
  tokens: (api: ApiClient) => all<TokenOut>(api, `${V1}/tokens`),
  createToken: (api: ApiClient, body: { name: string; role?: string | null; expires_in_days?: number | null }) =>
    api.post<TokenOut & { token: string }>(`${V1}/tokens`, body),
  revokeToken: (api: ApiClient, id: string) => api.request<void>("DELETE", `${V1}/tokens/${enc(id)}`),
  audit: (api: ApiClient, filter: { actor?: string; action?: string; since?: number; cursor?: string | null }) =>
    api.get<Page<AuditEntry>>(`${V1}/audit`, { ...filter, since: filter.since?.toFixed(0), limit: 50 }),
  /** Stub pages: a list as the API gives it. */
  list: (api: ApiClient, path: string) => api.get<Page<Record<string, unknown>>>(`${V1}${path}`, { limit: 200 }),
  /** The slots of the site's priority arrays an operator or the API holds, by point then priority. */
  overrides: (api: ApiClient, s: string, filter: { equipment?: string } = {}) =>
    all<import("./types").OverrideItem>(api, `${site(s)}/overrides`, filter),
  /** What each equipment is doing now: modes, key values, comfort, off while scheduled on (server-side). */
  operation: (api: ApiClient, s: string) => api.get<import("./types").SiteOperation>(`${site(s)}/operation`),
  /** Liveness, and the server's clock (`now_ts`, `clock_rate`) that every range and age is measured from. */
  health: (api: ApiClient) => api.get<import("./types").Health>(`${V1}/health`),
  /** History for a trend: each series with its kind, whether it steps, and the sample before `since` (`prior`). */
  trend: (
    api: ApiClient,
    s: string,
    q: { points: string[]; since: number; until: number; rollup: "raw" | "hour" | "day" },
    signal?: AbortSignal,
  ) =>
    api.get<import("./types").TrendHistory>(
      `${site(s)}/history`,
      { points: q.points, since: q.since.toFixed(3), until: q.until.toFixed(3), rollup: q.rollup, prior: "true" },
      signal,
    ),
  /** The emulated building's faults (admins; a 409 where openbms runs no emulator, i.e. outside `openbms demo`). */
  emulatorFaults: (api: ApiClient) => api.get<import("./types").EmulatorFaultList>(`${V1}/emulator/faults`),
  /** Inject a fault (its value: null for the fault's default). */
  injectFault: (api: ApiClient, id: string, value: number | null) =>
    api.request<import("./types").EmulatorFault>("PUT", `${V1}/emulator/faults/${enc(id)}`, { body: { value } }),
  clearFault: (api: ApiClient, id: string) =>
    api.request<import("./types").EmulatorFault>("DELETE", `${V1}/emulator/faults/${enc(id)}`),
  /** Save a program's document as a new version; the latest version (200, `created` false) when it holds the same document. */
  saveProgramVersion: (api: ApiClient, s: string, id: string, program: unknown, comment: string) =>
    api.request<import("./types").SavedProgram>("PUT", `${site(s)}/programs/${enc(id)}`, { body: { program, comment } }),
  /** Deploy a version, saying why (required; kept in the audit log). */
  deployProgramVersion: (api: ApiClient, s: string, id: string, version: number, reason: string) =>
    api.post<ProgramDetail>(`${site(s)}/programs/${enc(id)}/deploy`, { version, reason }),
  /** Roll back, disable or enable a program, with why (kept in the audit log). */
  changeProgram: (api: ApiClient, s: string, id: string, action: "rollback" | "disable" | "enable", reason: string) =>
    api.post<ProgramDetail>(`${site(s)}/programs/${enc(id)}/${action}`, { reason }),
  /** Energy up to a given instant (epoch s, the server's `until` of an earlier answer): two bucket sizes of one moment. */
  energyUntil: (api: ApiClient, s: string, q: { bucket: "hour" | "day"; count: number; until: number; points?: string[] }) =>
    api.get<Energy>(`${site(s)}/energy`, { bucket: q.bucket, count: q.count, until: q.until.toFixed(3), points: q.points }),
  /** Create (201) or replace (200) a holiday calendar; the schedules that use it follow at once. */
  putCalendar: (api: ApiClient, s: string, id: string, body: { name: string; entries: CalendarInfo["entries"] }) =>
    api.request<CalendarInfo>("PUT", `${site(s)}/calendars/${enc(id)}`, { body }),
  /** An equipment's schematic, generated by the server (a 404 when it has none). */
  graphic: (api: ApiClient, s: string, equip: string) =>
    api.get<import("./types").Graphic>(`${site(s)}/equipment/${enc(equip)}/graphic`),
  /** Save element positions in the site folder (sites:write); answers the merged graphic. */
  saveGraphicLayout: (api: ApiClient, s: string, equip: string, elements: import("./types").GraphicLayout) =>
    api.request<import("./types").Graphic>("PUT", `${site(s)}/equipment/${enc(equip)}/graphic`, { body: { elements } }),
  /** Forget the saved layout: answers the generated graphic. */
  resetGraphicLayout: (api: ApiClient, s: string, equip: string) =>
    api.request<import("./types").Graphic>("DELETE", `${site(s)}/equipment/${enc(equip)}/graphic`),
  /** The spaces of the site that have a floor plan. */
  plans: (api: ApiClient, s: string) => api.get<import("./types").PlanSummary[]>(`${site(s)}/plans`),
  /** A floor plan: its zones, each with its temperature point and comfort band. */
  plan: (api: ApiClient, s: string, space: string) =>
    api.get<import("./types").Plan>(`${site(s)}/spaces/${enc(space)}/plan`),
  /** Alarm events and overrides of some points over a range (epoch s), oldest first: marks on their trend. */
  annotations: (api: ApiClient, s: string, q: { points: string[]; since: number; until: number }) =>
    api.get<import("./types").Annotations>(`${site(s)}/annotations`, {
      points: q.points.join(","),
      since: q.since.toFixed(3),
      until: q.until.toFixed(3),
    }),
  /** Each meter's newest load forecast: its hours (with the actuals of those that have ended), 15-minute windows. */
  forecast: (api: ApiClient, s: string, q: { meters?: string[]; hours?: number } = {}) =>
    api.get<import("./types").ForecastAnswer>(`${site(s)}/analytics/forecast`, { meter: q.meters, hours: q.hours }),
  /** MAPE and CV(RMSE) of each meter's stored forecasts, per hours ahead and day ahead. */
  forecastScores: (api: ApiClient, s: string, q: { meters?: string[] } = {}) =>
    api.get<import("./types").ForecastScores>(`${site(s)}/analytics/forecast/scores`, { meter: q.meters }),
  /** Peak 15/30-minute demand per local period (the last holds `until`). */
  peaks: (api: ApiClient, s: string, q: { bucket: "day" | "week" | "month"; count: number; window?: 15 | 30; until?: number }) =>
    api.get<import("./types").Peaks>(`${site(s)}/analytics/peaks`, {
      bucket: q.bucket, count: q.count, window: q.window, until: q.until?.toFixed(3),
    }),
  /** What the tariff's meters cost per local period (a 422 `no_tariff` when the site has none). */
  cost: (api: ApiClient, s: string, q: { bucket: "day" | "week" | "month"; count: number; tariff?: string; until?: number }) =>
    api.get<import("./types").Cost>(`${site(s)}/analytics/cost`, {
      bucket: q.bucket, count: q.count, tariff: q.tariff, until: q.until?.toFixed(3),
    }),
  /** Anomalies found in the site's meters (consumption vs its model, base-load creep, stuck, jumping), newest first. */
  anomalies: (api: ApiClient, s: string, q: { meters?: string[]; since?: number; until?: number; limit?: number } = {}) =>
    api.get<import("./types").Anomalies>(`${site(s)}/analytics/anomalies`, {
      meter: q.meters, since: q.since?.toFixed(3), until: q.until?.toFixed(3), limit: q.limit,
    }),
  /** The block catalogue: every kind's ports, parameters (units, limits, choices) and flags, for the editor's palette. */
  blocks: (api: ApiClient) => api.get<import("./types").BlockCatalogue>(`${V1}/blocks`),
  /**
   * A weather-normalised baseline fitted on a period of a meter: model, Guideline 14 statistics, local days
   * actual vs expected. Times are epoch s; `exclude` is START/END/NOTE each (a 422 names a bad field).
   */
  baseline: (api: ApiClient, s: string, q: { meter: string; start: number; end: number; method?: "auto" | "hourly" | "daily"; exclude?: string[]; temperature?: string }) =>
    api.get<import("./types").MvBaseline>(`${site(s)}/analytics/baseline`, {
      meter: q.meter, start: q.start.toFixed(0), end: q.end.toFixed(0), method: q.method, exclude: q.exclude,
      temperature: q.temperature,
    }),
  /** Avoided energy over a reporting period against a baseline fitted on the period before it, with its uncertainty. */
  savings: (api: ApiClient, s: string, q: {
    meter: string; baseline_start: number; baseline_end: number; start: number; end: number;
    confidence?: number; bucket?: "day" | "week" | "month"; method?: "auto" | "hourly" | "daily"; exclude?: string[]; temperature?: string;
  }) =>
    api.get<import("./types").MvSavings>(`${site(s)}/analytics/savings`, {
      meter: q.meter, baseline_start: q.baseline_start.toFixed(0), baseline_end: q.baseline_end.toFixed(0),
      start: q.start.toFixed(0), end: q.end.toFixed(0), confidence: q.confidence, bucket: q.bucket, method: q.method,
      exclude: q.exclude, temperature: q.temperature,
    }),
  /**
   * A CSV or Excel download of an analytics route (consumption, cost, peaks, forecast, baseline, savings):
   * `what` is its path under …/analytics/, `query` its usual query; the answer is the raw file Response.
   */
  analyticsExport: (api: ApiClient, s: string, what: string, query: import("./client").Query, format: "csv" | "xlsx") =>
    api.request<Response>("GET", `${site(s)}/analytics/${what}`, { query: { ...query, format }, raw: true }),
  /** Replay a program document (saved or not) over a recorded day or range: outputs computed, never written (programs:read). */
  replayProgram: (api: ApiClient, s: string, program: unknown, range: import("./types").ReplayRange = {}) =>
    api.post<import("./types").ReplayResult>(`${site(s)}/programs/replay`, { program, ...range }),
  /** Run an edited program (default: its latest saved version) live for at most 900 s, writing nothing (programs:write). */
  startDryRun: (api: ApiClient, s: string, id: string, program: unknown | null, durationS = 900) =>
    api.post<import("./types").DryRun>(`${site(s)}/programs/${enc(id)}/dry-run`, { program, duration_s: durationS }),
  /** The program's dry run, running or ended (404: none). */
  dryRun: (api: ApiClient, s: string, id: string) =>
    api.get<import("./types").DryRun>(`${site(s)}/programs/${enc(id)}/dry-run`),
  /** Stop the program's dry run. */
  stopDryRun: (api: ApiClient, s: string, id: string) =>
    api.request<void>("DELETE", `${site(s)}/programs/${enc(id)}/dry-run`),
  /** The site's program templates. */
  programTemplates: (api: ApiClient, s: string) =>
    api.get<{ items: import("./types").ProgramTemplate[] }>(`${site(s)}/program-templates`),
  /** Make a template of a program written for one piece of equipment (its points become roles), or keep a whole one. */
  saveProgramTemplate: (api: ApiClient, s: string, id: string, body: {
    program_id?: string; program?: unknown; equipment?: string; equipment_type?: string; name?: string; description?: string;
  }) => api.request<import("./types").ProgramTemplate>("PUT", `${site(s)}/program-templates/${enc(id)}`, { body }),
  /** Forget a template (the programs made from it stay). */
  deleteProgramTemplate: (api: ApiClient, s: string, id: string) =>
    api.request<void>("DELETE", `${site(s)}/program-templates/${enc(id)}`),
  /** One program per piece of equipment (default: every one of the template's type), validated; save: saved, not deployed. */
  applyProgramTemplate: (api: ApiClient, s: string, id: string, body: {
    equipment?: string[]; brick_class?: string; save?: boolean; comment?: string;
  } = {}) => api.post<import("./types").TemplateApplied>(`${site(s)}/program-templates/${enc(id)}/apply`, body),
  /** Override a running program's block output ("node.port") or output node (its point, at `priority`) for a while (programs:deploy). */
  overrideProgram: (api: ApiClient, s: string, id: string, body: {
    port: string; value: number | boolean | string; duration_s?: number; priority?: number; reason: string;
  }) => api.post<import("./types").ProgramOverride>(`${site(s)}/programs/${enc(id)}/overrides`, body),
  /** A running program's overrides: held block outputs and the manual slots of its output points. */
  programOverrides: (api: ApiClient, s: string, id: string) =>
    api.get<import("./types").ProgramOverride[]>(`${site(s)}/programs/${enc(id)}/overrides`),
  /** End an override (an output node's point: the slot at `priority`, 8 by default). */
  releaseProgramOverride: (api: ApiClient, s: string, id: string, port: string, priority?: number, reason = "") =>
    api.request<void>("DELETE", `${site(s)}/programs/${enc(id)}/overrides/${enc(port)}`, {
      query: { priority, reason },
    }),
};
