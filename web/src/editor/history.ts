/**
 * Undo and redo as a pure history of states: `push` records a new state
 * (and forgets what could be redone), `undo` and `redo` step through it.
 * The editor pushes once per finished gesture (a drag pushes when it ends),
 * so one Ctrl+Z undoes one thing the user did.
 */

export interface History<T> {
  past: T[];
  present: T;
  future: T[];
}

/** How many states are kept to undo (the oldest go first). */
export const HISTORY_LIMIT = 200;

export const start = <T>(present: T): History<T> => ({ past: [], present, future: [] });

/** `next` becomes the present; pushing the present itself changes nothing. */
export function push<T>(h: History<T>, next: T, limit = HISTORY_LIMIT): History<T> {
  if (next === h.present) return h;
  const past = [...h.past, h.present];
  return { past: past.length > limit ? past.slice(past.length - limit) : past, present: next, future: [] };
}

export function undo<T>(h: History<T>): History<T> {
  if (!h.past.length) return h;
  return { past: h.past.slice(0, -1), present: h.past[h.past.length - 1]!, future: [h.present, ...h.future] };
}

export function redo<T>(h: History<T>): History<T> {
  if (!h.future.length) return h;
  return { past: [...h.past, h.present], present: h.future[0]!, future: h.future.slice(1) };
}

export const canUndo = <T>(h: History<T>) => h.past.length > 0;
export const canRedo = <T>(h: History<T>) => h.future.length > 0;
