/**
 * The block catalogue as the editor reads it (GET /api/v1/blocks): every
 * block kind's ports, parameters with units, limits and defaults. The browser
 * keeps no copy of its own; these helpers only decide what to draw from it.
 */
import { splitRef, VALUE_PORT } from "../lib/graph";
import type { BlockKind, BlockParam, BlockPort, BlockVariadic } from "../api/types";
import type { EditorGraph, EditorNode } from "./model";

export type { BlockKind } from "../api/types";
export type CatalogueParam = BlockParam;
type CataloguePort = BlockPort;
type CatalogueVariadic = BlockVariadic;

/** Names in a formula that are functions or words of the expression language, not inputs. */
const FORMULA_WORDS = new Set(["abs", "min", "max", "and", "or", "not", "if", "else", "true", "false", "True", "False"]);

/** The inputs a formula names (the expression block's ports): identifiers that are not the language's own words. */
export function formulaInputs(formula: unknown): string[] {
  if (typeof formula !== "string") return [];
  const text = formula.replace(/"[^"]*"|'[^']*'|`[^`]*`/g, " ");
  const out: string[] = [];
  for (const m of text.matchAll(/(?<![\w.])([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()/g)) {
    const name = m[1]!;
    if (!FORMULA_WORDS.has(name) && !out.includes(name)) out.push(name);
  }
  return out;
}

export interface PortView {
  name: string;
  type?: string;
  unit?: string | null;
  required?: boolean;
}

/** The palette's search: a kind matches when every word is in its kind, title or description. */
export function searchBlocks(kinds: readonly BlockKind[], query: string): BlockKind[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return [...kinds];
  return kinds.filter((k) => {
    const text = `${k.kind} ${k.title} ${k.description}`.toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

/** The ports wired on each side of a node, as named in the graph's wires. */
export function wiredPorts(g: EditorGraph, id: string): { ins: Set<string>; outs: Set<string> } {
  const ins = new Set<string>();
  const outs = new Set<string>();
  for (const e of g.edges) {
    const f = splitRef(e.from);
    const t = splitRef(e.to);
    if (f.node === id) outs.add(f.port);
    if (t.node === id) ins.add(t.port);
  }
  return { ins, outs };
}

/**
 * The ports a node shows. Inputs, constants and outputs have one, `value`. A
 * block shows its kind's ports; of a numbered family (in1…in8) the ones its
 * count parameter says, else the required ones, the wired ones and one spare
 * to wire next. A port wired but unknown to the catalogue is shown too, so
 * the wire has an end (the server's validation names the problem).
 */
export function portsOf(node: EditorNode, kind: BlockKind | undefined, wired: { ins: Set<string>; outs: Set<string> }): { ins: PortView[]; outs: PortView[] } {
  if (node.kind === "input" || node.kind === "constant") return { ins: [], outs: [{ name: VALUE_PORT }] };
  if (node.kind === "output") return { ins: [{ name: VALUE_PORT }], outs: [] };
  if (!kind) return { ins: [...wired.ins].map((name) => ({ name })), outs: [...wired.outs].map((name) => ({ name })) };
  const params = (node.data.params ?? {}) as Record<string, unknown>;
  const side = (ports: CataloguePort[], groups: CatalogueVariadic[], used: Set<string>): PortView[] => {
    const shown: PortView[] = [];
    for (const p of ports) {
      const g = p.group !== null ? groups.find((x) => x.group === p.group) : undefined;
      if (g) {
        const index = Number(p.name.slice(g.group.length));
        const counted = g.count_param !== null ? params[g.count_param] : undefined;
        let upTo: number;
        if (typeof counted === "number") upTo = g.first + counted - 1;
        else {
          const wiredIdx = [...used].filter((u) => u.startsWith(g.group)).map((u) => Number(u.slice(g.group.length))).filter(Number.isFinite);
          upTo = Math.min(g.last, Math.max(g.first + Math.max(g.required, 1) - 1, ...wiredIdx.map((i) => i + 1)));
        }
        if (index > upTo && !used.has(p.name)) continue;
      }
      shown.push({ name: p.name, type: p.type, unit: p.unit, required: p.required });
    }
    for (const u of used) if (!shown.some((s) => s.name === u)) shown.push({ name: u });
    return shown;
  };
  if (kind.dynamic_inputs) {
    const named = formulaInputs(params[kind.dynamic_inputs]);
    const ins = [...named, ...[...wired.ins].filter((w) => !named.includes(w))].map((name) => ({ name, type: "number" }));
    return { ins, outs: side(kind.outputs, kind.variadic_outputs, wired.outs) };
  }
  return { ins: side(kind.inputs, kind.variadic_inputs, wired.ins), outs: side(kind.outputs, kind.variadic_outputs, wired.outs) };
}

/** A parameter's limits and unit in words: "≥ 0, unit of a", "0 … 100 %". */
export function paramHint(p: CatalogueParam): string {
  const parts: string[] = [];
  const lo = p.minimum ?? p.exclusive_minimum;
  const hi = p.maximum ?? p.exclusive_maximum;
  const loS = p.exclusive_minimum !== null ? ">" : "≥";
  const hiS = p.exclusive_maximum !== null ? "<" : "≤";
  if (lo !== null && hi !== null) parts.push(`${lo} … ${hi}`);
  else if (lo !== null) parts.push(`${loS} ${lo}`);
  else if (hi !== null) parts.push(`${hiS} ${hi}`);
  if (p.unit) parts.push(p.unit);
  if (p.default !== null && p.default !== undefined) parts.push(`default ${JSON.stringify(p.default)}`);
  if (p.required) parts.push("required");
  return parts.join(", ");
}

/**
 * What the side panel's text box holds, read as the parameter's type: a
 * number, true/false, a choice, or JSON for the others; an empty box clears
 * the parameter (its default applies). A number that does not parse is an error in words.
 */
export function parseParam(p: CatalogueParam, text: string): { value: unknown } | { error: string } {
  const t = text.trim();
  if (t === "") return { value: undefined };
  if (p.nullable && t === "null") return { value: null };
  switch (p.type) {
    case "number":
    case "integer": {
      const v = Number(t);
      if (!Number.isFinite(v)) return { error: `${p.name}: expected a number, got “${t}”.` };
      if (p.type === "integer" && !Number.isInteger(v)) return { error: `${p.name}: expected a whole number, got “${t}”.` };
      return { value: v };
    }
    case "boolean":
      if (t === "true" || t === "false") return { value: t === "true" };
      return { error: `${p.name}: expected true or false, got “${t}”.` };
    case "enum": {
      const c = (p.choices ?? []).find((x) => String(x) === t);
      return c !== undefined ? { value: c } : { error: `${p.name}: expected one of ${(p.choices ?? []).map(String).join(", ")}, got “${t}”.` };
    }
    case "string":
      return { value: t };
    default:
      try {
        return { value: JSON.parse(t) as unknown };
      } catch {
        return { value: t };
      }
  }
}

/** A parameter's value as the side panel's text box shows it. */
export function paramText(v: unknown): string {
  if (v === undefined) return "";
  return typeof v === "string" ? v : JSON.stringify(v);
}
