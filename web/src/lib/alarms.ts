/**
 * The alarm console's wording: which alarms a filter shows and what it hides,
 * the note an alarm was acknowledged with, and the Overview tile's name.
 * The server decides states, shelving and acknowledgement; this only sorts and words them.
 */
import type { Alarm, AlarmTransition } from "../api/types";

/** An alarm as GET …/alarms returns it: with its recent history (the latest 100 transitions, oldest first). */
export type AlarmWithHistory = Alarm & { history?: AlarmTransition[] };

/** "false": hide shelved alarms, "true": only shelved ones, "": all. */
export type ShelvedFilter = "false" | "true" | "";

/**
 * The alarms a console shows for a shelved filter and a search text, most urgent first,
 * and how many shelved alarms the filter hides (those the text would otherwise show):
 * an empty list says why it is empty.
 */
export function filterAlarms<A extends Alarm>(alarms: A[], shelved: ShelvedFilter, text: string): { shown: A[]; hiddenShelved: number } {
  const q = text.trim().toLowerCase();
  const matching = alarms.filter((a) => !q || `${a.name} ${a.point} ${a.message} ${a.alarm_class}`.toLowerCase().includes(q));
  const shown = matching
    .filter((a) => shelved === "" || a.shelved === (shelved === "true"))
    .sort((a, b) => a.priority - b.priority || (b.changed_ts ?? 0) - (a.changed_ts ?? 0));
  const hiddenShelved = shelved === "false" ? matching.filter((a) => a.shelved).length : 0;
  return { shown, hiddenShelved };
}

/** "2 shelved alarms are hidden." (or null when none is). */
export function hiddenShelvedText(n: number): string | null {
  if (n <= 0) return null;
  return n === 1 ? "1 shelved alarm is hidden." : `${n} shelved alarms are hidden.`;
}

/**
 * The note the alarm's current acknowledgement was made with (the `ack` transition at
 * `acked_ts`), or null: none was written, or it has left the recent history.
 */
export function ackNote(a: AlarmWithHistory): string | null {
  if (a.acked_ts === null || !a.history) return null;
  for (let i = a.history.length - 1; i >= 0; i--) {
    const t = a.history[i]!;
    if (t.action === "ack" && t.ts === a.acked_ts) return t.note?.trim() ? t.note.trim() : null;
  }
  return null;
}

/** The accessible name of the Overview's alarms tile: "3 active alarms, 1 unacknowledged". */
export function alarmsTileLabel(active: number | null, unacked: number): string {
  if (active === null) return "Active alarms: loading";
  const head = `${active} active alarm${active === 1 ? "" : "s"}`;
  return unacked > 0 ? `${head}, ${unacked} unacknowledged` : head;
}
