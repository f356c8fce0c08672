/**
 * The point explorer: search every site's points by text, tag, equipment or
 * site (GET /points, a page at a time), tick points to chart them together,
 * and export the chart's range as CSV.
 */
import { useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import { ApiError } from "../api/problem";
import type { PointSummary } from "../api/types";
import { DataTable } from "../components/DataTable";
import { ValueText } from "../components/Value";
import { useApp } from "../context";
import { useLive, useLoad, useNow } from "../hooks";
import { bySite, isEmptySearch, parseSearch, searchQueryString, type PointSearch } from "../lib/search";
import { href } from "../router";
import { Trend } from "../components/Trend";

const EMPTY: PointSearch = { text: "", tags: "", site: "", equipment: "" };

export function Points() {
  const { api } = useApp();
  const sites = useLoad(() => endpoints.sites(api), [api]);
  const [form, setForm] = useState<PointSearch>(EMPTY);
  const [results, setResults] = useState<PointSummary[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [selected, setSelected] = useState<PointSummary[]>([]);
  const live = useLive();
  const now = useNow(5000);

  const run = async (more: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const parsed = parseSearch(form);
      const page = await endpoints.searchPoints(api, searchQueryString(parsed, { cursor: more ? cursor : null }));
      setResults((cur) => (more && cur ? [...cur, ...page.items] : page.items));
      setCursor(page.next_cursor);
    } catch (err) {
      setError(err instanceof ApiError ? (err.status === 404 ? "No such site, or not yours to see." : err.message) : String(err));
    } finally {
      setBusy(false);
    }
  };
  const set = (k: keyof PointSearch) => (e: Event) => setForm({ ...form, [k]: (e.currentTarget as HTMLInputElement).value });
  const isSelected = (id: string) => selected.some((p) => p.id === id);
  const toggle = (p: PointSummary) =>
    setSelected((cur) => (cur.some((x) => x.id === p.id) ? cur.filter((x) => x.id !== p.id) : [...cur, p]));
  const groups = bySite(selected.map((p) => p.id));
  const labels = Object.fromEntries(selected.map((p) => [p.id, `${p.equipment}/${p.name}`]));

  return (
    <main id="main">
      <h1>Point explorer</h1>
      <form
        class="card"
        role="search"
        aria-label="Search points"
        onSubmit={(e) => {
          e.preventDefault();
          run(false);
        }}
      >
        <div class="row">
          <div class="field">
            <label for="pt-q">Text</label>
            <input id="pt-q" type="search" value={form.text} onInput={set("text")} placeholder="zone-temp, or tag:temp equip:vav-c1" aria-describedby="pt-q-hint" />
            <small id="pt-q-hint" class="hint">Words in the name or description; tag:, site: and equip: words filter too.</small>
          </div>
          <div class="field">
            <label for="pt-tag">Tags</label>
            <input id="pt-tag" value={form.tags} onInput={set("tags")} placeholder="temp, sensor" />
          </div>
          <div class="field">
            <label for="pt-equip">Equipment</label>
            <input id="pt-equip" value={form.equipment} onInput={set("equipment")} placeholder="ahu-1" />
          </div>
          <div class="field">
            <label for="pt-site">Site</label>
            <select id="pt-site" value={form.site} onChange={set("site")}>
              <option value="">All my sites</option>
              {(sites.data ?? []).map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name || s.id}
                </option>
              ))}
            </select>
          </div>
        </div>
        <div class="actions actions--left">
          <button type="submit" class="btn btn--primary" disabled={busy}>
            Search
          </button>
          {(results || !isEmptySearch(parseSearch(form))) && (
            <button type="button" class="btn" onClick={() => { setForm(EMPTY); setResults(null); setCursor(null); }}>
              Clear
            </button>
          )}
        </div>
      </form>
      {error && <p class="banner banner--error" role="alert">{error}</p>}
      {selected.length > 0 && (
        <section aria-label="Selected points">
          <p>
            Charting {selected.length} point{selected.length === 1 ? "" : "s"}{" "}
            <button type="button" class="btn btn--small" onClick={() => setSelected([])}>
              Clear selection
            </button>
          </p>
          {[...groups.entries()].map(([site, ids]) => (
            <Trend key={site} site={site} points={ids} labels={labels} title={groups.size > 1 ? `Trend: ${site}` : "Trend"} />
          ))}
        </section>
      )}
      {results && (
        <section aria-labelledby="pt-results">
          <h2 id="pt-results">
            {results.length} point{results.length === 1 ? "" : "s"}
            {cursor ? " so far" : ""}
          </h2>
          {results.length === 0 ? (
            <p class="muted">No point matches.</p>
          ) : (
            <DataTable
              class="points"
              rows={results}
              rowKey={(p) => p.id}
              caption="Points found"
              columns={[
                {
                  key: "chart",
                  header: "Chart",
                  cell: (p) => <input type="checkbox" aria-label={`Chart ${p.id}`} checked={isSelected(p.id)} disabled={p.kind === "enum"} onChange={() => toggle(p)} />,
                },
                {
                  key: "point",
                  header: "Point",
                  rowHeader: true,
                  cell: (p) => (
                    <>
                      {p.display_name && <div>{p.display_name}</div>}
                      <a href={href(`/sites/${p.site}/equipment/${p.equipment}`)} class="small">
                        {p.id}
                      </a>
                      {p.description && <div class="muted small">{p.description}</div>}
                    </>
                  ),
                },
                {
                  key: "value",
                  header: "Value",
                  cell: (p) => (
                    <>
                      <ValueText value={p.value} status={p.status} tsMs={p.ts === null ? null : p.ts * 1000} nowMs={now} live={live} point={p} />
                    </>
                  ),
                },
                { key: "tags", header: "Tags", headClass: "hide-sm", cellClass: "hide-sm small", cell: (p) => p.tags.join(", ") },
              ]}
            />
          )}
          {cursor && (
            <button type="button" class="btn" onClick={() => run(true)} disabled={busy}>
              More results
            </button>
          )}
        </section>
      )}
      {!results && selected.length === 0 && <p class="muted">Search, then tick points to chart them and export their history as CSV.</p>}
    </main>
  );
}
