/** The API's shapes the dashboard reads (from src/openbms/api/routes/*.py). Times are epoch seconds. */

export type Value = number | boolean | string | null;

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Me {
  id: string;
  email: string;
  name: string;
  via: "session" | "api_token";
  token_role: string | null;
  /** site id (or "*") → role */
  grants: Record<string, string>;
  /** site id (or "*") → permissions */
  permissions: Record<string, string[]>;
}

export interface Site {
  id: string;
  name: string;
  timezone: string;
  latitude: number | null;
  longitude: number | null;
  spaces: number;
  equipment: number;
  points: number;
  /** At a central openbms: how far behind the centre is on the site (null or absent at an edge). */
  central?: SiteLag | null;
}

/** How far behind a central openbms is on a site's samples; `behind` is the server's verdict. */
export interface SiteLag {
  newest_ts: number | null;
  lag_s: number | null;
  online: boolean | null;
  behind: boolean;
  warn_s: number;
}

export interface Equipment {
  id: string;
  type: string;
  name: string;
  space: string | null;
  feeds: string[];
  tags: string[];
  points: string[];
}

export interface PointSummary {
  id: string;
  site: string;
  equipment: string;
  name: string;
  kind: "number" | "bool" | "enum";
  unit: string | null;
  description: string;
  tags: string[];
  writable: boolean;
  /** At a central openbms: a command goes to the site's edge (priority 9 to 16, 12 unless given). */
  remote?: boolean;
  value: Value;
  status: string | null;
  ts: number | null;
}

export interface PointDetail extends PointSummary {
  states: string[] | null;
  limits: { min: number | null; max: number | null } | null;
  relinquish_default: Value;
  priority_array: Value[] | null;
  effective: Value;
}

export interface Slot {
  priority: number;
  value: Value;
  command_id: string | null;
  source: string | null;
  requested_by: string | null;
  reason: string | null;
  since: number | null;
  expires_at: number | null;
}

export interface PriorityArray {
  point: string;
  effective: Value;
  active_priority: number | null;
  relinquish_default: Value;
  slots: Slot[];
}

export type CommandStatus = "pending" | "executing" | "completed" | "failed" | "superseded" | "expired";

export interface Command {
  id: string;
  point: string;
  value: Value;
  priority: number;
  source: string;
  requested_by: string;
  reason: string;
  release: boolean;
  expires_at: number | null;
  status: CommandStatus;
  error: string;
  created_at: number;
  updated_at: number;
  /** At a central openbms, a command for a site's edge: how far it got (null elsewhere). */
  delivery?: "queued" | "sending" | "answered" | "unanswered" | "expired" | "superseded" | null;
  /** At a central openbms: the edge's answer (ok and its command, or its error). */
  answer?: Record<string, unknown> | null;
  /** At a central openbms: the edge's newest change of the command. */
  edge?: Record<string, unknown> | null;
  /** At a central openbms: every change of the edge's command, oldest first (its lifecycle there). */
  changes?: Record<string, unknown>[] | null;
  /** At a central openbms: made at the centre, or by the edge itself (its operators, schedules). */
  origin?: "central" | "edge" | null;
}

export interface HistorySample {
  ts: number;
  value: Value;
  status: string;
}

export interface HistoryRollup {
  start: number;
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  tw_mean: number | null;
  covered: number;
  last: number | null;
  last_ts: number | null;
}

export interface HistorySeries {
  point: string;
  unit: string | null;
  samples?: HistorySample[] | null;
  rollups?: HistoryRollup[] | null;
}

export interface History {
  site: string;
  since: number;
  until: number;
  rollup: "raw" | "hour" | "day";
  series: HistorySeries[];
}

/** The energy of one hour or one local day of the site (computed by the server). */
export interface EnergyBucket {
  start: number;
  end: number;
  /** The site's local date of a day (YYYY-MM-DD); null for hours. */
  date: string | null;
  kwh: number | null;
}

export interface MeterEnergy {
  point: string;
  equipment: string;
  name: string;
  description: string;
  unit: string | null;
  kind: "register" | "demand";
  site_meter: boolean;
  buckets: EnergyBucket[];
  /** The bucket before the last, up to the same local time of day. */
  previous_same_time_kwh: number | null;
  peak: { kw: number; at: number } | null;
}

export interface Energy {
  site: string;
  timezone: string;
  bucket: "hour" | "day";
  until: number;
  series: MeterEnergy[];
}

/** A stored alarm event (GET …/alarms/history). */
export interface AlarmEvent {
  id: number;
  alarm_id: string;
  rule_id: string;
  point: string;
  ts: number;
  action: string;
  from_state: string;
  to_state: string;
  value: Value;
  message: string;
  who: string;
  note: string;
}

export type AlarmState = "normal" | "active-unacked" | "active-acked" | "returned-unacked";

export interface Alarm {
  id: string;
  site: string;
  rule_id: string;
  point: string;
  name: string;
  priority: number;
  alarm_class: string;
  event_type: boolean;
  state: AlarmState;
  value: Value;
  message: string;
  active_since: number | null;
  changed_ts: number | null;
  acked_by: string | null;
  acked_ts: number | null;
  shelved: boolean;
  shelved_until: number | null;
  shelved_by: string | null;
  shelve_reason: string | null;
  flapping: boolean;
  count: number;
  notes: { ts: number; who: string; text: string }[];
  /** "rule": the site's alarm rules; else the service that raised it ("analytics": anomaly detection). */
  source: string;
  /** A service's evidence (anomaly detection: expected and actual kWh, the period, a chart path). */
  context: Record<string, unknown> | null;
  /** At a central openbms: the edge's alarm, acknowledged, noted and shelved at the edge only. */
  remote?: boolean;
}

/** The payload of a WebSocket `alarm` message (an alarm event). */
export interface AlarmEvent {
  alarm_id: string;
  site: string;
  point: string;
  ts: number;
  action: string;
  from_state: string;
  to_state: string;
  message: string;
  priority: number;
}

/** A moment a schedule's value changes (or the value in force at a window's start). */
export interface Transition {
  ts: number;
  /** The same instant in the schedule's time zone, ISO 8601 with its offset. */
  local: string;
  value: Value;
  /** "weekly", "exception:<name>" or "default" */
  source: string;
}

export interface ScheduleView {
  schedule: import("../lib/schedule").Schedule;
  timezone: string;
  current: Transition;
  next: Transition | null;
}

export interface Transitions {
  schedule_id: string;
  timezone: string;
  since: number;
  until: number;
  initial: Transition;
  transitions: Transition[];
}

export interface CalendarInfo {
  id: string;
  name: string;
  entries: import("../lib/schedule").When[];
}

export interface ProgramStatus {
  version: number;
  state: "running" | "disabled" | "failed";
  last_run: number | null;
  runs: number;
  writes: number;
  errors: number;
  last_error: string;
  last_error_at: number | null;
  outputs: Record<string, Value>;
}

export interface ProgramSummary {
  id: string;
  site: string;
  name: string;
  enabled: boolean;
  active_version: number | null;
  latest_version: number;
  updated_at: number;
  status: ProgramStatus | null;
}

export interface ProgramDetail extends ProgramSummary {
  version: number;
  created_at: number;
  created_by: string;
  comment: string;
  program: import("../lib/graph").ProgramDoc;
  /** "node.port" → live value, while the engine runs it. */
  values: Record<string, Value> | null;
}

export interface ProgramVersion {
  version: number;
  created_at: number;
  created_by: string;
  comment: string;
  deployed: boolean;
}

export type Role = "viewer" | "operator" | "facility_manager" | "admin";
export const ROLES: readonly Role[] = ["viewer", "operator", "facility_manager", "admin"];

export interface UserOut {
  id: string;
  email: string;
  name: string;
  disabled: boolean;
  locked: boolean;
  grants: Record<string, Role>;
  created_at: number;
  updated_at: number;
  last_login_at: number | null;
}

export interface TokenOut {
  id: string;
  name: string;
  prefix: string;
  role: Role | null;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface AuditEntry {
  id: number;
  ts: number;
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
  remote_addr: string | null;
}

/** The winning slot of a point's priority array when a person (operator) or the API holds it. */
export interface PointOverride {
  priority: number;
  value: Value;
  source: string;
  requested_by: string;
  reason: string;
  since: number;
  /** Epoch seconds it expires; null: until released. */
  expires_at: number | null;
  command_id: string;
}

/** Point summaries and details carry their override (null: the value is not overridden). */
export interface PointSummary {
  override?: PointOverride | null;
}

/** A slot held by an operator or the API (GET /sites/{site}/overrides). */
export interface OverrideItem {
  point: string;
  equipment: string;
  name: string;
  kind: "number" | "bool" | "enum";
  unit: string | null;
  states: string[] | null;
  priority: number;
  value: Value;
  source: string;
  requested_by: string;
  reason: string;
  since: number;
  expires_at: number | null;
  /** The highest slot held: the point's value is this override's. */
  winning: boolean;
  command_id: string;
}

/** What one equipment is doing (GET /sites/{site}/operation); null where its points do not tell. */
export interface EquipmentOperation {
  id: string;
  type: string;
  name: string;
  occupancy: "occupied" | "unoccupied" | null;
  conditioning: "heating" | "cooling" | "heating and cooling" | "idle" | null;
  running: boolean | null;
  /** The values an overview shows for it: point ids, labelled. */
  key_values: { label: string; point: string }[];
  comfort: { point: string; value: number; low: number | null; high: number | null; state: "below" | "within" | "above" } | null;
  /** Points a schedule holds on while no run sensor says the equipment runs. */
  scheduled_on_but_off: {
    point: string;
    schedule: string;
    priority: number;
    winning_priority: number | null;
    winning_source: string | null;
  }[];
}

export interface SiteOperation {
  site: string;
  zones_outside_comfort: number;
  off_while_scheduled_on: number;
  equipment: EquipmentOperation[];
}

/** GET /api/v1/health: the server's clock as well as its state (the dashboard's clock reads it). */
export interface Health {
  status: "ok" | "degraded" | "down";
  version: string;
  /** The server's (the building's) time, ISO 8601 with its offset. */
  now: string;
  now_ts: number;
  /** Server seconds per real second: 1 real time, N a demo run N times faster, 0 a clock moved by hand. */
  clock_rate: number;
}

/** A history series as GET /history?prior=true answers: how to draw it, and the value it held before `since`. */
export interface TrendSeries extends HistorySeries {
  kind: "number" | "bool" | "enum";
  /** The value holds until the next sample (bool, enum, stored on change): draw steps. */
  step: boolean;
  /** The last sample before `since` (null: none stored). */
  prior?: HistorySample | null;
}

export interface TrendHistory extends History {
  series: TrendSeries[];
}

/** One fault of the emulated building (GET /api/v1/emulator/faults, `openbms demo` only; admins). */
export interface EmulatorFault {
  /** kind:target, e.g. `chiller-trip:ch-1`, `failed-sensor:ahu-1/oat`. */
  id: string;
  /** stuck-damper, failed-sensor, fouled-coil or chiller-trip. */
  kind: string;
  target: string;
  label: string;
  description: string;
  /** The fault's number (position, reading, capacity); null: it takes none. */
  parameter: string | null;
  unit: string | null;
  minimum: number | null;
  maximum: number | null;
  /** Used when an injection gives no value (null for a failed sensor: it reads nothing). */
  default: number | null;
  active: boolean;
  /** The number in force while active (null: none, or no reading). */
  value: number | null;
}

export interface EmulatorFaultList {
  items: EmulatorFault[];
  active: number;
}

/** One line of an alarm's recent history (`history` of GET …/alarms: the latest 100, oldest first). */
export interface AlarmTransition {
  ts: number;
  action: string;
  from_state: string;
  to_state: string;
  value: Value;
  who: string | null;
  note: string | null;
}

/** A saved program version: `created` false when the latest version held the same document (then `note` says so). */
export interface SavedProgram {
  id: string;
  version: number;
  issues: { path: string; message: string }[];
  created: boolean;
  note: string;
}

/** A point shown on a graphic element, and what it is to the element (decided by the server). */
export interface GraphicPoint {
  id: string;
  role: "value" | "setpoint" | "command" | "status" | "speed" | "position" | "alarm";
}

/** One symbol of an equipment graphic: the box it fills in viewBox coordinates, its points in display order. */
export interface GraphicElement {
  id: string;
  kind: string;
  x: number;
  y: number;
  w: number;
  h: number;
  label: string;
  flow?: "air" | "chw" | "hw" | "cw" | null;
  /** Only duct and pipe: a polyline in viewBox coordinates. */
  path?: [number, number][] | null;
  points: GraphicPoint[];
}

/** GET …/equipment/{equip}/graphic: a schematic generated by the server (`saved`: some positions are the integrator's). */
export interface Graphic {
  equipment: string;
  name: string;
  type: string;
  template: string;
  width: number;
  height: number;
  saved: boolean;
  elements: GraphicElement[];
  /** Points of the equipment no element shows. */
  unplaced: string[];
}

/** PUT …/graphic body: positions and sizes by element id. */
export type GraphicLayout = Record<string, { x: number; y: number; w?: number; h?: number }>;

/** A zone of a floor plan: a rectangle, the point of its temperature and its comfort band. */
export interface PlanZone {
  space: string;
  name: string;
  x: number;
  y: number;
  w: number;
  h: number;
  temperature: string | null;
  low: string | null;
  high: string | null;
  band: [number, number] | null;
  /** How far past its band a zone still counts as within it, in the temperature's unit (1 °C, 1.8 °F), as /operation judges comfort. */
  tolerance: number;
  equipment: string[];
}

/** GET …/spaces/{space}/plan. */
export interface Plan {
  space: string;
  name: string;
  width: number;
  height: number;
  saved: boolean;
  zones: PlanZone[];
}

/** One line of GET …/plans: a space that has a plan. */
export interface PlanSummary {
  space: string;
  name: string;
  zones: number;
}

/** How people read a point (issue 14, item 6): the site file's display name, else one derived from its name, and the decimals its values show. */
export interface PointSummary {
  display_name?: string;
  precision?: number;
}

/** An override names its point as people read it, and the decimals of its values. */
export interface OverrideItem {
  display_name?: string;
  precision?: number;
}

/** A bucket holding the answer's `until` (the hour or the day in progress): its energy so far. */
export interface EnergyBucket {
  partial?: boolean;
}

/** One meter: its register (kWh) and demand point (kW) together, main meter or sub-meter of `parent`. */
export interface EnergyMeter {
  /** The point id of its register, else of its demand point. */
  id: string;
  equipment: string;
  equipment_name: string;
  /** The equipment's name, or the meter's part of it when the equipment holds several meters. */
  name: string;
  commodity: string | null;
  /** Point ids: the series of `energy` gives the meter's energy, `power` its peak (and energy without a register). */
  energy: string | null;
  power: string | null;
  main: boolean;
  parent: string | null;
}

/** The meters the series make up, main meters first and each sub-meter after its parent. */
export interface Energy {
  meters: EnergyMeter[];
}

/** Something that happened to a point, to mark on its trend (GET …/annotations). */
export interface Annotation {
  ts: number;
  point: string;
  kind: "alarm" | "override";
  action: "raised" | "cleared" | "acknowledged" | "start" | "release" | "expiry";
  title: string;
  who: string;
  detail: string;
}

export interface Annotations {
  site: string;
  since: number;
  until: number;
  annotations: Annotation[];
  truncated: boolean;
}

/** An enum point's state labels, state 1 first (its values count from 1); null for other kinds. */
export interface PointSummary {
  states?: string[] | null;
}

/** One hour of a meter's newest load forecast (GET …/analytics/forecast); `actual_kwh` once the hour has ended. */
export interface ForecastHour {
  start: number;
  /** Hours ahead of the issue time: 1 is the first hour. */
  horizon: number;
  kwh: number;
  temperature: number | null;
  actual_kwh: number | null;
}

/** A meter's newest forecast (`issued` null: none yet, a meter needs a week of history). */
export interface MeterForecast {
  meter: string;
  name: string;
  commodity: string | null;
  issued: number | null;
  hours: ForecastHour[];
  windows: { start: number; kwh: number; kw: number }[];
}

export interface ForecastAnswer {
  site: string;
  timezone: string;
  forecasts: MeterForecast[];
}

/** How a meter's forecasts did so many hours ahead (null: no hour with actuals to compare). */
export interface ForecastScore {
  horizon: number;
  n: number;
  mape_pct: number | null;
  cvrmse_pct: number | null;
}

export interface ForecastScores {
  site: string;
  since: number | null;
  meters: { meter: string; name: string; day_ahead: ForecastScore | null; horizons: ForecastScore[] }[];
}

/** One period of a peak-demand series: the highest 15/30-minute mean demand and when its window began. */
export interface PeakPeriod {
  start: number;
  end: number;
  date: string | null;
  kw: number | null;
  at: number | null;
  partial: boolean;
}

export interface Peaks {
  site: string;
  timezone: string;
  bucket: "day" | "week" | "month";
  window_minutes: 15 | 30;
  until: number;
  series: { id: string; kind: string; name: string; commodity: string | null; periods: PeakPeriod[] }[];
}

/** One line of a bill: energy at a time-of-use rate, a demand charge, a fixed charge. */
export interface CostLine {
  kind: "energy" | "demand" | "fixed";
  name: string;
  quantity: number;
  unit: string;
  rate: number;
  amount: number;
  at: number | null;
}

export interface CostPeriod {
  start: number;
  end: number;
  date: string | null;
  partial: boolean;
  kwh: number | null;
  energy_cost: number;
  /** null for a period that is no calendar month. */
  demand_cost: number | null;
  fixed_cost: number;
  total: number;
  /** Seconds whose energy is unknown: not priced. */
  unknown_s: number;
  lines: CostLine[];
}

/** What a tariff's meters cost per period (GET …/analytics/cost), in its currency. */
export interface Cost {
  site: string;
  timezone: string;
  tariff: string;
  currency: string;
  bucket: "day" | "week" | "month";
  until: number;
  series: { meter: string; name: string; periods: CostPeriod[] }[];
  totals: number[];
}

/** What an anomaly detector found (GET …/analytics/anomalies). */
export type AnomalyKind = "consumption" | "base_load" | "stuck" | "jump";

/** One finding of the anomaly detectors with its evidence; each raised an alarm (`alarm_id`). */
export interface Anomaly {
  id: number;
  /** The meter's id (the point id of its register, else of its demand point). */
  meter: string;
  name: string;
  kind: AnomalyKind;
  /** The period judged [start, end), epoch s. */
  start: number;
  end: number;
  /** Energy the meter's model expected over the period and what it used (null: not an energy comparison). */
  expected_kwh: number | null;
  actual_kwh: number | null;
  /** How far from normal (a robust z for consumption and base load, hours or a ratio for stuck and jump), and the threshold it crossed. */
  score: number;
  threshold: number;
  /** A sentence for people: what was found, expected vs actual. */
  message: string;
  /** When it was found (the runtime's clock). */
  detected: number;
  /** The alarm it raised, and that alarm's state now (null: the alarm is no longer known). */
  alarm_id: string;
  alarm_state: string | null;
  /** The dashboard's page showing the meter over the period (a path of the dashboard's hash routes). */
  chart: string;
}

/** The site's anomaly findings, newest first. */
export interface Anomalies {
  site: string;
  timezone: string;
  anomalies: Anomaly[];
}

/** One input or output port of a block kind (GET /api/v1/blocks). */
export interface BlockPort {
  name: string;
  type: "number" | "bool" | "any";
  /** A unit symbol; "same": one unit for every "same" port of the block; null: any unit. */
  unit: string | null;
  /** An input that must be wired (outputs: always true). */
  required: boolean;
  /** What an unwired optional input takes. */
  default: Value;
  /** The family of a numbered port ("in" for in1…in8), else null. */
  group: string | null;
}

/** A family of numbered ports: `${group}${first}` … `${group}${last}`. */
export interface BlockVariadic {
  group: string;
  first: number;
  last: number;
  /** How many of the family are required inputs (the first ones). */
  required: number;
  /** The parameter that says how many the block uses (leadlag's n); null: as many as are wired. */
  count_param: string | null;
}

/** One parameter of a block kind, from its parameter model. */
export interface BlockParam {
  name: string;
  type: "number" | "integer" | "boolean" | "string" | "enum" | "any";
  nullable: boolean;
  required: boolean;
  default: unknown;
  description: string;
  /** A unit symbol ("s", "h") or "unit of <port>"; null: none. */
  unit: string | null;
  minimum: number | null;
  maximum: number | null;
  exclusive_minimum: number | null;
  exclusive_maximum: number | null;
  /** The values an enum parameter may take. */
  choices: unknown[] | null;
}

/** A block kind as the editor's palette shows it. */
export interface BlockKind {
  kind: string;
  title: string;
  description: string;
  inputs: BlockPort[];
  outputs: BlockPort[];
  variadic_inputs: BlockVariadic[];
  variadic_outputs: BlockVariadic[];
  params: BlockParam[];
  /** The parameters' rules across fields (e.g. out_min below out_max). */
  params_description: string;
  /** The parameters' JSON schema, the source of `params`. */
  params_schema: Record<string, unknown>;
  /** The parameter that names this block's inputs (the expression block's "formula": its names are its inputs); null: `inputs` lists them. */
  dynamic_inputs: string | null;
  /** Evaluated every period of the program, not only on a change. */
  time_based: boolean;
  /** A feedback loop through this block is allowed. */
  breaks_cycles: boolean;
}

/** Every block kind, in the catalogue's order. */
export interface BlockCatalogue {
  items: BlockKind[];
}

/** A non-routine event left out of an M&V period (exclude=START/END/NOTE), and the rows of the period it held. */
export interface MvExclusion {
  start: number;
  end: number;
  note: string;
  rows: number;
}

/** ASHRAE Guideline 14 statistics of a baseline over its own rows (percentages in %). */
export interface MvStatistics {
  cvrmse_pct: number | null;
  /** Positive: the model predicts less than the building used. */
  nmbe_pct: number | null;
  r2: number;
  n: number;
  p: number;
  autocorrelation: number;
  mean_kwh: number;
}

/** Whether Guideline 14's hourly criteria are met; `reasons` says each one missed, in words. */
export interface MvGuideline14 {
  met: boolean;
  cvrmse_max_pct: number;
  nmbe_max_pct: number;
  reasons: string[];
}

/** The model chosen and what it learnt (balance points, slopes, occupied hours), with sentences to show. */
export interface MvModel {
  method: "hourly" | "daily";
  name: string;
  interval: "hourly" | "daily";
  candidates_cvrmse_pct: Record<string, number>;
  daily: {
    kind: "intercept" | "heating" | "cooling" | "heating_cooling";
    intercept_kwh: number;
    heating_balance_c: number | null;
    heating_slope_kwh_per_degc_day: number | null;
    cooling_balance_c: number | null;
    cooling_slope_kwh_per_degc_day: number | null;
  };
  hourly: { occupied_hours: number; occupied: string[]; knots_c: number[] } | null;
  words: string[];
}

/** A fitted baseline: its period, rows, statistics and model. */
export interface MvBaselineSummary {
  start: number;
  end: number;
  method_asked: "auto" | "hourly" | "daily";
  rows: number;
  excluded_rows: number;
  missing_hours: number;
  exclusions: MvExclusion[];
  statistics: MvStatistics;
  guideline14: MvGuideline14;
  model: MvModel;
}

/** GET …/analytics/baseline: a baseline fitted on a period of a meter, with its local days for a chart. */
export interface MvBaseline extends MvBaselineSummary {
  site: string;
  timezone: string;
  meter: string;
  /** The outdoor temperature point used. */
  temperature: string;
  series: { start: number; date: string; actual: number; expected: number; excluded: boolean }[];
}

/** One day, week or month of a reporting period: measured, adjusted baseline, avoided and avoided so far. */
export interface MvSavingsBucket {
  start: number;
  end: number;
  date: string;
  actual: number;
  expected: number;
  avoided: number;
  cumulative_avoided: number;
}

/** GET …/analytics/savings: avoided energy over a reporting period against a baseline (IPMVP option C). */
export interface MvSavings {
  site: string;
  timezone: string;
  meter: string;
  temperature: string;
  baseline: MvBaselineSummary;
  start: number;
  end: number;
  rows: number;
  excluded_rows: number;
  missing_hours: number;
  exclusions: MvExclusion[];
  adjusted_baseline_kwh: number;
  actual_kwh: number;
  avoided_kwh: number;
  savings_pct: number | null;
  confidence: number;
  /** Fractional savings uncertainty at `confidence`, % of the savings; null: unbounded (nothing saved). */
  fsu_pct: number | null;
  low_kwh: number | null;
  high_kwh: number | null;
  bucket: "day" | "week" | "month";
  series: MvSavingsBucket[];
}

/** A [t (epoch s), value] pair of a replayed series: the value holds until the next pair. */
export type ReplayPoint = [number, Value];

/** One output of a replayed program: what it would have commanded, beside what its point recorded. */
export interface ReplayOutput {
  id: string;
  point: string;
  priority: number;
  computed: ReplayPoint[];
  recorded: ReplayPoint[];
}

/** POST …/programs/replay: a program run over recorded inputs, nothing written. */
export interface ReplayResult {
  start: number;
  end: number;
  step_s: number;
  steps: number;
  outputs: ReplayOutput[];
  /** Per wired port ("node.port", as a running program's `values`) its changes, at most 500. */
  values: Record<string, ReplayPoint[]>;
}

/** The range of a replay: a day of the site's ("YYYY-MM-DD"), or start and end (epoch s); neither: yesterday. */
export interface ReplayRange {
  day?: string;
  start?: number;
  end?: number;
  /** Seconds between evaluations; default the program's period_s. */
  step_s?: number;
}

/** Per block node its internal state for the live view: a PID's p, i, d and out, a timer's remaining_s, lead-lag order… */
export type BlockStates = Record<string, Record<string, Value>>;

/** GET …/programs/{id} with the blocks' states (null while the engine does not run the program). */
export interface ProgramDetailWithState extends ProgramDetail {
  block_states: BlockStates | null;
}

/** A dry run: an edited program live on the live inputs, its outputs computed and never written. */
export interface DryRun {
  id: string;
  site: string;
  running: boolean;
  started_by: string;
  started_at: number;
  /** When it stops by itself (the server's clock). */
  until: number;
  ended_at: number | null;
  /** Commands it would have made; it made none. */
  would_write: number;
  /** As a running program's status: `outputs` are what it would command. */
  status: ProgramStatus;
  values: Record<string, Value>;
  block_states: BlockStates;
}

/** A program template: a program document whose equipment points are roles ("$brick:<class>" or "$name:<point>"). */
export interface ProgramTemplate {
  id: string;
  name: string;
  description: string;
  /** The equipment type it applies to ("vav") and its Brick class ("VAV"). */
  equipment_type: string;
  brick_class: string;
  roles: string[];
  program: import("../lib/graph").ProgramDoc;
}

/** The program a template gives one piece of equipment (program null: a role could not be bound). */
export interface TemplateProgram {
  equipment: string;
  program_id: string | null;
  program: import("../lib/graph").ProgramDoc | null;
  /** Roles not bound, and the program's validation problems. */
  issues: { path: string; message: string }[];
  /** With save: the version saved (never deployed), and whether a version was made. */
  version: number | null;
  created: boolean;
}

/** POST …/program-templates/{id}/apply. */
export interface TemplateApplied {
  template: string;
  items: TemplateProgram[];
}

/** A commissioning override of a running program: a block output held in the engine, or an output's point. */
export interface ProgramOverride {
  /** "node.port" of a block's output, or the id of an output node. */
  port: string;
  /** block: what the block feeds sees the value; point: the output's point commanded at `priority`. */
  kind: "block" | "point";
  value: Value;
  until: number | null;
  point: string | null;
  priority: number | null;
  command_id: string | null;
  requested_by: string;
  reason: string;
}
