/**
 * Pages that, for now, show their list from the API as a table: schedules,
 * programs, devices, users, API tokens, the audit log; and energy's placeholder.
 */
import { useApp } from "../context";
import { useLoad } from "../hooks";
import type { ListPage } from "../router";
import { DataTable } from "../components/DataTable";
import { Trend } from "./Equipment";
import { endpoints } from "../api/endpoints";
import { LoadState } from "./common";

const PAGES: Record<ListPage, { title: string; path: (site: string) => string; columns?: string[]; note: string }> = {
  programs: {
    title: "Logic programs",
    path: (s) => `/sites/${s}/programs`,
    columns: ["id", "name", "enabled", "active_version", "latest_version", "updated_at"],
    note: "The program graph with live values, validate, deploy and roll back come next.",
  },
  devices: { title: "Devices", path: (s) => `/sites/${s}/devices`, columns: ["id", "state", "points", "last_ok", "last_error", "consecutive_failures", "errors"], note: "" },
  users: { title: "Users", path: () => "/users", columns: ["email", "name", "disabled", "locked", "grants", "updated_at"], note: "Editing users and their site roles comes next." },
  tokens: { title: "API tokens", path: () => "/tokens", columns: ["name", "prefix", "role", "created_at", "expires_at", "last_used_at", "revoked_at"], note: "Creating and revoking tokens comes next." },
  audit: { title: "Audit log", path: () => "/audit", columns: ["ts", "actor", "action", "target", "remote_addr", "details"], note: "" },
};

export function ListStub(props: { site: string | null; what: ListPage }) {
  const { api } = useApp();
  const page = PAGES[props.what];
  const path = page.path(encodeURIComponent(props.site ?? ""));
  const list = useLoad(() => endpoints.list(api, path), [api, path]);
  const items = list.data?.items ?? [];
  return (
    <main id="main">
      <h1>{page.title}</h1>
      {page.note && <p class="muted">{page.note}</p>}
      <LoadState {...list} />
      {list.data && <DataTable items={items} caption={page.title} columns={page.columns} />}
    </main>
  );
}

export function Energy(props: { site: string }) {
  const { api } = useApp();
  const meters = useLoad(() => endpoints.points(api, props.site, { tag: "elec" }), [api, props.site]);
  const ids = (meters.data ?? []).filter((p) => p.kind === "number").map((p) => p.id);
  return (
    <main id="main">
      <h1>Energy</h1>
      <p class="muted">Consumption by hour and day per meter, peak demand and period comparison come next; for now, the meters' trends.</p>
      <LoadState {...meters} />
      {meters.data && ids.length === 0 && <p class="muted">This site has no electricity meter points (tag “elec”).</p>}
      {ids.length > 0 && <Trend site={props.site} points={ids} labels={Object.fromEntries((meters.data ?? []).map((p) => [p.id, `${p.equipment}/${p.name}`]))} />}
    </main>
  );
}
