/**
 * The printable M&V report (#/sites/{site}/energy/report?meter=…&baseline=…&reporting=…): one
 * page laid out for A4 (styles.css' print section hides the navigation and the buttons), that the
 * browser's Print → Save as PDF turns into the document. It holds the choice its address makes
 * (meter, periods, exclusions with their notes, confidence), the savings with their uncertainty,
 * baseline against actual as the charts render, the fit statistics with the ASHRAE Guideline 14
 * verdict, the model in words, the anomalies of the reporting period, the method and its
 * references, and who printed it and when by the server's clock.
 */
import { endpoints } from "../../api/endpoints";
import { useApp } from "../../context";
import { useLoad, useNow } from "../../hooks";
import { serverClock } from "../../lib/clock";
import { formatTime } from "../../lib/format";
import { confidenceWords, parseReportQuery, periodSeconds, type DayPeriod } from "../../lib/mvReport";
import { href } from "../../router";
import { LoadState } from "../common";
import { AnomalyList } from "./Anomalies";
import { MvResults } from "./MvSections";

const days = (p: DayPeriod) => `${p.start} to ${p.end} (end day not included)`;

export function Report(props: { site: string; search: string }) {
  const { api, me } = useApp();
  const { site } = props;
  const now = useNow(60_000);
  const info = useLoad(() => endpoints.site(api, site), [api, site]);
  const { query, errors } = parseReportQuery(props.search);
  const s = info.data;
  return (
    <main id="main" class="report">
      <nav aria-label="Breadcrumb" class="crumbs no-print">
        <a href={href(`/sites/${site}`)}>{site}</a> / <a href={href(`/sites/${site}/energy`)}>Energy</a> / <span aria-current="page">M&amp;V report</span>
      </nav>
      <p class="no-print report__actions">
        <button type="button" class="btn" onClick={() => print()} disabled={!query}>
          Print or save as PDF
        </button>{" "}
        <span class="small muted">A4; choose “Save as PDF” as the printer for a PDF.</span>
      </p>
      <h1>Measurement and verification report</h1>
      <LoadState {...info} />
      {errors.length > 0 && (
        <div class="banner banner--error" role="alert" data-testid="report-errors">
          <p>This report's address is incomplete or wrong:</p>
          <ul>
            {errors.map((e) => (
              <li key={e}>{e}</li>
            ))}
          </ul>
          <p>
            Choose the meter and the periods on the <a href={href(`/sites/${site}/energy`)}>Energy page</a> and follow its “Printable report” link.
          </p>
        </div>
      )}
      {query && s && (
        <>
          <dl class="report__facts" data-testid="report-facts">
            <dt>Site</dt>
            <dd>
              {s.name} ({s.id}), time zone {s.timezone}
            </dd>
            <dt>Meter</dt>
            <dd>{query.meter}</dd>
            <dt>Baseline period</dt>
            <dd>{days(query.baseline)}</dd>
            <dt>Reporting period</dt>
            <dd>{days(query.reporting)}</dd>
            <dt>Confidence</dt>
            <dd>{confidenceWords(query.confidence)}</dd>
            <dt>Printed</dt>
            {/* The server's time only: before it has told it, the browser's clock is no time to print. */}
            <dd data-testid="report-printed" data-now={serverClock.synced ? Math.floor(now / 1000) : undefined}>
              {serverClock.synced ? formatTime(now, s.timezone) : "…"} (building time, by the server's clock)
              {me ? ` by ${me.name || me.email}${me.name && me.email ? ` <${me.email}>` : ""}` : ""}
            </dd>
          </dl>
          <MvResults site={site} query={query} timeZone={s.timezone} report />
          <ReportAnomalies site={site} meter={query.meter} reporting={query.reporting} timeZone={s.timezone} />
          <Method />
        </>
      )}
    </main>
  );
}

function ReportAnomalies(props: { site: string; meter: string; reporting: DayPeriod; timeZone: string }) {
  const span = periodSeconds(props.reporting, props.timeZone);
  return <AnomalyList site={props.site} hour={0} since={span.start} until={span.end} meters={[props.meter]} exportable={false} />;
}

/** What the figures are and where the methods come from: the same for every report. */
function Method() {
  return (
    <section class="card report__method" aria-labelledby="report-method-title">
      <h2 id="report-method-title">Method and references</h2>
      <p>
        Savings are determined by IPMVP option C (whole-facility metering): a baseline model of the meter is fitted on the baseline period
        and applied to the reporting period's outdoor temperature and calendar, giving the <em>adjusted baseline</em>, the energy the
        building would have used without the measure. <em>Avoided energy</em> is the adjusted baseline less the energy measured.
      </p>
      <p>
        Hourly data are modelled by time of week and temperature (LBNL TOWT, the CalTRACK 2.0 hourly method, occupancy-aware); daily data
        by a change-point model with heating and cooling degree days at fitted balance points (the CalTRACK 2.0 daily method); the model
        of lower CV(RMSE) on daily totals is used. Periods listed as exclusions (non-routine events) are left out with their note.
      </p>
      <p>
        The fit is judged by ASHRAE Guideline 14-2014: CV(RMSE) and NMBE with n − p degrees of freedom, and its criteria (hourly data:
        CV(RMSE) ≤ 30 % and NMBE within ±10 %; monthly: 15 % and ±5 %). The uncertainty of the savings is Guideline 14 Annex B's
        fractional savings uncertainty at the stated confidence, corrected for the autocorrelation of the residuals.
      </p>
      <ul class="small">
        <li>EVO, International Performance Measurement and Verification Protocol (IPMVP), Core Concepts, 2022.</li>
        <li>ASHRAE Guideline 14-2014, Measurement of Energy, Demand, and Water Savings.</li>
        <li>CalTRACK Methods 2.0 (daily and hourly methods), caltrack.org.</li>
        <li>J. L. Mathieu, P. N. Price, S. Kiliccote, M. A. Piette, “Quantifying Changes in Building Electricity Use, With Application to Demand Response”, IEEE Transactions on Smart Grid 2(3), 2011 (LBNL time-of-week-and-temperature model).</li>
      </ul>
      <p class="small muted">Figures computed by openbms on the site's meter history; see docs/analytics.md.</p>
    </section>
  );
}
