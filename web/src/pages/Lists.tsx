/**
 * Pages that, for now, show their list from the API as a table: devices.
 */
import { useApp } from "../context";
import { useLoad, useSiteZone } from "../hooks";
import type { ListPage } from "../router";
import { ObjectTable } from "../components/DataTable";
import { endpoints } from "../api/endpoints";
import { LoadState } from "./common";

const PAGES: Record<ListPage, { title: string; path: (site: string) => string; columns?: string[]; note: string }> = {
  devices: { title: "Devices", path: (s) => `/sites/${s}/devices`, columns: ["id", "state", "points", "last_ok", "last_error", "consecutive_failures", "errors"], note: "" },
};

export function ListStub(props: { site: string | null; what: ListPage }) {
  const { api } = useApp();
  const page = PAGES[props.what];
  const path = page.path(encodeURIComponent(props.site ?? ""));
  const list = useLoad(() => endpoints.list(api, path), [api, path]);
  useSiteZone(props.site);
  const items = list.data?.items ?? [];
  return (
    <main id="main">
      <h1>{page.title}</h1>
      {page.note && <p class="muted">{page.note}</p>}
      <LoadState {...list} />
      {list.data && <ObjectTable items={items} caption={page.title} columns={page.columns} />}
    </main>
  );
}

