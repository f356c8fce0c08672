/**
 * What deploying an edited program changes against the running version, as
 * lines a person reads before confirming: nodes added, removed or changed
 * (a block's kind and each parameter, an input's or output's point, an
 * output's priority, a constant's value), wires added and removed, and the
 * program's own fields (name, period). Positions on the canvas are not
 * behaviour: a layout change is one line at the end.
 */
import { splitRef, type ProgramDoc } from "../lib/graph";
import { canonicalJson } from "./model";

export interface Change {
  kind: "added" | "removed" | "changed";
  /** What changed, in words: "block “pid”", "wire oat → pid.pv", "the run period". */
  what: string;
  /** For a change: "kp 4 → 5"; empty for an added or removed element. */
  detail: string;
}

const show = (v: unknown) => (v === undefined ? "(none)" : JSON.stringify(v));
/** Equal as JSON, key order aside (a file's layout and params may list keys in any order). */
const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);

const NOUN = { inputs: "input", constants: "constant", blocks: "block", outputs: "output" } as const;

/** A wire's ends with ports written out, so "oat" and "oat.value" are one wire. */
const wireKey = (w: { from: string; to: string }) => {
  const f = splitRef(w.from);
  const t = splitRef(w.to);
  return `${f.node}.${f.port} → ${t.node}.${t.port}`;
};

export function diffPrograms(running: ProgramDoc | null, edited: ProgramDoc): Change[] {
  const out: Change[] = [];
  const before = running ?? ({ inputs: [], blocks: [], outputs: [], wires: [] } as unknown as ProgramDoc);
  for (const [k, label] of [["name", "the name"], ["description", "the description"], ["period_s", "the run period (s)"]] as const) {
    if (running && !same(before[k], edited[k])) out.push({ kind: "changed", what: label, detail: `${show(before[k])} → ${show(edited[k])}` });
  }
  for (const list of ["inputs", "constants", "blocks", "outputs"] as const) {
    const a = new Map(((before[list] ?? []) as Record<string, unknown>[]).map((e) => [String(e.id), e]));
    const b = new Map(((edited[list] ?? []) as Record<string, unknown>[]).map((e) => [String(e.id), e]));
    for (const [id, el] of b) {
      const old = a.get(id);
      const what = `${NOUN[list]} “${id}”`;
      if (!old) {
        out.push({ kind: "added", what, detail: summary(el) });
        continue;
      }
      const details: string[] = [];
      const keys = new Set([...Object.keys(old), ...Object.keys(el)]);
      for (const k of keys) {
        if (k === "id" || k === "params" || same(old[k], el[k])) continue;
        details.push(`${k} ${show(old[k])} → ${show(el[k])}`);
      }
      const pa = (old.params ?? {}) as Record<string, unknown>;
      const pb = (el.params ?? {}) as Record<string, unknown>;
      for (const k of new Set([...Object.keys(pa), ...Object.keys(pb)])) {
        if (!same(pa[k], pb[k])) details.push(`${k} ${show(pa[k])} → ${show(pb[k])}`);
      }
      if (details.length) out.push({ kind: "changed", what, detail: details.join(", ") });
    }
    for (const [id, el] of a) if (!b.has(id)) out.push({ kind: "removed", what: `${NOUN[list]} “${id}”`, detail: summary(el) });
  }
  const wa = new Set((before.wires ?? []).map(wireKey));
  const wb = new Set((edited.wires ?? []).map(wireKey));
  for (const w of wb) if (!wa.has(w)) out.push({ kind: "added", what: `wire ${w.replace(/\.value\b/g, "")}`, detail: "" });
  for (const w of wa) if (!wb.has(w)) out.push({ kind: "removed", what: `wire ${w.replace(/\.value\b/g, "")}`, detail: "" });
  if (running && out.length === 0 && !same(running.layout ?? {}, edited.layout ?? {})) {
    out.push({ kind: "changed", what: "the layout", detail: "positions on the canvas only (no change in behaviour)" });
  }
  return out;
}

function summary(el: Record<string, unknown>): string {
  if (typeof el.block === "string") return el.block;
  if (typeof el.point === "string") return el.point;
  if ("value" in el) return show(el.value);
  return "";
}

/** One change as a sentence: "Changed block “pid”: kp 4 → 5." */
export function changeText(c: Change): string {
  const verb = c.kind === "added" ? "Added" : c.kind === "removed" ? "Removed" : "Changed";
  return `${verb} ${c.what}${c.detail ? `: ${c.detail}` : ""}.`;
}
