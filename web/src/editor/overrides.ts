/**
 * Commissioning overrides of a running program, as the editor's live view
 * makes and shows them (POST/GET/DELETE …/programs/{id}/overrides). The
 * server holds the override (a block's output in the engine, or an output
 * node's point through the arbiter) and audits it; these only build the
 * request from the side panel's form and word what the server lists.
 */
import type { ProgramOverride, Value } from "../api/types";
import { formatTime, formatValue } from "../lib/format";

/** The longest override the server takes: 7 days. */
export const MAX_OVERRIDE_MINUTES = 7 * 24 * 60;

export interface OverrideForm {
  /** As typed: a number, or for a bool port true/false (on/off, 1/0). */
  value: string;
  /** How long, in minutes (the server's clock). */
  minutes: string;
  /** Why (required: kept in the audit log). */
  reason: string;
}

export interface OverrideBody {
  port: string;
  value: number | boolean;
  duration_s: number;
  reason: string;
}

const TRUE = new Set(["true", "on", "1", "yes"]);
const FALSE = new Set(["false", "off", "0", "no"]);

/**
 * The request that holds `port` ("node.port") at the form's value, or the
 * first thing wrong with the form, named by its field. `type` is the port's
 * from the catalogue: a bool port takes true/false, a number port a number,
 * an "any" port either.
 */
export function overrideRequest(port: string, type: "number" | "bool" | "any" | undefined, form: OverrideForm): { body: OverrideBody } | { error: string } {
  const text = form.value.trim();
  let value: number | boolean | undefined;
  if (type !== "number" && TRUE.has(text.toLowerCase())) value = true;
  else if (type !== "number" && FALSE.has(text.toLowerCase())) value = false;
  else if (type !== "bool" && text !== "" && Number.isFinite(Number(text))) value = Number(text);
  if (value === undefined)
    return {
      error:
        type === "bool"
          ? `Value: expected true or false (on/off, 1/0), got “${text}”.`
          : type === "number"
            ? `Value: expected a number, got “${text}”.`
            : `Value: expected a number or true/false, got “${text}”.`,
    };
  if (type === "bool" && typeof value === "number") value = value !== 0;
  const m = form.minutes.trim();
  const minutes = Number(m);
  if (m === "" || !Number.isFinite(minutes) || minutes <= 0 || minutes > MAX_OVERRIDE_MINUTES)
    return { error: `Duration: expected minutes, more than 0 and at most ${MAX_OVERRIDE_MINUTES} (7 days), got “${m}”.` };
  const reason = form.reason.trim();
  if (!reason) return { error: "Reason: say why (it is kept in the audit log)." };
  return { body: { port, value, duration_s: Math.round(minutes * 60), reason } };
}

/** What the form starts with for a port: its live value (a bool port true/false), 30 minutes, no reason. */
export function overrideFormFor(live: Value | undefined): OverrideForm {
  return { value: live === undefined || live === null ? "" : String(live), minutes: "30", reason: "" };
}

/** "Held at 21.5 by ann@example.com until 09:41:07 (commissioning the damper)"; a point's with its priority. */
export function overrideWords(o: ProgramOverride): string {
  const what = o.kind === "point" ? `${o.point ?? o.port} commanded to ${formatValue(o.value)} at priority ${o.priority ?? 8}` : `Held at ${formatValue(o.value)}`;
  const who = o.requested_by ? ` by ${o.requested_by}` : "";
  const until = o.until === null ? ", until released" : ` until ${formatTime(o.until * 1000)}`;
  const why = o.reason ? ` (${o.reason})` : "";
  return `${what}${who}${until}${why}`;
}

/** The held block outputs ("node.port") and the nodes held (a block's by any of its outputs, an output node's by its point). */
export function heldTargets(list: readonly ProgramOverride[] | null): { ports: Set<string>; nodes: Set<string> } {
  const ports = new Set<string>();
  const nodes = new Set<string>();
  for (const o of list ?? []) {
    if (o.kind === "block") {
      ports.add(o.port);
      nodes.add(o.port.split(".")[0]!);
    } else nodes.add(o.port.split(".")[0]!);
  }
  return { ports, nodes };
}

/** The overrides of one node: its block outputs ("node.…") or, for an output node, its point's. */
export function overridesOf(list: readonly ProgramOverride[] | null, node: string): ProgramOverride[] {
  return (list ?? []).filter((o) => o.port === node || o.port.startsWith(`${node}.`));
}
