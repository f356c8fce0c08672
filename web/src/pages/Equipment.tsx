/**
 * One piece of equipment: its graphic (the server's schematic with the points'
 * live values, override markers and command buttons in place; its layout
 * adjusted and saved by those who may change the site), its points live (value,
 * unit, status, last update, override marker), a trend of the points chosen
 * (remembered per equipment in this browser), and the command dialog for
 * those allowed to command.
 */
import { useEffect, useMemo, useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import { ApiError } from "../api/problem";
import type { Graphic as GraphicDoc, PointDetail, PointSummary } from "../api/types";
import { CommandDialog } from "../components/CommandDialog";
import { Graphic, UnplacedPoints } from "../components/Graphic";
import { Trend } from "../components/Trend";
import { DataTable } from "../components/DataTable";
import { ValueText } from "../components/Value";
import { useApp } from "../context";
import { useLive, useLiveSamples, useLiveStatus, useLoad, useNow } from "../hooks";
import { winningByPoint } from "../lib/overrides";
import { formatAge, formatTime, pointLabel, unitLabel } from "../lib/format";
import { layoutToSave, withMoves, type Box } from "../lib/graphic";
import { can, canCommand } from "../lib/roles";
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

  const byId = new Map(rows.map((p) => [p.id, p]));

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
      <GraphicSection
        site={site}
        equip={equip}
        points={byId}
        held={held}
        nowMs={now}
        live={live}
        mayArrange={can(me, "sites:write", site)}
        onCommand={mayCommand ? openCommand : undefined}
        commandDisabled={linkDown}
      />
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
                <span>{pointLabel(p)}</span> <span class="muted small">{p.name}</span>
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
      <Trend site={site} points={chosen} labels={Object.fromEntries(rows.map((p) => [p.id, pointLabel(p)]))} />
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

/**
 * The equipment's graphic in a collapsible section (none when the server has no graphic for it: a
 * 404), with "Adjust layout" for those who may change the site: elements are dragged or moved by
 * arrow keys, then saved in the site folder (PUT), reset to the generated layout (DELETE) or let go.
 */
function GraphicSection(props: {
  site: string;
  equip: string;
  points: ReadonlyMap<string, PointSummary>;
  held: ReadonlyMap<string, import("../api/types").PointOverride> | null;
  nowMs: number;
  live: boolean;
  mayArrange: boolean;
  onCommand?: (p: PointSummary) => void;
  commandDisabled: boolean;
}) {
  const { api } = useApp();
  const { site, equip } = props;
  const loaded = useLoad(() => endpoints.graphic(api, site, equip), [api, site, equip]);
  // What a save or a reset answered, until the equipment changes (then the load's again).
  const [answered, setAnswered] = useState<GraphicDoc | null>(null);
  const [editing, setEditing] = useState(false);
  const [moves, setMoves] = useState<Map<string, Box>>(new Map());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setAnswered(null);
    setEditing(false);
    setMoves(new Map());
    setError(null);
  }, [site, equip]);

  if (loaded.error?.status === 404) return null;
  const base = answered ?? loaded.data;
  if (!base) {
    return loaded.error ? <p class="banner banner--error" role="alert">The graphic could not be loaded: {loaded.error.message}</p> : null;
  }
  const shown = withMoves(base, moves);
  const stop = () => {
    setEditing(false);
    setMoves(new Map());
    setError(null);
  };
  const send = async (what: "save" | "reset") => {
    setBusy(true);
    setError(null);
    try {
      const g =
        what === "save"
          ? await endpoints.saveGraphicLayout(api, site, equip, layoutToSave(base, moves))
          : await endpoints.resetGraphicLayout(api, site, equip);
      setAnswered(g);
      stop();
    } catch (err) {
      setError(err instanceof ApiError ? [err.message, ...err.general, ...Object.entries(err.fields).map(([k, v]) => `${k}: ${v}`)].filter((x, i, a) => x && a.indexOf(x) === i).join(" · ") : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <details class="graphic-section" open>
      <summary>Graphic</summary>
      {props.mayArrange && (
        <div class="toolbar" role="group" aria-label="Graphic layout">
          {editing ? (
            <>
              <button type="button" class="btn btn--small btn--primary" disabled={busy || moves.size === 0} onClick={() => send("save")}>
                Save layout
              </button>
              <button type="button" class="btn btn--small" disabled={busy || !base.saved} onClick={() => send("reset")}
                title="Forget the saved layout: back to the generated one">
                Reset
              </button>
              <button type="button" class="btn btn--small" disabled={busy} onClick={stop}>
                Cancel
              </button>
              <span class="muted small">Drag an element, or focus it and use the arrow keys (Shift: finer).</span>
            </>
          ) : (
            <button type="button" class="btn btn--small" onClick={() => setEditing(true)}>
              Adjust layout
            </button>
          )}
          {!editing && base.saved && <span class="muted small">Layout saved by an integrator.</span>}
          {error && (
            <span class="error small text--alarm" role="alert">
              {error}
            </span>
          )}
        </div>
      )}
      <Graphic
        graphic={shown}
        points={props.points}
        held={props.held}
        nowMs={props.nowMs}
        live={props.live}
        onCommand={props.onCommand}
        commandDisabled={props.commandDisabled}
        commandDescribedBy="cmd-offline"
        onMove={editing ? (id, box) => setMoves((m) => new Map(m).set(id, box)) : undefined}
      />
      <UnplacedPoints graphic={shown} points={props.points} held={props.held} nowMs={props.nowMs} live={props.live} />
    </details>
  );
}
