/**
 * CSV and Excel downloads of what an analytics section shows: the same route with `format=csv` or
 * `format=xlsx` (the server writes the file: units in the header, the site's local times). Fetched
 * with the session's token, then saved under the server's file name.
 */
import { useState } from "preact/hooks";
import type { Query } from "../../api/client";
import { endpoints } from "../../api/endpoints";
import { useApp } from "../../context";
import { downloadName } from "../../lib/energyInsights";

/** `route` is the analytics route under …/analytics/ (forecast, peaks, cost, anomalies, baseline, savings). */
export function ExportButtons(props: { site: string; route: string; query: Query; what: string }) {
  const { api } = useApp();
  const [error, setError] = useState<string | null>(null);
  const save = async (format: "csv" | "xlsx") => {
    setError(null);
    try {
      const res = await endpoints.analyticsExport(api, props.site, props.route, props.query, format);
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement("a");
      a.href = url;
      a.download = downloadName(res.headers.get("content-disposition"), `${props.site}-${props.route.replace(/\W+/g, "-")}.${format}`);
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <span class="export no-print" role="group" aria-label={`Export ${props.what}`}>
      <button type="button" class="btn btn--small" onClick={() => void save("csv")}>CSV</button>{" "}
      <button type="button" class="btn btn--small" onClick={() => void save("xlsx")}>Excel</button>
      {error && <span class="small error" role="alert"> {error}</span>}
    </span>
  );
}
