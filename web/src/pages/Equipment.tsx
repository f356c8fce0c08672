/**
 * One piece of equipment: its points live (value, unit, status, last update,
 * override marker), a trend of the points chosen (remembered per equipment in
 * this browser), and the command dialog for
 * those allowed to command.
 */
import { useEffect, useMemo, useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import { ApiError } from "../api/problem";
import type { PointDetail, PointSummary } from "../api/types";
import { CommandDialog } from "../components/CommandDialog";
import { Trend } from "../components/Trend";
import { DataTable } from "../components/DataTable";
import { ValueText } from "../components/Value";
import { useApp } from "../context";
import { useLive, useLiveSamples, useLiveStatus, useLoad, useNow } from "../hooks";
import { winningByPoint } from "../lib/overrides";
import { formatAge, formatTime, unitLabel } from "../lib/format";
import { canCommand } from "../lib/roles";
import { href } from "../router";
import { LoadState, NotFound } from "./common";
import { useOverrides } from "./Overrides";

const chosenKey = (site: string, equip: string) => `openbms.trend.${site}/${equip}`;

/** The points the user last charted for this equipment (this browser), or none. */
function chosenPoints(site: string, equip: string): string[] {
  try {
    const list: unknown = JSON.parse(localStorage.getItem(chosenKey(site, equip)) ?? "[]");
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

function rememberPoints(site: string, equip: string, ids: string[]): void {
  try {
    localStorage.setItem(chosenKey(site, equip), JSON.stringify(ids));
  } catch {
    // Private mode or a full storage: the choice lasts for this page only.
  }
}

export function EquipmentPage(props: { site: string; equip: string }) {
  const { api, me } = useApp();
  const { site, equip } = props;
  const info = useLoad(() => endpoints.equipmentItem(api, site, equip), [api, site, equip]);
  const points = useLoad(() => endpoints.points(api, site, { equipment: equip }), [api, site, equip]);
  const samples = useLiveSamples([`${site}/${equip}/*`]);
  const live = useLive();
  // Commands wait while the live connection is down: their progress and the values they change could not be followed.
  const connState = useLiveStatus().state;
  const linkDown = connState === "reconnecting" || connState === "offline";
  const now = useNow(2000);
  const [selected, setSelectedState] = useState<string[]>(() => chosenPoints(site, equip));
  useEffect(() => setSelectedState(chosenPoints(site, equip)), [site, equip]);
  const setSelected = (update: (cur: string[]) => string[]) =>
    setSelectedState((cur) => {
      const next = update(cur);
      rememberPoints(site, equip, next);
      return next;
    });
  const [commanding, setCommanding] = useState<PointDetail | null>(null);
  const [cmdError, setCmdError] = useState<string | null>(null);
  const mayCommand = canCommand(me, site);

  // Overrides follow every command live (the points' own `override` is as of their loading).
  const overrides = useOverrides(site);
  const held = useMemo(() => (overrides.data ? winningByPoint(overrides.data) : null), [overrides.data]);
  const rows: PointSummary[] = (points.data ?? []).map((p) => {
    const s = samples.get(p.id);
    return s ? { ...p, ts: s[0], value: s[1], status: s[2] } : p;
  });
  // Chart the first two sensors until the user picks.
  // The points chosen last time on this equipment (those it still has), else the first two sensors.
  const kept = points.data ? selected.filter((id) => rows.some((p) => p.id === id)) : selected;
  const chosen = kept.length ? kept : rows.filter((p) => p.kind === "number").slice(0, 2).map((p) => p.id);
  const toggle = (id: string) => setSelected((cur) => {
    const base = cur.length ? cur : chosen;
    return base.includes(id) ? base.filter((x) => x !== id) : [...base, id];
  });

  const openCommand = async (p: PointSummary) => {
    setCmdError(null);
    try {
      setCommanding(await endpoints.point(api, site, p.equipment, p.name));
    } catch (err) {
      setCmdError(err instanceof ApiError ? err.message : String(err));
    }
  };

  if (info.error?.status === 404) {
    return <NotFound what={`Equipment “${equip}” on site ${site}`} back={{ href: href(`/sites/${site}`), label: `Back to ${site}` }} />;
  }

  return (
    <main id="main">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={href(`/sites/${site}`)}>{site}</a> / <span aria-current="page">{equip}</span>
      </nav>
      <h1>{info.data?.name || equip}</h1>
      <LoadState {...points} />
      {mayCommand && linkDown && (
        <p class="muted small" id="cmd-offline">
          Commands are unavailable while the live connection is down.
        </p>
      )}
      {cmdError && <p class="banner banner--error" role="alert">{cmdError}</p>}
      <DataTable
        class="points"
        rows={rows}
        rowKey={(p) => p.id}
        caption={`Points of ${equip}, updated live`}
        columns={[
          {
            key: "chart",
            header: "Chart",
            cell: (p) => (
              <input
                type="checkbox"
                aria-label={`Chart ${p.name}`}
                checked={chosen.includes(p.id)}
                disabled={p.kind === "enum"}
                onChange={() => toggle(p.id)}
              />
            ),
          },
          {
            key: "point",
            header: "Point",
            rowHeader: true,
            cell: (p) => (
              <>
                {p.name}
                {p.description && <div class="muted small">{p.description}</div>}
              </>
            ),
          },
          {
            key: "value",
            header: "Value",
            cell: (p) => <ValueText value={p.value} status={p.status} tsMs={p.ts === null ? null : p.ts * 1000} nowMs={now} live={live} point={p} override={held ? held.get(p.id) ?? null : undefined} />,
          },
          { key: "unit", header: "Unit", headClass: "hide-sm", cellClass: "hide-sm", cell: (p) => unitLabel(p.unit) },
          {
            key: "updated",
            header: "Updated",
            headClass: "hide-sm",
            cellClass: "hide-sm",
            cell: (p) => {
              const tsMs = p.ts === null ? null : p.ts * 1000;
              return (
                <time dateTime={tsMs ? new Date(tsMs).toISOString() : undefined} title={formatTime(tsMs)}>
                  {formatAge(tsMs, now)}
                </time>
              );
            },
          },
          mayCommand && {
            key: "command",
            header: <span class="sr-only">Command</span>,
            cell: (p) =>
              p.writable && (
                <button
                  type="button"
                  class="btn btn--small"
                  onClick={() => openCommand(p)}
                  aria-label={`Command ${p.name}`}
                  disabled={linkDown}
                  aria-describedby={linkDown ? "cmd-offline" : undefined}
                >
                  Command…
                </button>
              ),
          },
        ]}
      />
      <Trend site={site} points={chosen} labels={Object.fromEntries(rows.map((p) => [p.id, p.name]))} />
      {commanding && mayCommand && (
        <CommandDialog
          site={site}
          point={commanding}
          onClose={() => {
            setCommanding(null);
            points.reload();
          }}
        />
      )}
    </main>
  );
}
