/**
 * A site's active overrides: every slot of a priority array an operator or the API holds, with
 * who, why, since and until when, and whether it wins; each released from here with a reason
 * (through the point's release endpoint). The list follows commands live.
 *
 * Below it, the site's recent commands (opened on demand): at a central openbms those the centre
 * sent to the edge and those the edge made itself, each with its lifecycle at the edge.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import { ApiError } from "../api/problem";
import type { Command, OverrideItem } from "../api/types";
import { DataTable } from "../components/DataTable";
import { Field, FormErrors } from "../components/Field";
import { useApp } from "../context";
import { useLoad, useSiteZone, type Loaded } from "../hooks";
import { commandOrigin, lastAsked, lifecycle } from "../lib/central";
import { formatTime, formatValue, pointLabel, stateWords } from "../lib/format";
import { overrideCounts } from "../lib/overrides";
import { canCommand } from "../lib/roles";
import { href } from "../router";
import { LoadState } from "./common";

/** The sources whose commands hold overrides (the server's MANUAL_SOURCES). */
const MANUAL_SOURCES = new Set(["operator", "api"]);

/**
 * Whether a WebSocket message can change the overrides list: a command of an operator or the API
 * (it may add or end an override), or any command on a point the list holds (a logic program
 * writing above it decides whether the override still wins). A logic program's outputs, a few a
 * second on a busy site, change nothing here and must not reload the whole list each time.
 */
export function changesOverrides(msg: { type?: unknown; command?: unknown }, held: ReadonlySet<string>): boolean {
  if (msg.type !== "command" || !msg.command || typeof msg.command !== "object") return false;
  const cmd = msg.command as { point?: unknown; source?: unknown };
  return MANUAL_SOURCES.has(String(cmd.source)) || (typeof cmd.point === "string" && held.has(cmd.point));
}

/** The site's overrides, loaded again whenever a command may change them (WebSocket `command` messages). */
export function useOverrides(site: string): Loaded<OverrideItem[]> {
  const { api, live } = useApp();
  const loaded = useLoad(() => endpoints.overrides(api, site), [api, site]);
  const reload = useRef(loaded.reload);
  reload.current = loaded.reload;
  const held = useRef<ReadonlySet<string>>(new Set());
  held.current = new Set((loaded.data ?? []).map((o) => o.point));
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const off = live.onMessage((msg) => {
      if (timer !== null || !changesOverrides(msg, held.current)) return;
      // A burst of status changes (executing → completed, superseded) is one reload.
      timer = setTimeout(() => {
        timer = null;
        reload.current();
      }, 250);
    });
    const unsubscribe = live.subscribe({ type: "subscribe", commands: [site] });
    return () => {
      off();
      unsubscribe();
      if (timer !== null) clearTimeout(timer);
    };
  }, [live, site]);
  return loaded;
}

const slotKey = (o: OverrideItem) => `${o.point}@${o.priority}`;

export function Overrides(props: { site: string }) {
  const { api, me } = useApp();
  const { site } = props;
  const overrides = useOverrides(site);
  useSiteZone(site);
  const mayRelease = canCommand(me, site);
  const [releasing, setReleasing] = useState<OverrideItem | null>(null);
  const [reason, setReason] = useState("");
  const [errors, setErrors] = useState<{ fields: Record<string, string>; general: string[] }>({ fields: {}, general: [] });
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const reasonInput = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (releasing) reasonInput.current?.focus();
  }, [releasing]);
  const items = overrides.data ?? [];
  const counts = overrideCounts(items);

  const release = async (ev: Event) => {
    ev.preventDefault();
    if (!releasing) return;
    if (!reason.trim()) {
      setErrors({ fields: { reason: "Say why: the reason is kept with the release." }, general: [] });
      return;
    }
    setBusy(true);
    setErrors({ fields: {}, general: [] });
    try {
      const cmd = await endpoints.release(api, site, releasing.equipment, releasing.name, {
        priority: releasing.priority,
        reason: reason.trim(),
      });
      const what = `Released ${releasing.point} at priority ${releasing.priority}`;
      setDone(
        cmd.status === "failed"
          ? `${what}, but the device was not written: ${cmd.error}`
          : cmd.status === "executing"
            ? `${what}; the device gets its new value as soon as the point's write limits allow.`
            : `${what}.`,
      );
      setReleasing(null);
      setReason("");
      overrides.reload();
    } catch (err) {
      if (err instanceof ApiError) setErrors({ fields: err.fields, general: err.general });
      else setErrors({ fields: {}, general: [String(err)] });
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main">
      <h1>Overrides</h1>
      <p class="muted">
        Points held by an operator or through the API, at any priority. Schedules and logic programs are the building's own
        control and are not listed.
      </p>
      <LoadState {...overrides} />
      {overrides.data && (
        <p role="status" class="override-summary">
          {counts.points === 0
            ? "No point is overridden."
            : `${counts.points} point${counts.points === 1 ? "" : "s"} overridden`}
          {counts.slots > counts.points && ` · ${counts.slots} slots held`}
        </p>
      )}
      {done && (
        <p class="banner" role="status">
          {done}
        </p>
      )}
      {releasing && (
        <form class="card" aria-labelledby="release-title" onSubmit={release} noValidate>
          <h2 id="release-title">
            Release {releasing.point} at priority {releasing.priority}
          </h2>
          <p class="muted">
            Held at {formatValue(releasing.value, releasing)} by {releasing.requested_by || releasing.source}. The next slot, or
            the relinquish default, takes over.
          </p>
          <Field id="release-reason" label="Reason" error={errors.fields.reason}>
            {(aria) => (
              <input
                {...aria}
                type="text"
                required
                maxLength={500}
                value={reason}
                onInput={(e) => setReason(e.currentTarget.value)}
                ref={reasonInput}
              />
            )}
          </Field>
          <FormErrors messages={errors.general} />
          <div class="actions">
            <button type="button" class="btn" onClick={() => setReleasing(null)}>
              Cancel
            </button>
            <button type="submit" class="btn btn--primary" disabled={busy}>
              {busy ? "Releasing…" : "Release"}
            </button>
          </div>
        </form>
      )}
      {overrides.data && (
        <DataTable
          class="overrides"
          rows={items}
          rowKey={slotKey}
          caption="Active overrides"
          rowClass={(o) => (o.winning ? "row--active" : "")}
          empty={null}
          columns={[
            {
              key: "point",
              header: "Point",
              rowHeader: true,
              cell: (o) => (
                <>
                  <a href={href(`/sites/${site}/equipment/${encodeURIComponent(o.equipment)}`)}>{pointLabel(o)}</a>{" "}
                  <span class="muted small">{o.point}</span>
                </>
              ),
            },
            {
              key: "priority",
              header: "Priority",
              cell: (o) => (
                <>
                  {o.priority} <span class="muted small">{o.winning ? "in effect" : "held under a higher slot"}</span>
                </>
              ),
            },
            { key: "value", header: "Value", cell: (o) => formatValue(o.value, o) },
            { key: "by", header: "By", cell: (o) => `${o.requested_by || "—"} (${o.source})` },
            { key: "reason", header: "Reason", headClass: "hide-sm", cellClass: "hide-sm", cell: (o) => o.reason },
            { key: "since", header: "Since", headClass: "hide-sm", cellClass: "hide-sm small", cell: (o) => formatTime(o.since * 1000) },
            { key: "until", header: "Until", cell: (o) => (o.expires_at === null ? "until released" : formatTime(o.expires_at * 1000)) },
            mayRelease && {
              key: "release",
              header: <span class="sr-only">Release</span>,
              cell: (o) => (
                <button
                  type="button"
                  class="btn btn--small"
                  aria-label={`Release ${o.point} at priority ${o.priority}`}
                  onClick={() => {
                    setReleasing(o);
                    setErrors({ fields: {}, general: [] });
                    setDone(null);
                  }}
                >
                  Release
                </button>
              ),
            },
          ]}
        />
      )}
      <RecentCommands site={site} />
    </main>
  );
}

/** The site's newest commands, loaded when opened (and again with its button). */
function RecentCommands(props: { site: string }) {
  const { api } = useApp();
  const [open, setOpen] = useState(false);
  const [items, setItems] = useState<Command[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Only the last request's answer is shown: a slower one for a site left meanwhile is dropped.
  const ask = useRef(lastAsked<string>()).current;
  const load = () => {
    const current = ask(props.site);
    return endpoints.commands(api, props.site).then(
      (page) => {
        if (current()) (setItems(page.items), setError(null));
      },
      (err: unknown) => {
        if (current()) setError(err instanceof ApiError ? err.message : String(err));
      },
    );
  };
  useEffect(() => {
    setItems(null); // another site's list is never shown under this one's heading
    if (open) void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open, props.site]);
  return (
    <details class="card" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Recent commands</summary>
      {error && <p class="banner banner--error" role="alert">{error}</p>}
      {open && (
        <button type="button" class="btn btn--small" onClick={() => void load()}>
          Reload
        </button>
      )}
      {items && (
        <DataTable
          class="commands"
          rows={items}
          rowKey={(c) => c.id}
          caption="Recent commands, newest first"
          empty={<p class="muted">No command yet.</p>}
          columns={[
            { key: "when", header: "When", cell: (c) => formatTime(c.created_at * 1000) },
            { key: "point", header: "Point", rowHeader: true, cell: (c) => c.point },
            { key: "value", header: "Value", cell: (c) => (c.release ? "release" : formatValue(c.value)) },
            { key: "priority", header: "Priority", cell: (c) => c.priority },
            { key: "by", header: "By", cell: (c) => commandOrigin(c) },
            {
              key: "status",
              header: "Status",
              cell: (c) => (
                <>
                  {stateWords(c.status)}
                  {c.changes?.length ? <span class="muted small"> ({lifecycle(c)})</span> : null}
                  {c.error ? <span class="muted small"> — {c.error}</span> : null}
                </>
              ),
            },
            { key: "reason", header: "Reason", headClass: "hide-sm", cellClass: "hide-sm", cell: (c) => c.reason },
          ]}
        />
      )}
    </details>
  );
}
