/** The site overview's key values, found by the points' Haystack tags. */
import type { EquipmentOperation, PointSummary } from "../api/types";
import { formatValue } from "./format";

const has = (p: PointSummary, ...tags: string[]) => tags.every((t) => p.tags.includes(t));
const usable = (p: PointSummary) => p.status !== "offline" && p.status !== "fault" && typeof p.value === "number";

export interface KeyPoints {
  outdoorAir: PointSummary | null;
  supplyAir: PointSummary[];
  zoneTemps: PointSummary[];
  /** A cumulative energy register (preferred) or a demand point of a site meter. */
  energy: PointSummary | null;
  demand: PointSummary | null;
}

/** Equipment whose discharge air is "supply air" in the overview (not a VAV box's reheated air). */
const AIR_HANDLERS = new Set(["ahu", "rtu", "fcu"]);

/**
 * outside air temp sensor; discharge air temp sensor (of air handlers when the equipment types
 * are known); zone air temp sensor; elec energy / power.
 */
export function keyPoints(points: PointSummary[], equipmentTypes?: Record<string, string>): KeyPoints {
  const sensors = points.filter((p) => p.tags.includes("sensor"));
  const discharge = sensors.filter((p) => has(p, "discharge", "air", "temp"));
  const handled = equipmentTypes
    ? discharge.filter((p) => AIR_HANDLERS.has(equipmentTypes[p.equipment] ?? ""))
    : [];
  return {
    outdoorAir: sensors.find((p) => has(p, "outside", "air", "temp")) ?? null,
    supplyAir: handled.length > 0 ? handled : discharge,
    zoneTemps: sensors.filter((p) => has(p, "zone", "air", "temp")),
    energy: sensors.find((p) => has(p, "energy") && p.unit === "kWh") ?? null,
    demand: sensors.find((p) => has(p, "power") && p.unit === "kW") ?? null,
  };
}

/** The coolest and warmest zone now (only zones with a current value count). */
export function zoneSpread(zones: PointSummary[]): { min: PointSummary; max: PointSummary } | null {
  const ok = zones.filter(usable);
  if (ok.length === 0) return null;
  let min = ok[0]!;
  let max = ok[0]!;
  for (const p of ok) {
    if ((p.value as number) < (min.value as number)) min = p;
    if ((p.value as number) > (max.value as number)) max = p;
  }
  return { min, max };
}

/** Equipment health for the overview: ok, offline, in alarm or overridden (worst first). */
export type EquipState = "alarm" | "offline" | "overridden" | "ok" | "unknown";

export function equipmentState(points: PointSummary[], alarmedPoints: Set<string>): EquipState {
  if (points.some((p) => alarmedPoints.has(p.id))) return "alarm";
  if (points.length > 0 && points.every((p) => p.status === "offline" || p.status === "fault")) return "offline";
  if (points.some((p) => p.status === "offline" || p.status === "fault")) return "offline";
  // Overridden: by the device (status) or by a person holding the winning slot (the API's `override`).
  if (points.some((p) => p.status === "overridden" || p.override)) return "overridden";
  if (points.length === 0 || points.every((p) => p.status === null)) return "unknown";
  return "ok";
}

/** The words of an equipment's mode on the overview ("occupied", "heating", "running"), as the server worked it out. */
export function modeWords(op: Pick<EquipmentOperation, "occupancy" | "conditioning" | "running">): string[] {
  const words: string[] = [];
  if (op.occupancy) words.push(op.occupancy);
  if (op.conditioning && op.conditioning !== "idle") words.push(op.conditioning);
  if (op.running !== null) words.push(op.running ? "running" : "off");
  return words;
}

/** "15.0 °C, below its band 21.0–24.0 °C" for a zone outside its band; null when within or unknown. */
export function comfortWords(comfort: EquipmentOperation["comfort"], unit: string | null): string | null {
  if (!comfort || comfort.state === "within") return null;
  const f = (v: number | null) => (v === null ? "…" : formatValue(v, { kind: "number", unit }));
  const bare = (v: number) => formatValue(v, { kind: "number", unit: null });
  const band = comfort.low !== null && comfort.high !== null ? `${bare(comfort.low)}–${f(comfort.high)}` : comfort.low !== null ? `from ${f(comfort.low)}` : `up to ${f(comfort.high)}`;
  return `${f(comfort.value)}, ${comfort.state} its band ${band}`;
}

const SOURCE_WORDS: Record<string, string> = {
  operator: "an operator",
  api: "the API",
  logic: "a logic program",
  optimiser: "the optimiser",
};

/** "Off while scheduled on (held off at priority 8 by an operator)" for an equipment a schedule wants running. */
export function scheduleMissWords(miss: EquipmentOperation["scheduled_on_but_off"][number]): string {
  const held =
    miss.winning_source && miss.winning_source !== "schedule"
      ? ` (held at priority ${miss.winning_priority} by ${SOURCE_WORDS[miss.winning_source] ?? miss.winning_source})`
      : "";
  return `Off while scheduled on${held}`;
}
