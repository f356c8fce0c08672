/**
 * Floor plans: the site's plans (GET …/plans) as tabs, and the chosen one drawn as SVG, each zone a
 * rectangle coloured by its temperature against its comfort band (blue below, green within, red
 * above, grey without a value; the words say it too), with the temperature in the zone and a link to
 * the equipment serving it. Layout and bands are the server's; values are the live feed's.
 */
import { endpoints } from "../api/endpoints";
import type { Plan, PointSummary } from "../api/types";
import { ValueText } from "../components/Value";
import { useApp } from "../context";
import { useLive, useLiveSamples, useLoad, useNow } from "../hooks";
import { formatValue } from "../lib/format";
import { minDrawingWidth, zoneBand, zoneLabel, zoneTone, ZONE_WORDS, type ZoneTone } from "../lib/graphic";
import { winningByPoint } from "../lib/overrides";
import { href } from "../router";
import { LoadState, NotFound } from "./common";
import { useOverrides } from "./Overrides";

const FONT = 15;

export function FloorPlans(props: { site: string; space: string | null }) {
  const { api } = useApp();
  const { site } = props;
  const plans = useLoad(() => endpoints.plans(api, site), [api, site]);
  const space = props.space ?? plans.data?.[0]?.space ?? null;
  const known = !props.space || !plans.data || plans.data.some((p) => p.space === props.space);
  if (!known) {
    return <NotFound what={`A floor plan of “${props.space}” on site ${site}`} back={{ href: href(`/sites/${site}/plans`), label: "Back to the floor plans" }} />;
  }
  return (
    <main id="main">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={href(`/sites/${site}`)}>{site}</a> / <span aria-current="page">Floor plans</span>
      </nav>
      <h1>Floor plans</h1>
      <LoadState {...plans} />
      {plans.data && plans.data.length === 0 && <p class="muted">This site has no floor plan: no floor has zones.</p>}
      {plans.data && plans.data.length > 0 && (
        <nav aria-label="Floor plans" class="tabs">
          {plans.data.map((p) => (
            <a key={p.space} class="btn btn--small" href={href(`/sites/${site}/plans/${p.space}`)} aria-current={p.space === space ? "page" : undefined}
              aria-selected={p.space === space ? "true" : undefined}>
              {p.name} <span class="muted small">({p.zones} zones)</span>
            </a>
          ))}
        </nav>
      )}
      {space && <PlanView key={space} site={site} space={space} />}
    </main>
  );
}

function PlanView(props: { site: string; space: string }) {
  const { api } = useApp();
  const { site, space } = props;
  const plan = useLoad(() => endpoints.plan(api, site, space), [api, site, space]);
  const points = useLoad(() => endpoints.points(api, site), [api, site]);
  const ids = (plan.data?.zones ?? []).flatMap((z) => [z.temperature, z.low, z.high]).filter((x): x is string => !!x);
  const samples = useLiveSamples(ids);
  const live = useLive();
  const now = useNow();
  const overrides = useOverrides(site);
  const held = overrides.data ? winningByPoint(overrides.data) : null;
  const byId = new Map<string, PointSummary>();
  for (const p of points.data ?? []) {
    const s = samples.get(p.id);
    byId.set(p.id, s ? { ...p, ts: s[0], value: s[1], status: s[2] } : p);
  }
  if (!plan.data) return <LoadState {...plan} />;
  return (
    <section aria-labelledby="plan-title">
      <h2 id="plan-title">{plan.data.name}</h2>
      <p class="plan__legend small" aria-label="Colours">
        {(["cold", "ok", "hot", "none"] as ZoneTone[]).map((t) => (
          <span key={t} class={`zone--${t}`}>
            {ZONE_WORDS[t]}
          </span>
        ))}
      </p>
      <PlanDrawing plan={plan.data} points={byId} held={held} nowMs={now} live={live} site={site} />
    </section>
  );
}

function PlanDrawing(props: {
  plan: Plan;
  points: ReadonlyMap<string, PointSummary>;
  held: ReadonlyMap<string, import("../api/types").PointOverride> | null;
  nowMs: number;
  live: boolean;
  site: string;
}) {
  const { plan } = props;
  return (
    <div class="plan-wrap">
      <svg class="plan" viewBox={`0 0 ${plan.width} ${plan.height}`} role="group" aria-label={`Floor plan of ${plan.name}`}
        style={{ minWidth: `${minDrawingWidth(plan.width, FONT)}px`, maxWidth: `${Math.round(plan.width * 1.3)}px` }}>
        {plan.zones.map((z) => {
          const t = z.temperature ? props.points.get(z.temperature) : undefined;
          const lo = z.low ? props.points.get(z.low)?.value : undefined;
          const hi = z.high ? props.points.get(z.high)?.value : undefined;
          // The band said is the setpoints'; the colour allows the tolerance /operation allows.
          const band = zoneBand(lo, hi, z.band);
          const tone = zoneTone(t?.value, zoneBand(lo, hi, z.band, z.tolerance));
          const equip = z.equipment[0];
          return (
            <g key={z.space} class={`zone zone--${tone}`} data-zone={z.space} data-tone={tone}>
              <rect x={z.x + 1} y={z.y + 1} width={Math.max(0, z.w - 2)} height={Math.max(0, z.h - 2)} rx={3}>
                <title>{`${z.name}: ${ZONE_WORDS[tone]}`}</title>
              </rect>
              <foreignObject x={z.x + 2} y={z.y + 2} width={Math.max(0, z.w - 4)} height={Math.max(0, z.h - 4)}>
                <div class="plan__zone">
                  <div>{equip ? <a href={href(`/sites/${props.site}/equipment/${equip}`)} title={z.name}>{zoneLabel(z.name, plan.name)}</a> : <strong title={z.name}>{zoneLabel(z.name, plan.name)}</strong>}</div>
                  <div class="plan__temp">
                    {t ? (
                      <ValueText value={t.value} status={t.status} tsMs={t.ts === null ? null : t.ts * 1000} nowMs={props.nowMs} live={props.live}
                        point={t} override={props.held ? props.held.get(t.id) ?? null : undefined} />
                    ) : (
                      <span class="value value--unknown">no temperature point</span>
                    )}
                  </div>
                  <div class="muted">
                    {bandWords(band, t ?? { kind: "number", unit: "degC" })}
                    {tone !== "none" && tone !== "ok" && <> · {ZONE_WORDS[tone]}</>}
                  </div>
                </div>
              </foreignObject>
            </g>
          );
        })}
      </svg>
    </div>
  );
}

/** The band as the setpoints say it: "21.0 °C – 24.0 °C", "from 21.0 °C" (heating only), "up to 24.0 °C". */
function bandWords(band: [number, number] | null, point: Parameters<typeof formatValue>[1]): string {
  if (!band) return "no band";
  const [lo, hi] = band.map((v) => (Number.isFinite(v) ? formatValue(v, point) : null));
  return lo && hi ? `${lo} – ${hi}` : lo ? `from ${lo}` : hi ? `up to ${hi}` : "no band";
}
