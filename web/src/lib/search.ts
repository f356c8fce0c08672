/**
 * The point explorer's search: one text box that also understands
 * `tag:temp`, `site:demo` and `equip:vav-c1` words, plus the form's own
 * tag, site and equipment fields, turned into GET /api/v1/points's query.
 */

export interface PointSearch {
  /** Free text; `tag:x`, `site:x`, `equip:x` (or `equipment:x`) words are taken out as filters. */
  text: string;
  /** Tags separated by commas or spaces; a point must carry every one. */
  tags: string;
  site: string;
  equipment: string;
}

export interface ParsedSearch {
  q: string;
  tags: string[];
  site: string | null;
  equipment: string | null;
}

const WORD = /^(tag|site|equip|equipment):(.+)$/i;

/** The filters a search form asks for (the text box's `site:`/`equip:` words win over empty fields). */
export function parseSearch(s: PointSearch): ParsedSearch {
  const words: string[] = [];
  const tags: string[] = [];
  let site = s.site.trim() || null;
  let equipment = s.equipment.trim() || null;
  for (const word of s.text.trim().split(/\s+/).filter(Boolean)) {
    const m = WORD.exec(word);
    if (!m) {
      words.push(word);
      continue;
    }
    const key = m[1]!.toLowerCase();
    const value = m[2]!;
    if (key === "tag") tags.push(...splitTags(value));
    else if (key === "site") site = value;
    else equipment = value;
  }
  for (const t of splitTags(s.tags)) tags.push(t);
  return { q: words.join(" "), tags: [...new Set(tags)], site, equipment };
}

export function splitTags(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((t) => t.trim())
    .filter(Boolean);
}

/** `?q=zone&tag=temp&tag=sensor&site=demo&limit=50&cursor=…` — tags repeated, empty filters left out. */
export function searchQueryString(p: ParsedSearch, opts: { limit?: number; cursor?: string | null } = {}): string {
  const params = new URLSearchParams();
  if (p.q) params.set("q", p.q);
  for (const t of p.tags) params.append("tag", t);
  if (p.site) params.set("site", p.site);
  if (p.equipment) params.set("equipment", p.equipment);
  params.set("limit", String(opts.limit ?? 50));
  if (opts.cursor) params.set("cursor", opts.cursor);
  return `?${params.toString()}`;
}

/** Whether the search asks for anything at all (an empty search lists every point, page by page). */
export function isEmptySearch(p: ParsedSearch): boolean {
  return !p.q && p.tags.length === 0 && !p.site && !p.equipment;
}

/** Points selected for the chart, grouped by site (history is asked per site). */
export function bySite(ids: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const id of ids) {
    const site = id.split("/")[0] ?? "";
    const list = out.get(site) ?? [];
    list.push(id);
    out.set(site, list);
  }
  return out;
}
