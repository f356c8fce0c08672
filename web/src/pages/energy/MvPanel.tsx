/**
 * Measurement and verification on the energy page: choose a meter, a baseline period and a
 * reporting period (local dates of the site; proposed from the server's clock: the last 30 days
 * and the year before them), the non-routine events to leave out, and the confidence; the page
 * then shows the server's baseline against actual and the savings with their uncertainty, and
 * links to the printable report of the same choice.
 */
import { useState } from "preact/hooks";
import { href } from "../../router";
import { confidenceFromPercent, defaultPeriods, parseExclusion, parsePeriod, reportPath, type ReportQuery } from "../../lib/mvReport";
import { MvResults } from "./MvSections";

export function MvPanel(props: { site: string; timeZone: string; nowMs: number; meters: { id: string; name: string }[] }) {
  const { site, timeZone } = props;
  const first = props.meters[0]?.id ?? "";
  const short = (id: string) => id.split("/").slice(1).join("/");
  const [initial] = useState(() => defaultPeriods(props.nowMs, timeZone));
  const [meter, setMeter] = useState(short(first));
  const [baseline, setBaseline] = useState(`${initial.baseline.start}/${initial.baseline.end}`);
  const [reporting, setReporting] = useState(`${initial.reporting.start}/${initial.reporting.end}`);
  const [exclusions, setExclusions] = useState("");
  const [confidence, setConfidence] = useState("90");
  const [shown, setShown] = useState<ReportQuery | null>(null);

  const b = parsePeriod(baseline, "Baseline period");
  const r = parsePeriod(reporting, "Reporting period");
  const ex = exclusions.split("\n").map((l) => l.trim()).filter(Boolean).map(parseExclusion);
  const c = confidenceFromPercent(confidence);
  const errors = [
    typeof b === "string" ? b : null,
    typeof r === "string" ? r : null,
    typeof b !== "string" && typeof r !== "string" && r.start < b.end ? `Reporting period: it starts before the baseline ends (${b.end})` : null,
    ...ex.filter((e): e is string => typeof e === "string").map((e) => `Exclusions: ${e}`),
    c === null ? "Confidence: expected a percentage from 50 to 99.9, e.g. 90" : null,
    meter ? null : "Meter: choose one",
  ].filter((e): e is string => e !== null);
  const query: ReportQuery | null =
    errors.length === 0 && typeof b !== "string" && typeof r !== "string" && c !== null
      ? { meter, baseline: b, reporting: r, exclude: ex.filter((e): e is Exclude<typeof e, string> => typeof e !== "string"), confidence: c }
      : null;

  return (
    <section class="card energy-mv" aria-labelledby="energy-mv-title">
      <h2 id="energy-mv-title">Baseline and savings (M&amp;V)</h2>
      <p class="small muted">
        A weather-normalised baseline fitted on the baseline period, and the savings over the reporting period with their uncertainty
        (ASHRAE Guideline 14, IPMVP option C). Dates are the site's local days ({timeZone}); the end day is not included.
      </p>
      <form
        class="mv-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (query) setShown(query);
        }}
      >
        <label>
          Meter{" "}
          <select value={meter} onChange={(e) => setMeter((e.target as HTMLSelectElement).value)}>
            {props.meters.map((m) => (
              <option key={m.id} value={short(m.id)}>
                {m.name} ({short(m.id)})
              </option>
            ))}
          </select>
        </label>
        <label>
          Baseline period <input name="baseline" value={baseline} size={23} onInput={(e) => setBaseline((e.target as HTMLInputElement).value)} placeholder="2025-01-01/2026-01-01" />
        </label>
        <label>
          Reporting period <input name="reporting" value={reporting} size={23} onInput={(e) => setReporting((e.target as HTMLInputElement).value)} placeholder="2026-01-01/2026-02-01" />
        </label>
        <label>
          Confidence (%) <input name="confidence" type="number" min="50" max="99.9" step="0.1" value={confidence} onInput={(e) => setConfidence((e.target as HTMLInputElement).value)} style={{ width: "5em" }} />
        </label>
        <label class="mv-form__wide">
          Non-routine events to leave out, one a line: START/END and why{" "}
          <textarea name="exclude" rows={2} value={exclusions} onInput={(e) => setExclusions((e.target as HTMLTextAreaElement).value)} placeholder="2026-03-02/2026-03-09 chiller replaced" />
        </label>
        {errors.length > 0 && (
          <ul class="small error" role="alert" data-testid="mv-errors">
            {errors.map((e) => (
              <li key={e}>{e}</li>
            ))}
          </ul>
        )}
        <div>
          <button type="submit" class="btn" disabled={!query}>
            Show
          </button>{" "}
          {query && (
            <a class="btn" href={href(reportPath(site, query))} data-testid="mv-report-link">
              Printable report
            </a>
          )}
        </div>
      </form>
      {shown && <MvResults site={site} query={shown} timeZone={timeZone} />}
    </section>
  );
}
