/**
 * The pure parts of equipment graphics and floor plans. Which point belongs to which symbol is the
 * server's decision (GET …/graphic); this only reads it: which of an element's points drives its
 * symbol, whether a fan runs, how far a damper blade turns, how a zone is coloured against its
 * comfort band, and the maths of moving elements while an integrator adjusts the layout.
 */
import type { Graphic, GraphicElement, GraphicLayout, GraphicPoint, Value } from "../api/types";

/** The roles that drive each kind's symbol, most telling first; other kinds show their first reading. */
const HEADLINE_ROLES: Record<string, readonly GraphicPoint["role"][]> = {
  fan: ["status", "command", "speed"],
  pump: ["status", "command", "speed"],
  damper: ["position", "command"],
  valve: ["position", "command"],
  "heating-coil": ["position", "command", "value"],
  "cooling-coil": ["position", "command", "value"],
  sensor: ["value", "setpoint"],
};
const DEFAULT_ROLES: readonly GraphicPoint["role"][] = ["status", "value", "position", "command", "setpoint", "speed"];

/** The point whose value the element's symbol shows (a fan's running state, a damper's position), or null. */
export function headlinePoint(el: Pick<GraphicElement, "kind" | "points">): GraphicPoint | null {
  for (const role of HEADLINE_ROLES[el.kind] ?? DEFAULT_ROLES) {
    const p = el.points.find((q) => q.role === role);
    if (p) return p;
  }
  return el.points[0] ?? null;
}

/** Whether a status or command value means "running" (a fan's blades turn). */
export function isActive(v: Value | undefined): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return Number.isFinite(v) && v > 0;
  if (typeof v === "string") return ["on", "active", "true", "running", "run", "1"].includes(v.trim().toLowerCase());
  return false;
}

/** A position in per cent (0–100, clamped), or null when the value is no number. */
export function percent(v: Value | undefined): number | null {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  return Number.isFinite(n) ? Math.min(100, Math.max(0, n)) : null;
}

/**
 * A damper or valve blade's angle in degrees from the airflow: 0 fully open (the blade lies along
 * the flow), 90 closed; 45 when the position is unknown (neither open nor closed is claimed).
 */
export function bladeAngle(v: Value | undefined): number {
  const p = percent(v);
  return p === null ? 45 : 90 - (90 * p) / 100;
}

export type ZoneTone = "cold" | "ok" | "hot" | "none";

/** Words for a zone's tone, so that colour is never the only cue. */
export const ZONE_WORDS: Record<ZoneTone, string> = {
  cold: "below its band",
  ok: "within its band",
  hot: "above its band",
  none: "no temperature",
};

const num = (v: Value | undefined): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/**
 * A zone's comfort band: its heating and cooling setpoints' values when both are numbers, else the
 * fixed band the plan gives, else the one setpoint's side (open on the other), else null; widened by `tolerance` each side (the plan's, 1 °C or 1.8 °F),
 * so that the plan agrees with /operation: a zone a tenth under its setpoint is controlled, not cold.
 */
export function zoneBand(
  low: Value | undefined,
  high: Value | undefined,
  fixed: [number, number] | null,
  tolerance = 0,
): [number, number] | null {
  const lo = num(low);
  const hi = num(high);
  let band: [number, number] | null = lo !== null && hi !== null ? (lo <= hi ? [lo, hi] : [hi, lo]) : fixed;
  // A zone with a heating setpoint only is never too warm, one with a cooling setpoint only never too cold.
  if (band === null && (lo !== null || hi !== null)) band = [lo ?? -Infinity, hi ?? Infinity];
  return band && tolerance > 0 ? [band[0] - tolerance, band[1] + tolerance] : band;
}

/** Below the band blue (cold), within green (ok), above red (hot); grey (none) without a value or a band. */
export function zoneTone(temperature: Value | undefined, band: [number, number] | null): ZoneTone {
  const t = num(temperature);
  if (t === null || band === null) return "none";
  if (t < band[0]) return "cold";
  if (t > band[1]) return "hot";
  return "ok";
}

/** The elements an integrator may move: symbols in a box (ducts and pipes follow their path, the server's). */
export const movable = (el: Pick<GraphicElement, "kind" | "path">): boolean => !(el.path && el.path.length > 1);

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** `box` moved by (dx, dy) viewBox units, whole units, kept inside the drawing (0..width, 0..height). */
export function moveBox(box: Box, dx: number, dy: number, width: number, height: number): Box {
  const clamp = (v: number, max: number) => Math.min(Math.max(0, max), Math.max(0, Math.round(v)));
  return { ...box, x: clamp(box.x + dx, width - box.w), y: clamp(box.y + dy, height - box.h) };
}

/** Screen pixels to viewBox units for a drawing of `width` units shown `shownPx` wide. */
export function toViewBox(px: number, width: number, shownPx: number): number {
  return shownPx > 0 ? (px * width) / shownPx : 0;
}

/** Arrow keys move a focused element by 10 units, 1 with Shift; other keys do not move it (null). */
export function arrowStep(key: string, shift: boolean): [number, number] | null {
  const step = shift ? 1 : 10;
  switch (key) {
    case "ArrowLeft":
      return [-step, 0];
    case "ArrowRight":
      return [step, 0];
    case "ArrowUp":
      return [0, -step];
    case "ArrowDown":
      return [0, step];
    default:
      return null;
  }
}

/** The graphic with the moved elements at their new places. */
export function withMoves(g: Graphic, moves: ReadonlyMap<string, Box>): Graphic {
  if (moves.size === 0) return g;
  return { ...g, elements: g.elements.map((el) => ({ ...el, ...(moves.get(el.id) ?? {}) })) };
}

/**
 * The layout to save: where the moved elements were put. The server adds them to what was saved
 * before, so an element not moved this time keeps its place, saved or generated (a later generator
 * may still improve it); Reset forgets every saved place.
 */
export function layoutToSave(g: Graphic, moves: ReadonlyMap<string, Box>): GraphicLayout {
  const out: GraphicLayout = {};
  for (const el of g.elements) {
    const b = moves.get(el.id);
    if (b && movable(el)) out[el.id] = { x: b.x, y: b.y };
  }
  return out;
}

/**
 * The smallest width (CSS px) the drawing may shrink to so that its text (`fontUnits` viewBox units
 * high) stays at least `minPx` on screen; narrower containers scroll it sideways.
 */
export function minDrawingWidth(width: number, fontUnits: number, minPx = 11): number {
  return Math.ceil((width * minPx) / fontUnits);
}

const ABOVE_KINDS: ReadonlySet<string> = new Set(["heating-coil", "cooling-coil", "filter"]);

/** A short word before a value saying what it is to its element (a reading's unit says enough). */
export const ROLE_WORDS: Record<string, string> = {
  command: "cmd",
  status: "run",
  speed: "speed",
  position: "pos",
  setpoint: "sp",
  alarm: "alarm",
};

/** The kinds drawn as a labelled box, their values inside it. */
export const BOXED_KINDS: ReadonlySet<string> = new Set(["chiller", "boiler", "tower", "meter", "zone", "box"]);

/**
 * Where an element's label and values go, in viewBox units: a sensor's box holds them (its dot at
 * the left), a labelled box holds its values under its label, a coil or filter (in the duct, a valve
 * often below it) has them above it, any other symbol below it; centred and no wider than
 * neighbours on a duct leave room for (76 units: labels wrap).
 * `lines` counts the label's and the values' lines. The server's generator leaves room by this rule:
 * tests/analytics/test_graphics.py ports it and checks no two elements' symbols or text overlap in
 * any example drawing, so a change here is made there too.
 */
export function textBox(el: Box & { kind: string }, lines: number, drawingWidth: number, lineUnits = 21): Box {
  const h = lines * lineUnits + 6;
  const fit = (x: number, w: number) => Math.min(Math.max(0, x), Math.max(0, drawingWidth - w));
  if (el.kind === "sensor") {
    const w = Math.max(el.w - 14, 100);
    return { x: fit(el.x + 14, w), y: el.y, w, h };
  }
  // A labelled box: its label on its first line, its values from the second.
  if (BOXED_KINDS.has(el.kind)) return { x: el.x + 2, y: el.y + lineUnits + 6, w: Math.max(0, el.w - 4), h };
  const w = Math.min(200, Math.max(76, el.w + 36));
  const y = ABOVE_KINDS.has(el.kind) ? Math.max(0, el.y - h - 4) : el.y + el.h + 4;
  return { x: fit(el.x + el.w / 2 - w / 2, w), y, w, h };
}

/** Lines a label takes in a box `w` units wide (wrapped at about 8.6 units a character of 16-unit text). */
export function labelLines(label: string, w: number): number {
  return label ? Math.max(1, Math.ceil((label.length * 8.6) / Math.max(1, w))) : 0;
}

/** The drawing's height grown to hold text that runs below the server's height (never shrunk). */
export function drawingHeight(height: number, boxes: readonly Box[]): number {
  return Math.ceil(Math.max(height, ...boxes.map((b) => b.y + b.h + 4)));
}

/**
 * A point's name as a word beside its value on an element: without the element's id when the name
 * starts with it (a plant's "ch-1-load" in Chiller 1 is its "load"; the box already says which unit).
 */
export function pointWord(name: string, elementId: string): string {
  const prefix = `${elementId}-`;
  return name.length > prefix.length && name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

/**
 * A zone's name on its floor's plan: without the floor's name it starts with ("Floor 1 west
 * perimeter" on Floor 1 is its "West perimeter"), so that a narrow perimeter's name fits its column.
 */
export function zoneLabel(zoneName: string, planName: string): string {
  const prefix = `${planName} `.toLowerCase();
  if (!planName || zoneName.length <= prefix.length || !zoneName.toLowerCase().startsWith(prefix)) return zoneName;
  const rest = zoneName.slice(prefix.length).trimStart();
  return rest.charAt(0).toUpperCase() + rest.slice(1);
}
