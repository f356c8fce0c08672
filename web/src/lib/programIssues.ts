/**
 * A program's problems in plain words: "wires[3].to" becomes "Wire 4
 * (oat → sat-reset.x), its destination", so an operator need not count.
 */
import type { FieldIssue } from "../api/problem";
import type { ProgramDoc } from "./graph";

export interface ProgramIssue {
  path: string;
  message: string;
}

const FIELD_WORDS: Record<string, string> = {
  to: "its destination",
  from: "its source",
  point: "its point",
  block: "its block type",
  params: "its settings",
  priority: "its priority",
  id: "its id",
  period_s: "the run period",
  site: "the site",
  name: "the name",
};

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function sentence(msg: string): string {
  const t = msg.trim().replace(/^Value error, /, "");
  if (!t) return "This is not valid.";
  const s = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

/** "blocks[0].params.x1" → ["blocks", 0, "params", "x1"]. */
export function pathParts(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const part of path.split(".")) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    if (m[1]) out.push(m[1]);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

/** Where an issue is, in words, using the document to name the element. */
export function describePath(path: string, doc: Partial<ProgramDoc> | null): string {
  const parts = pathParts(path);
  if (parts.length === 0 || path === "program" || path === "") return "The program";
  const [list, index, ...rest] = parts;
  let where: string;
  if (typeof index === "number" && (list === "wires" || list === "inputs" || list === "blocks" || list === "outputs")) {
    const n = index + 1;
    if (list === "wires") {
      const w = doc?.wires?.[index];
      where = w ? `Wire ${n} (${w.from} → ${w.to})` : `Wire ${n}`;
    } else {
      const el = (doc?.[list] as { id?: string }[] | undefined)?.[index];
      const noun = list === "inputs" ? "Input" : list === "blocks" ? "Block" : "Output";
      where = el?.id ? `${noun} “${el.id}”` : `${noun} ${n}`;
    }
  } else {
    const word = FIELD_WORDS[String(list)];
    where = word ? cap(word.replace(/^its /, "")) : `“${String(list)}”`;
    return rest.length ? `${where}, ${rest.join(".")}` : where;
  }
  if (rest.length === 0) return where;
  const first = String(rest[0]);
  const tail = rest.slice(1).map(String).join(".");
  const field = first === "params" && tail ? `setting “${tail}”` : FIELD_WORDS[first] ?? `“${[first, tail].filter(Boolean).join(".")}”`;
  return `${where}, ${field}`;
}

/** One issue as a sentence: "Wire 4 (oat → sat-reset.y), its destination: no such port." */
export function formatIssue(issue: ProgramIssue, doc: Partial<ProgramDoc> | null): string {
  return `${describePath(issue.path, doc)}: ${sentence(issue.message)}`;
}

/** A 422's field issues (loc ["body", "program", "blocks", 0, "colour"]) as program issues. */
export function issuesFromProblem(errors: readonly FieldIssue[] | undefined): ProgramIssue[] {
  return (errors ?? []).map((e) => {
    let loc = [...e.loc];
    if (loc[0] === "body") loc = loc.slice(1);
    if (loc[0] === "program") loc = loc.slice(1);
    const path = loc.reduce<string>(
      (acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc ? `${acc}.${p}` : String(p)),
      "",
    );
    return { path: path || "program", message: e.msg };
  });
}

/** Parse the editor's text; a syntax error comes back in words with its line. */
export function parseProgramText(text: string): { doc: ProgramDoc | null; error: string | null } {
  try {
    const doc = JSON.parse(text) as unknown;
    if (!doc || typeof doc !== "object" || Array.isArray(doc)) return { doc: null, error: "The program must be a JSON object ({ … })." };
    return { doc: doc as ProgramDoc, error: null };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const pos = /position (\d+)/.exec(msg);
    let where = "";
    if (pos) {
      const before = text.slice(0, Number(pos[1]));
      const line = before.split("\n").length;
      where = ` (line ${line})`;
    }
    return { doc: null, error: `This is not valid JSON${where}: ${msg.replace(/^JSON\.parse: /, "")}` };
  }
}
