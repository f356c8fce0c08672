/**
 * The next 24 hours of each meter: its newest load forecast (made every hour by the server) with a
 * band of its typical error and the actual energy of the hours that have ended. The band is
 * ± the day-ahead CV(RMSE) of the meter's own stored forecasts (lib/energyInsights' bandFraction),
 * drawn once a day of forecast hours has been scored.
 */
import { endpoints } from "../../api/endpoints";
import { useApp } from "../../context";
import { useLoad } from "../../hooks";
import { hourTick } from "../../lib/energy";
import { bandFraction, bandTotal, forecastBand, MIN_SCORED_HOURS } from "../../lib/energyInsights";
import { formatTime, formatValue } from "../../lib/format";
import { LoadState } from "../common";
import { ExportButtons } from "./Export";
import { LineChart } from "./LineChart";

const kwh = (v: number | null) => (v === null ? "—" : formatValue(v, { unit: "kWh" }));

export function NextDay(props: { site: string; hour: number }) {
  const { api } = useApp();
  const { site } = props;
  const data = useLoad(async () => {
    const [forecast, scores] = await Promise.all([endpoints.forecast(api, site, { hours: 24 }), endpoints.forecastScores(api, site)]);
    return { forecast, scores };
  }, [api, site, props.hour]);
  const d = data.data;
  const made = d ? d.forecast.forecasts.filter((f) => f.issued !== null && f.hours.length > 0) : [];
  return (
    <section class="card energy-forecast" aria-labelledby="energy-forecast-title">
      <h2 id="energy-forecast-title">Next 24 hours</h2>
      <p class="small">
        Forecast <ExportButtons site={site} route="forecast" query={{ hours: 24 }} what="the forecast" />
      </p>
      <LoadState {...data} />
      {d && made.length === 0 && (
        <p class="muted" data-testid="forecast-none">
          No forecast yet: the server forecasts a meter once it has a week of hourly history, every hour.
        </p>
      )}
      {d &&
        made.map((f) => {
          const score = d.scores.meters.find((m) => m.meter === f.meter)?.day_ahead ?? null;
          const fraction = bandFraction(score);
          const band = forecastBand(f, fraction);
          const total = bandTotal(band);
          const labels = band.map((h) => hourTick({ start: h.start, end: h.start + 3600, date: null, kwh: null }, d.forecast.timezone));
          return (
            <div key={f.meter} class="energy-forecast__meter" data-testid="forecast-meter" data-meter={f.meter}>
              <h3>{f.name}</h3>
              <p class="small muted">
                Made {formatTime((f.issued ?? 0) * 1000)}: {kwh(total.kwh)} expected
                {total.low !== null && total.high !== null ? ` (${kwh(total.low)} to ${kwh(total.high)})` : ""}.{" "}
                {fraction !== null && score
                  ? `The band is ± ${(fraction * 100).toFixed(1)} % of each hour: the day-ahead CV(RMSE) of this meter's forecasts over ${score.n} scored hours${score.mape_pct !== null ? ` (MAPE ${score.mape_pct.toFixed(1)} %)` : ""}.`
                  : `No band yet: it needs ${MIN_SCORED_HOURS} forecast hours compared with their actuals${score ? ` (${score.n} so far)` : ""}.`}
              </p>
              <LineChart
                title={`${f.name}: forecast by hour`}
                labels={labels}
                lines={[
                  { label: "Forecast", values: band.map((h) => h.kwh), colour: "var(--accent)", dashed: true },
                  { label: "Actual", values: band.map((h) => h.actual), colour: "var(--fg)" },
                ]}
                band={fraction === null ? undefined : { label: "Typical error", low: band.map((h) => h.low), high: band.map((h) => h.high) }}
              />
            </div>
          );
        })}
    </section>
  );
}
