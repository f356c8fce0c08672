/**
 * Hash routing (#/sites/hq/equipment/ahu-1): works from any URL the server
 * serves index.html at, and the page survives a reload.
 */
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { name: "sign-in"; next: string }
  | { name: "sites" }
  | { name: "overview"; site: string }
  | { name: "equipment"; site: string; equip: string }
  | { name: "alarms"; site: string }
  | { name: "overrides"; site: string }
  | { name: "list"; site: string | null; what: ListPage }
  | { name: "energy"; site: string; report?: string; query?: string }
  | { name: "plans"; site: string; space: string | null }
  | { name: "schedules"; site: string }
  | { name: "schedule"; site: string; schedule: string }
  | { name: "points" }
  | { name: "programs"; site: string }
  | { name: "program"; site: string; program: string }
  | { name: "users" }
  | { name: "tokens" }
  | { name: "audit" }
  | { name: "not-found"; path: string };

/** The pages that for now show their list from the API as a table. */
export type ListPage = "devices";
const SITE_LISTS = new Set(["devices"]);

/** The path part of the current hash ("/sites/hq"). */
export function currentPath(): string {
  return location.hash.replace(/^#/, "") || "/";
}

export function parseRoute(path: string): Route {
  const [pathname = "/", search = ""] = path.split("?");
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  const [a, b, c, d] = parts;
  if (a === "sign-in") return { name: "sign-in", next: new URLSearchParams(search).get("next") || "/" };
  if (!a) return { name: "sites" };
  if (a === "sites" && !b) return { name: "sites" };
  if (a === "points" && !b) return { name: "points" };
  if (a === "sites" && b) {
    if (!c) return { name: "overview", site: b };
    if (c === "equipment" && d && parts.length === 4) return { name: "equipment", site: b, equip: d };
    if (c === "alarms" && parts.length === 3) return { name: "alarms", site: b };
    if (c === "overrides" && parts.length === 3) return { name: "overrides", site: b };
    // With a query: a meter over a period (?meter=…&since=…&until=…, the anomalies' links; lib/energyInsights reads it).
    if (c === "energy" && parts.length === 3) return search ? { name: "energy", site: b, query: search } : { name: "energy", site: b };
    // The printable M&V report: its meter, periods and exclusions in the query (lib/mvReport reads them).
    if (c === "energy" && d === "report" && parts.length === 4) return { name: "energy", site: b, report: search };
    if (c === "plans" && parts.length === 3) return { name: "plans", site: b, space: null };
    if (c === "plans" && d && parts.length === 4) return { name: "plans", site: b, space: d };
    if (c === "schedules" && parts.length === 3) return { name: "schedules", site: b };
    if (c === "schedules" && d && parts.length === 4) return { name: "schedule", site: b, schedule: d };
    if (c === "programs" && parts.length === 3) return { name: "programs", site: b };
    if (c === "programs" && d && parts.length === 4) return { name: "program", site: b, program: d };
    if (SITE_LISTS.has(c) && parts.length === 3) return { name: "list", site: b, what: c as ListPage };
  }
  if (a === "admin" && parts.length === 2 && (b === "users" || b === "tokens" || b === "audit")) return { name: b };
  return { name: "not-found", path };
}

export function href(path: string): string {
  return `#${path}`;
}

export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, "", href(path));
  else location.hash = path;
  if (replace) dispatchEvent(new HashChangeEvent("hashchange"));
}

/** The sign-in page, remembering where to come back to. */
export function signInPath(next: string): string {
  return next && !next.startsWith("/sign-in") && next !== "/" ? `/sign-in?next=${encodeURIComponent(next)}` : "/sign-in";
}

export function useRoute(): Route {
  const [path, setPath] = useState(currentPath);
  useEffect(() => {
    const on = () => setPath(currentPath());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return parseRoute(path);
}
