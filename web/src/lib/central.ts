/**
 * A central openbms's words for what it holds of each edge: how far behind it is on a site
 * ("3 s behind", past the server's threshold a warning) and what an edge's command or alarm
 * says of its origin. The server decides lag, `behind` and statuses; this only words them.
 */
import type { Command, SiteLag } from "../api/types";

/** "12 s", "4 min", "2 h 5 min", "3 d": a lag as people read it. */
export function lagWords(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  return `${Math.floor(h / 24)} d`;
}

/**
 * How a site's lag reads on the site list: its text, whether it is a warning (the server's
 * `behind`), and a longer title; null at an edge (nothing is behind).
 */
export function lagLabel(lag: SiteLag | null | undefined): { text: string; warn: boolean; title: string } | null {
  if (!lag) return null;
  const edge = lag.online === false ? " · edge offline" : lag.online === null ? " · edge not heard yet" : "";
  const title = `Warning past ${lagWords(lag.warn_s)} behind`;
  if (lag.lag_s === null) return { text: `No samples yet${edge}`, warn: lag.behind, title };
  return { text: `${lagWords(lag.lag_s)} behind${edge}`, warn: lag.behind, title };
}

/** Who made a command, as a central's history says it: the centre (sent to the edge) or the edge itself. */
export function commandOrigin(c: Pick<Command, "origin" | "source" | "requested_by">): string {
  const who = c.requested_by ? ` (${c.requested_by})` : "";
  if (c.origin === "central") return `centre${who}`;
  if (c.origin === "edge") return `edge: ${c.source}${who}`;
  return `${c.source}${who}`;
}

/** The edge's lifecycle of a command, oldest first: "pending → executing → completed". */
export function lifecycle(c: Pick<Command, "changes" | "status">): string {
  const seen: string[] = [];
  for (const ch of c.changes ?? []) {
    const status = typeof ch.status === "string" ? ch.status : null;
    if (status && seen[seen.length - 1] !== status) seen.push(status);
  }
  return seen.length ? seen.join(" → ") : c.status;
}

/** Whether alarms of this list can be acted on here: not at a central openbms (the edge's, handled there). */
export function alarmsActionable(alarms: { remote?: boolean }[] | null | undefined, site: { central?: SiteLag | null } | null | undefined): boolean {
  if (site?.central) return false;
  return !(alarms ?? []).some((a) => a.remote);
}

/**
 * Answers of the last question only: `ask(key)` before each request gives a test that is true
 * while no newer question was asked, so a slow answer for a site left meanwhile is dropped.
 */
export function lastAsked<K>(): (key: K) => () => boolean {
  let current: { key: K } | null = null;
  return (key: K) => {
    const mine = (current = { key });
    return () => current === mine;
  };
}
