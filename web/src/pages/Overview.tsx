/**
 * A site at a glance: key values (outdoor air, supply air, zone spread),
 * active alarms, active overrides, comfort and schedule misses, energy today against yesterday,
 * and equipment by type with status, mode and key values (an overridden point named, with its
 * priority, who and until when). Modes and comfort are the server's (GET …/operation).
 * At a central openbms the header says how far behind the centre is on the site (read every 10 s).
 */
import { useEffect } from "preact/hooks";
import type { ApiClient } from "../api/client";
import { endpoints } from "../api/endpoints";
import { ApiError } from "../api/problem";
import type { EquipmentOperation, PointSummary } from "../api/types";
import { OverrideMark, StatusDot, ValueText } from "../components/Value";
import { useApp } from "../context";
import { useLive, useLiveSamples, useLoad, useNow } from "../hooks";
import { alarmsTileLabel } from "../lib/alarms";
import { formatValue, pointLabel } from "../lib/format";
import { comfortWords, equipmentState, keyPoints, modeWords, scheduleMissWords, zoneSpread } from "../lib/overview";
import { overrideCounts, winningByPoint } from "../lib/overrides";
import { href } from "../router";
import { LagTag, LoadState } from "./common";
import { useOverrides } from "./Overrides";

const STATE_LABEL = { alarm: "in alarm", offline: "offline", overridden: "overridden", ok: "ok", unknown: "no data yet" };

export function Overview(props: { site: string }) {
  const { api } = useApp();
  const { site } = props;
  const info = useLoad(() => endpoints.site(api, site), [api, site]);
  const equipment = useLoad(() => endpoints.equipment(api, site), [api, site]);
  const points = useLoad(() => endpoints.points(api, site), [api, site]);
  const alarms = useLoad(() => endpoints.alarms(api, site), [api, site]);
  const overrides = useOverrides(site);
  const operation = useLoad(() => endpoints.operation(api, site), [api, site]);
  // The server works modes and comfort out from the values: asked again as they move on.
  useEffect(() => {
    const id = setInterval(operation.reload, OPERATION_EVERY_MS);
    return () => clearInterval(id);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, site]);
  const central = !!info.data?.central;
  useEffect(() => {
    if (!central) return;
    const id = setInterval(info.reload, 10_000);
    return () => clearInterval(id);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [central, api, site]);
  const samples = useLiveSamples([`${site}/*`]);
  const live = useLive();
  const now = useNow();

  // REST values, overlaid by live samples as they arrive.
  // (Not memoised: the live map changes in place, and a few hundred points are cheap.)
  // Overrides from the list, which follows commands live (the points' own were true when loaded).
  const held = overrides.data ? winningByPoint(overrides.data) : null;
  const current: PointSummary[] = (points.data ?? []).map((p) => {
    const s = samples.get(p.id);
    const o = held ? { override: held.get(p.id) ?? null } : {};
    return s ? { ...p, ts: s[0], value: s[1], status: s[2], ...o } : { ...p, ...o };
  });
  const counts = overrides.data ? overrideCounts(overrides.data) : null;
  const types: Record<string, string> = {};
  for (const e of equipment.data ?? []) types[e.id] = e.type;
  const keys = keyPoints(current, types);
  const hasLive = samples.size > 0 && points.data !== null;
  // "First meaningful view": the overview with live values (docs/benchmarks.md reads this mark).
  useEffect(() => {
    if (hasLive && performance.getEntriesByName("openbms:live-values").length === 0) performance.mark("openbms:live-values");
  }, [hasLive]);
  const spread = zoneSpread(keys.zoneTemps);
  const alarmed = new Set((alarms.data ?? []).filter((a) => a.state !== "normal").map((a) => a.point));
  const active = (alarms.data ?? []).filter((a) => a.state === "active-unacked" || a.state === "active-acked");
  const unacked = (alarms.data ?? []).filter((a) => a.state.endsWith("unacked"));

  const byId = new Map(current.map((p) => [p.id, p]));
  const ops = new Map((operation.data?.equipment ?? []).map((o) => [o.id, o]));
  const byType = new Map<string, EquipRow[]>();
  for (const e of equipment.data ?? []) {
    const pts = current.filter((p) => p.equipment === e.id);
    const list = byType.get(e.type) ?? [];
    list.push({ id: e.id, name: e.name || e.id, state: equipmentState(pts, alarmed), held: pts.filter((p) => p.override), op: ops.get(e.id) ?? null });
    byType.set(e.type, list);
  }
  const op = operation.data;

  return (
    <main id="main">
      <h1>{info.data?.name || site}</h1>
      <LagTag lag={info.data?.central} />
      <LoadState {...points} />
      <section class="tiles" aria-label="Key values" data-live={hasLive ? "yes" : "no"}>
        <Tile label="Outdoor air">
          {keys.outdoorAir ? <PointValue p={keys.outdoorAir} now={now} live={live} /> : <span class="muted">no sensor</span>}
        </Tile>
        <Tile label="Supply air">
          {keys.supplyAir.length === 0 ? (
            <span class="muted">no sensor</span>
          ) : (
            keys.supplyAir.map((p) => (
              <div key={p.id}>
                <span class="muted small">{p.equipment}</span> <PointValue p={p} now={now} live={live} />
              </div>
            ))
          )}
        </Tile>
        <Tile label="Zone temperatures">
          {spread ? (
            <span>
              {formatValue(spread.min.value, spread.min)} – {formatValue(spread.max.value, spread.max)}
              <span class="muted small"> ({keys.zoneTemps.length} zones{live ? "" : ", last known"})</span>
            </span>
          ) : (
            <span class="muted">no zone values</span>
          )}
        </Tile>
        <Tile label="Active alarms">
          <a
            href={href(`/sites/${site}/alarms`)}
            class={`big${unacked.length ? " text--alarm" : ""}`}
            aria-label={alarms.error ? "alarms unavailable" : alarmsTileLabel(alarms.data ? active.length : null, unacked.length)}
          >
            {alarms.data ? active.length : "…"}
          </a>
          {unacked.length > 0 && <span class="muted small"> {unacked.length} unacknowledged</span>}
        </Tile>
        <Tile label="Active overrides">
          <a
            href={href(`/sites/${site}/overrides`)}
            class={`big${counts?.points ? " text--override" : ""}`}
            aria-label={
              counts ? `${counts.points} point${counts.points === 1 ? "" : "s"} overridden` : overrides.error ? "overrides unavailable" : "overrides loading"
            }
            data-overrides={counts?.points ?? ""}
          >
            {counts ? counts.points : overrides.error ? "—" : "…"}
          </a>
          {counts && counts.slots > counts.points && <span class="muted small"> {counts.slots} slots held</span>}
        </Tile>
        <Tile label="Comfort and schedules">
          {op ? (
            <ul class="plain small">
              <li class={op.zones_outside_comfort ? "text--alarm" : ""} data-zones-outside={op.zones_outside_comfort}>
                {op.zones_outside_comfort} zone{op.zones_outside_comfort === 1 ? "" : "s"} outside {op.zones_outside_comfort === 1 ? "its" : "their"} comfort band
              </li>
              <li class={op.off_while_scheduled_on ? "text--alarm" : ""} data-off-scheduled-on={op.off_while_scheduled_on}>
                {op.off_while_scheduled_on} equipment off while scheduled on
              </li>
            </ul>
          ) : (
            <span class="muted">{operation.error ? "unavailable" : "…"}</span>
          )}
        </Tile>
        <EnergyTile site={site} register={keys.energy} demand={keys.demand} />
      </section>

      <section aria-labelledby="equip-title">
        <h2 id="equip-title">Equipment</h2>
        <LoadState {...equipment} />
        <div class="groups">
          {[...byType.entries()].sort().map(([type, list]) => (
            <section key={type} class="card">
              <h3>{type.toUpperCase()}</h3>
              <ul class="equip-list">
                {list.map((e) => (
                  <li key={e.id} data-equipment={e.id}>
                    <div class="equip-list__head">
                      <StatusDot tone={e.state} label={STATE_LABEL[e.state]} />
                      <a href={href(`/sites/${site}/equipment/${encodeURIComponent(e.id)}`)}>{e.name}</a>
                      <span class="muted small">{STATE_LABEL[e.state]}</span>
                    </div>
                    <EquipDetail e={e} points={byId} now={now} live={live} />
                  </li>
                ))}
              </ul>
            </section>
          ))}
        </div>
      </section>
    </main>
  );
}

/** How often the overview asks the server again what the equipment is doing. */
const OPERATION_EVERY_MS = 15_000;

interface EquipRow {
  id: string;
  name: string;
  state: ReturnType<typeof equipmentState>;
  held: PointSummary[];
  op: EquipmentOperation | null;
}

/** Under an equipment's name: its mode, key values (live), a zone outside its band, a schedule it misses, its overrides. */
function EquipDetail(props: { e: EquipRow; points: Map<string, PointSummary>; now: number; live: boolean }) {
  const { e, points } = props;
  const op = e.op;
  const modes = op ? modeWords(op) : [];
  const zone = op?.comfort ? points.get(op.comfort.point) : undefined;
  const comfort = op ? comfortWords(op.comfort, zone?.unit ?? null) : null;
  const keys = (op?.key_values ?? []).map((k) => ({ ...k, p: points.get(k.point) })).filter((k) => k.p);
  // A held key value is marked where it stands; the other held points are named after the key values.
  const held = e.held.filter((p) => !keys.some((k) => k.point === p.id));
  if (!modes.length && !keys.length && !comfort && !op?.scheduled_on_but_off.length && !held.length) return null;
  return (
    <div class="equip-list__detail small">
      {modes.map((m) => (
        <span key={m} class={`mode mode--${m.replace(/ /g, "-")}`}>
          {m}
        </span>
      ))}
      {keys.map((k) => (
        <span key={k.point} class="keyval">
          <span class="muted">{k.label}</span> <PointValue p={k.p!} now={props.now} live={props.live} />
        </span>
      ))}
      {comfort && (
        <span class="text--alarm" data-comfort={op?.comfort?.state}>
          {comfort}
        </span>
      )}
      {op?.scheduled_on_but_off.map((m) => (
        <span key={m.point} class="text--alarm" data-scheduled-on-but-off={m.point}>
          {scheduleMissWords(m)}
        </span>
      ))}
      {held.map((p) => (
        <span key={p.id} class="held">
          {pointLabel(p)} {formatValue(p.override?.value ?? null, p)}
          {p.override && <OverrideMark override={p.override} />}
        </span>
      ))}
    </div>
  );
}

function Tile(props: { label: string; children: preact.ComponentChildren }) {
  return (
    <div class="tile card">
      <h2 class="tile__label">{props.label}</h2>
      <div class="tile__value">{props.children}</div>
    </div>
  );
}

function PointValue(props: { p: PointSummary; now: number; live: boolean }) {
  const p = props.p;
  return <ValueText value={p.value} status={p.status} tsMs={p.ts === null ? null : p.ts * 1000} nowMs={props.now} live={props.live} point={p} />;
}

/** The Overview's energy figures for one point: null when the API answers it is not a meter. */
export interface EnergyToday {
  todayKwh: number | null;
  yesterdayKwh: number | null;
  yesterdaySameTimeKwh: number | null;
}

/**
 * Today, yesterday and yesterday to this time of one meter, as the server cuts the site's days.
 * Only that point is asked for, so no other meter's figures can stand under its name; a point the
 * API refuses as no meter (422) gives null, shown as "—".
 */
export async function energyToday(api: ApiClient, site: string, point: string): Promise<EnergyToday | null> {
  let e;
  try {
    e = await endpoints.energy(api, site, { bucket: "day", count: 2, points: [point] });
  } catch (err) {
    if (err instanceof ApiError && err.status === 422) return null;
    throw err;
  }
  const m = e.series.find((x) => x.point === point);
  if (!m) return null;
  const [yesterday, today] = m.buckets;
  return { todayKwh: today?.kwh ?? null, yesterdayKwh: yesterday?.kwh ?? null, yesterdaySameTimeKwh: m.previous_same_time_kwh };
}

function EnergyTile(props: { site: string; register: PointSummary | null; demand: PointSummary | null }) {
  const { api } = useApp();
  const meter = props.register ?? props.demand;
  // Of the site's key points, the register (or else the demand point); today and yesterday are the site's days.
  const energy = useLoad(async () => (meter ? energyToday(api, props.site, meter.id) : null), [api, props.site, meter?.id]);
  const kwh = (v: number | null | undefined) => (v === null || v === undefined ? "—" : formatValue(v, { unit: "kWh" }));
  const e = energy.data;
  const change =
    e && e.todayKwh !== null && e.yesterdaySameTimeKwh ? ((e.todayKwh - e.yesterdaySameTimeKwh) / e.yesterdaySameTimeKwh) * 100 : null;
  return (
    <div class="tile card">
      <h2 class="tile__label">Energy today</h2>
      <div class="tile__value">
        {!meter ? (
          <span class="muted">no meter</span>
        ) : energy.error ? (
          <span class="muted">history unavailable</span>
        ) : (
          <>
            <span class="big">{kwh(e?.todayKwh)}</span>
            <div class="muted small">
              yesterday {kwh(e?.yesterdayKwh)}
              {change !== null && ` · ${change >= 0 ? "+" : ""}${change.toFixed(0)}% vs same time yesterday`}
            </div>
          </>
        )}
      </div>
    </div>
  );
}
