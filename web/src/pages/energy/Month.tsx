/**
 * This month so far (the site's calendar month, up to the server's now): the peak 15-minute demand
 * of each main meter and what the tariff's meters cost, line by line (energy at each time-of-use
 * rate, the demand charge, fixed charges), as the server prices them.
 */
import { endpoints } from "../../api/endpoints";
import { DataTable } from "../../components/DataTable";
import { useApp } from "../../context";
import { useLoad } from "../../hooks";
import { costParts, costTotals, formatMoney, monthPeak } from "../../lib/energyInsights";
import { formatTime, formatValue } from "../../lib/format";
import { LoadState } from "../common";
import { ExportButtons } from "./Export";

export function Month(props: { site: string; hour: number; until: number }) {
  const { api } = useApp();
  const { site } = props;
  // The default window is 15 minutes; the route refuses an explicit window=15 today (a Literal of ints
  // read from a query string), so none is sent.
  const peaks = useLoad(() => endpoints.peaks(api, site, { bucket: "month", count: 1, until: props.until }), [api, site, props.hour]);
  const cost = useLoad(async () => {
    try {
      return await endpoints.cost(api, site, { bucket: "month", count: 1, until: props.until });
    } catch (err) {
      // A site without a tariff has no cost: said as such, not as an error.
      const e = err as { problem?: { errors?: { type?: string }[] } };
      if (e.problem?.errors?.some((i) => i.type === "no_tariff")) return null;
      throw err;
    }
  }, [api, site, props.hour]);
  const p = peaks.data ? monthPeak(peaks.data) : [];
  const c = cost.data;
  const parts = c ? costParts(c, 0) : [];
  const totals = c ? costTotals(c, 0) : null;
  const money = (v: number) => (c ? formatMoney(v, c.currency) : "");
  return (
    <section class="card energy-month" aria-labelledby="energy-month-title">
      <h2 id="energy-month-title">This month so far</h2>
      <LoadState {...peaks} />
      <div class="tiles">
        {p.map((x) => (
          <div class="tile" key={x.name} data-testid="month-peak">
            <div class="tile__label">Peak demand (15 min), {x.name}</div>
            <div class="tile__value">{formatValue(x.kw, { unit: "kW" })}</div>
            <div class="small muted">{formatTime(x.at * 1000)}</div>
          </div>
        ))}
        {peaks.data && p.length === 0 && <p class="muted small">No peak demand known this month yet.</p>}
        {totals && c && (
          <div class="tile" data-testid="month-cost">
            <div class="tile__label">Cost, tariff {c.tariff}</div>
            <div class="tile__value">{money(totals.total)}</div>
            <div class="small muted">
              energy {money(totals.energy)}
              {totals.demand !== null ? ` · demand ${money(totals.demand)}` : ""} · fixed {money(totals.fixed)}
            </div>
          </div>
        )}
      </div>
      <p class="small">
        Peaks <ExportButtons site={site} route="peaks" query={{ bucket: "month", count: 1 }} what="the peaks" />
        {c && (
          <>
            {" "}· Cost <ExportButtons site={site} route="cost" query={{ bucket: "month", count: 1 }} what="the cost" />
          </>
        )}
      </p>
      <LoadState {...cost} />
      {cost.data === null && !cost.loading && !cost.error && <p class="muted small" data-testid="month-no-tariff">No cost: this site has no tariff (add one under <code>tariffs:</code> in its file).</p>}
      {totals && totals.unknownS > 0 && (
        <p class="small muted">{Math.round(totals.unknownS / 3600)} h of this month have no known energy and are not priced.</p>
      )}
      {c && parts.length > 0 && (
        <DataTable
          class="small cost-lines"
          rows={parts}
          rowKey={(r, i) => `${r.kind}-${r.name}-${i}`}
          caption={`Cost by the tariff's parts, ${c.tariff}`}
          columns={[
            { key: "name", header: "Charge", rowHeader: true, cell: (r) => r.name },
            { key: "kind", header: "Kind", cell: (r) => r.kind },
            { key: "basis", header: "Quantity × rate", cell: (r) => r.basis },
            { key: "amount", header: "Amount", cell: (r) => money(r.amount) },
            { key: "at", header: "When", cell: (r) => (r.at === null ? "" : formatTime(r.at * 1000)) },
          ]}
        />
      )}
    </section>
  );
}
