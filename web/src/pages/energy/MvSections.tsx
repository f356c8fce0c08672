/**
 * Baseline and savings as the server computes them (GET …/analytics/baseline and …/savings), shown
 * on the energy page and in the printable report: the savings with their uncertainty, baseline
 * against actual in both periods, the fit statistics with the ASHRAE Guideline 14 verdict, the
 * model in words, and the non-routine events left out with their notes.
 */
import { endpoints } from "../../api/endpoints";
import type { MvBaseline, MvBaselineSummary, MvExclusion, MvSavings } from "../../api/types";
import { DataTable } from "../../components/DataTable";
import { useApp } from "../../context";
import { useLoad } from "../../hooks";
import { formatDate, formatValue } from "../../lib/format";
import { dayTick } from "../../lib/energy";
import {
  pct,
  savingsBucket,
  savingsParams,
  savingsWords,
  statRows,
  verdict,
  type ReportQuery,
  type StatRow,
} from "../../lib/mvReport";
import { LoadState } from "../common";
import { ExportButtons } from "./Export";
import { LineChart } from "./LineChart";

const kwh = (v: number | null) => (v === null ? "—" : formatValue(v, { unit: "kWh" }));

export function MvResults(props: { site: string; query: ReportQuery; timeZone: string; report?: boolean }) {
  const { api } = useApp();
  const { site, query, timeZone } = props;
  const params = savingsParams(query, timeZone);
  const bucket = savingsBucket(query, timeZone);
  const key = JSON.stringify([params, bucket]);
  const data = useLoad(async () => {
    const [baseline, saved] = await Promise.all([
      endpoints.baseline(api, site, { meter: params.meter, start: params.baseline_start, end: params.baseline_end, exclude: params.exclude }),
      endpoints.savings(api, site, { ...params, bucket }),
    ]);
    return { baseline, savings: saved };
  }, [api, site, key]);
  const d = data.data;
  return (
    <div class="mv-results" data-testid="mv-results">
      <LoadState {...data} />
      {d && (
        <>
          <SavingsSection s={d.savings} timeZone={timeZone} />
          {!props.report && (
            <p class="small">
              Savings <ExportButtons site={site} route="savings" query={{ ...params, bucket }} what="the savings" />
              {" "}· Baseline{" "}
              <ExportButtons site={site} route="baseline" query={{ meter: params.meter, start: params.baseline_start, end: params.baseline_end, exclude: params.exclude }} what="the baseline" />
            </p>
          )}
          <BaselineSection b={d.baseline} timeZone={timeZone} />
        </>
      )}
    </div>
  );
}

export function SavingsSection(props: { s: MvSavings; timeZone: string }) {
  const { s, timeZone } = props;
  const labels = s.series.map((b) => dayTick({ start: b.start, end: b.end, date: b.date, kwh: null }, timeZone));
  return (
    <section class="card mv-savings" aria-labelledby="mv-savings-title">
      <h2 id="mv-savings-title">Savings, reporting period</h2>
      <p class="mv-savings__words" data-testid="mv-savings">{savingsWords(s, (v) => kwh(v))}</p>
      <div class="tiles">
        <div class="tile">
          <div class="tile__label">Adjusted baseline</div>
          <div class="tile__value">{kwh(s.adjusted_baseline_kwh)}</div>
          <div class="small muted">what the building would have used</div>
        </div>
        <div class="tile">
          <div class="tile__label">Actual</div>
          <div class="tile__value">{kwh(s.actual_kwh)}</div>
          <div class="small muted">{s.rows} rows compared, {s.excluded_rows} excluded, {s.missing_hours} hours missing</div>
        </div>
        <div class="tile">
          <div class="tile__label">Avoided energy</div>
          <div class="tile__value" data-testid="mv-avoided">{kwh(s.avoided_kwh)}</div>
          <div class="small muted">{pct(s.savings_pct)} of the adjusted baseline</div>
        </div>
        <div class="tile">
          <div class="tile__label">Uncertainty, {pct(s.confidence * 100, 0)} confidence</div>
          <div class="tile__value">{s.fsu_pct === null ? "unbounded" : `± ${pct(s.fsu_pct, 1)}`}</div>
          <div class="small muted">{s.low_kwh === null || s.high_kwh === null ? "nothing saved to measure it against" : `${kwh(s.low_kwh)} to ${kwh(s.high_kwh)}`}</div>
        </div>
      </div>
      {s.series.length > 0 && (
        <>
          <LineChart
            title={`Baseline against actual, per ${s.bucket}`}
            labels={labels}
            testid="mv-reporting-chart"
            lines={[
              { label: "Adjusted baseline", values: s.series.map((b) => b.expected), colour: "var(--accent)", dashed: true },
              { label: "Actual", values: s.series.map((b) => b.actual), colour: "var(--fg)" },
            ]}
          />
          <LineChart
            title="Avoided energy to date"
            labels={labels}
            lines={[{ label: "Cumulative avoided", values: s.series.map((b) => b.cumulative_avoided), colour: "var(--ok)" }]}
          />
          <DataTable
            class="small mv-series"
            rows={s.series}
            rowKey={(b) => b.start}
            caption={`Savings per ${s.bucket}`}
            columns={[
              { key: "date", header: s.bucket === "day" ? "Day" : `${s.bucket[0]!.toUpperCase()}${s.bucket.slice(1)} from`, rowHeader: true, cell: (b) => b.date },
              { key: "expected", header: "Adjusted baseline", cell: (b) => kwh(b.expected) },
              { key: "actual", header: "Actual", cell: (b) => kwh(b.actual) },
              { key: "avoided", header: "Avoided", cell: (b) => kwh(b.avoided) },
              { key: "cum", header: "To date", cell: (b) => kwh(b.cumulative_avoided) },
            ]}
          />
        </>
      )}
      <Exclusions list={s.exclusions} timeZone={timeZone} what="reporting period" />
    </section>
  );
}

export function BaselineSection(props: { b: MvBaseline; timeZone: string }) {
  const { b, timeZone } = props;
  const labels = b.series.map((d) => dayTick({ start: d.start, end: d.start + 86_400, date: d.date, kwh: null }, timeZone));
  return (
    <section class="card mv-baseline" aria-labelledby="mv-baseline-title">
      <h2 id="mv-baseline-title">Baseline, {b.model.name}</h2>
      <Statistics b={b} />
      {b.series.length > 0 && (
        <LineChart
          title="Baseline period, per day: the model against the meter"
          labels={labels}
          testid="mv-baseline-chart"
          lines={[
            { label: "Model", values: b.series.map((d) => d.expected), colour: "var(--accent)", dashed: true },
            { label: "Actual", values: b.series.map((d) => d.actual), colour: "var(--fg)" },
          ]}
        />
      )}
      <Exclusions list={b.exclusions} timeZone={timeZone} what="baseline period" />
    </section>
  );
}

function Statistics(props: { b: MvBaselineSummary }) {
  const { b } = props;
  const rows = statRows(b);
  const candidates = Object.entries(b.model.candidates_cvrmse_pct);
  return (
    <>
      <p class={`verdict ${b.guideline14.met ? "verdict--met" : "verdict--not-met"}`} data-testid="mv-verdict">
        {verdict(b)}
      </p>
      <p class="small muted">
        {b.rows} {b.model.interval === "daily" ? "days" : "hours"} fitted, {b.excluded_rows} excluded, {b.missing_hours} hours missing (no energy or temperature).
      </p>
      <DataTable<StatRow>
        class="small mv-stats"
        rows={rows}
        rowKey={(r) => r.name}
        caption="Fit statistics of the baseline (ASHRAE Guideline 14)"
        columns={[
          { key: "name", header: "Statistic", rowHeader: true, cell: (r) => r.name },
          { key: "value", header: "Value", cell: (r) => r.value },
          { key: "criterion", header: "Guideline 14", cell: (r) => (r.criterion ? `${r.criterion}: ${r.met ? "met" : "not met"}` : "") },
        ]}
      />
      {b.model.words.length > 0 && (
        <>
          <h3>The model</h3>
          <ul class="small mv-model">
            {b.model.words.map((w) => (
              <li key={w}>{w}</li>
            ))}
            {candidates.length > 1 && <li>CV(RMSE) of whole days' totals by model: {candidates.map(([k, v]) => `${k} ${pct(v)}`).join(", ")}.</li>}
          </ul>
        </>
      )}
    </>
  );
}

function Exclusions(props: { list: MvExclusion[]; timeZone: string; what: string }) {
  if (props.list.length === 0) return <p class="small muted">No non-routine event excluded from the {props.what}.</p>;
  return (
    <DataTable
      class="small mv-exclusions"
      rows={props.list}
      rowKey={(e, i) => `${e.start}-${i}`}
      caption={`Non-routine events excluded from the ${props.what}`}
      columns={[
        { key: "from", header: "From", rowHeader: true, cell: (e) => formatDate(e.start * 1000, props.timeZone) },
        { key: "to", header: "Until (not included)", cell: (e) => formatDate(e.end * 1000, props.timeZone) },
        { key: "note", header: "Note", cell: (e) => e.note },
        { key: "rows", header: `Rows of the ${props.what}`, cell: (e) => String(e.rows) },
      ]}
    />
  );
}
