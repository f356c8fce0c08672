/**
 * The anomalies the server found in the site's meters (consumption far from its model, base load
 * creeping, a meter stuck or jumping), newest first, each with its evidence and a link to the
 * meter's history over the period; each also raised an alarm, whose state is shown.
 */
import { endpoints } from "../../api/endpoints";
import type { Anomaly } from "../../api/types";
import { DataTable } from "../../components/DataTable";
import { useApp } from "../../context";
import { useLoad } from "../../hooks";
import { anomalyKind } from "../../lib/energyInsights";
import { formatTime, formatValue, stateWords } from "../../lib/format";
import { href } from "../../router";
import { LoadState } from "../common";
import { ExportButtons } from "./Export";

const kwh = (v: number | null) => (v === null ? "—" : formatValue(v, { unit: "kWh" }));

export function AnomalyList(props: { site: string; hour: number; since?: number; until?: number; meters?: string[]; exportable?: boolean }) {
  const { api } = useApp();
  const { site } = props;
  const data = useLoad(
    () => endpoints.anomalies(api, site, { since: props.since, until: props.until, meters: props.meters, limit: 50 }),
    [api, site, props.hour, props.since, props.until, (props.meters ?? []).join(",")],
  );
  return (
    <section class="card energy-anomalies" aria-labelledby="energy-anomalies-title">
      <h2 id="energy-anomalies-title">Anomalies</h2>
      {props.exportable !== false && (
        <p class="small">
          Anomalies <ExportButtons site={site} route="anomalies" query={{ limit: 50 }} what="the anomalies" />
        </p>
      )}
      <LoadState {...data} />
      {data.data && (
        <DataTable<Anomaly>
          class="small anomalies"
          rows={data.data.anomalies}
          rowKey={(a) => a.id}
          caption="Anomalies found in the meters, newest first"
          empty={<p class="muted" data-testid="anomalies-none">No anomaly found.</p>}
          columns={[
            { key: "when", header: "Period", rowHeader: true, cell: (a) => `${formatTime(a.start * 1000)} – ${formatTime(a.end * 1000)}` },
            { key: "meter", header: "Meter", cell: (a) => a.name },
            { key: "kind", header: "What", cell: (a) => anomalyKind(a.kind) },
            { key: "evidence", header: "Expected / actual", cell: (a) => (a.expected_kwh === null && a.actual_kwh === null ? "—" : `${kwh(a.expected_kwh)} / ${kwh(a.actual_kwh)}`) },
            { key: "message", header: "Finding", cell: (a) => a.message },
            { key: "alarm", header: "Alarm", cell: (a) => (a.alarm_state ? stateWords(a.alarm_state) : "—") },
            { key: "chart", header: <span class="sr-only">History</span>, cell: (a) => <a href={href(a.chart)} class="no-print">History</a> },
          ]}
        />
      )}
    </section>
  );
}
