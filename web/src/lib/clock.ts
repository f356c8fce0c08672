/**
 * The server's clock: the only clock the dashboard measures ranges and ages
 * from. The building's time is not the browser's (the demo and co-simulation
 * run it N times faster, and a browser's clock may simply be wrong), so the
 * API tells it — `now_ts` and `clock_rate` in GET /api/v1/health, in the
 * WebSocket's `clock` message, in every snapshot and idle ping — and between
 * two tellings the clock follows at `clock_rate` server seconds per real
 * second, measured on the browser's monotonic clock.
 *
 * Once told, it never goes backwards within a page: a reading that arrives
 * late (a GET /health answered before a WebSocket clock message but received
 * after it) says an earlier time than the clock already shows, and taking it
 * would make ages grow younger and a "following now" chart step back. Such a
 * reading still gives the rate; the time stays where it was and goes on.
 */

export interface ClockReading {
  /** The server's time when it answered, epoch seconds. */
  now_ts: number;
  /** Server seconds per real second (1 real time, N an accelerated demo, 0 a clock moved by hand). */
  clock_rate?: number;
}

export class ServerClock {
  private serverMs: number | null = null;
  private rate = 1;
  private at = 0;
  /** The latest time `now()` answered once synced: the floor of every later answer. */
  private shown = -Infinity;
  private readonly listeners = new Set<() => void>();

  /** `monotonic` is real elapsed ms (performance.now); `wall` the browser's clock, used until the first reading. */
  constructor(
    private readonly monotonic: () => number = () => performance.now(),
    private readonly wall: () => number = () => Date.now(),
  ) {}

  /** Whether the server has told its time yet (before that, `now()` is the browser's clock). */
  get synced(): boolean {
    return this.serverMs !== null;
  }

  /** Server seconds per real second, as last told. */
  get speed(): number {
    return this.rate;
  }

  /** The server's current time, epoch ms. */
  now(): number {
    if (this.serverMs === null) return this.wall();
    const t = Math.max(this.serverMs + (this.monotonic() - this.at) * this.rate, this.shown);
    this.shown = t;
    return t;
  }

  /** Take a reading (anything with a finite `now_ts`); false when `msg` carries none. */
  update(msg: unknown): boolean {
    if (!msg || typeof msg !== "object") return false;
    const r = msg as Partial<ClockReading>;
    if (typeof r.now_ts !== "number" || !Number.isFinite(r.now_ts)) return false;
    const rate = typeof r.clock_rate === "number" && Number.isFinite(r.clock_rate) && r.clock_rate >= 0 ? r.clock_rate : 1;
    // A late reading older than the time already shown moves nothing back (see above).
    const prior = this.serverMs === null ? -Infinity : this.now();
    this.serverMs = Math.max(r.now_ts * 1000, prior);
    this.rate = rate;
    this.at = this.monotonic();
    for (const fn of this.listeners) fn();
    return true;
  }

  /** Be told of every reading (the hooks re-render); answers the function that stops it. */
  onUpdate(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

/** The dashboard's one server clock, fed by health and the live connection. */
export const serverClock = new ServerClock();
