/** Small hooks shared by the pages: loading API data, live samples, the server's clock. */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { endpoints } from "./api/endpoints";
import { ApiError } from "./api/problem";
import type { LiveStatus } from "./api/ws";
import type { Value } from "./api/types";
import { useApp } from "./context";
import { serverClock } from "./lib/clock";
import { displayZone, setDisplayZone } from "./lib/format";

export interface Loaded<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/** Run `load` when `deps` change; keeps the last data while reloading. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: ApiError | null; loading: boolean }>({
    data: null,
    error: null,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => alive && setState({ data, error: null, loading: false }),
      (err: unknown) =>
        alive &&
        setState((s) => ({
          data: s.data,
          error: err instanceof ApiError ? err : new ApiError({ type: "about:blank", title: String(err), status: 0 }),
          loading: false,
        })),
    );
    return () => {
      alive = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/** A live sample: [ts (s), value, status]. */
export type LiveSample = [number, Value, string];

/**
 * The latest sample of every point matching `patterns` from the WebSocket
 * (`samples` messages: [[point, ts, value, status], …]). The first message
 * after subscribing is a snapshot of the current values.
 */
export function useLiveSamples(patterns: string[]): Map<string, LiveSample> {
  const { live } = useApp();
  const [, render] = useState(0);
  const values = useRef(new Map<string, LiveSample>());
  const key = patterns.join("\n");
  useEffect(() => {
    values.current = new Map();
    if (patterns.length === 0) return;
    let pending = false;
    const off = live.onMessage((msg) => {
      if (msg.type !== "samples" || !Array.isArray(msg.samples)) return;
      for (const s of msg.samples as unknown[]) {
        if (!Array.isArray(s) || typeof s[0] !== "string") continue;
        values.current.set(s[0], [Number(s[1]), s[2] as Value, String(s[3] ?? "ok")]);
      }
      // Coalesce a burst of messages into one render per frame.
      if (!pending) {
        pending = true;
        requestAnimationFrame(() => {
          pending = false;
          render((n) => n + 1);
        });
      }
    });
    const unsubscribe = live.subscribe({ type: "subscribe", points: patterns });
    return () => {
      off();
      unsubscribe();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [live, key]);
  return values.current;
}

export function useLiveStatus(): LiveStatus {
  const { live } = useApp();
  const [status, setStatus] = useState(live.status);
  useEffect(() => live.onStatus(setStatus), [live]);
  return status;
}

/** Whether values from the live feed may be called current. */
export function useLive(): boolean {
  const s = useLiveStatus();
  return s.state === "connected" && !s.stale;
}

let healthAsked = false;

/**
 * The server's time (epoch ms, lib/clock), re-rendering every `everyMs` and
 * whenever the server tells its time: ages like "12 s ago", staleness and
 * every range are measured from it, never from the browser's clock (the
 * building may run faster than the wall). The first caller asks GET /health
 * for the time if the live connection has not told it yet.
 */
export function useNow(everyMs = 5000): number {
  const { api } = useApp();
  const [now, setNow] = useState(() => serverClock.now());
  useEffect(() => {
    if (!serverClock.synced && !healthAsked) {
      healthAsked = true;
      endpoints.health(api).then(
        (h) => serverClock.update(h),
        () => {
          healthAsked = false; // the live connection's clock message will do, or the next page asks again
        },
      );
    }
    const tick = () => setNow(serverClock.now());
    tick();
    const id = setInterval(tick, everyMs);
    const off = serverClock.onUpdate(tick);
    return () => {
      clearInterval(id);
      off();
    };
  }, [api, everyMs]);
  return now;
}

/** The browser's own time (epoch ms), for what is about the browser: reconnection countdowns. */
export function useWallNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(id);
  }, [everyMs]);
  return now;
}

/** A stable memo of a string list. */
export function useList(list: string[]): string[] {
  const key = list.join("\n");
  // eslint-disable-next-line react-hooks/exhaustive-deps
  return useMemo(() => list, [key]);
}

/** Each site's time zone, once known (a site's zone changes only with its file). */
const siteZones = new Map<string, string>();

/**
 * The site's time zone (an IANA name from GET /sites/{site}), and the zone every date and time
 * on the page is shown in from then on (lib/format's `setDisplayZone`). Undefined until known
 * (times are then in the browser's zone) and for no site.
 */
export function useSiteZone(site: string | null | undefined): string | undefined {
  const { api } = useApp();
  const known = site ? siteZones.get(site) : undefined;
  const [zone, setZone] = useState<string | undefined>(known);
  if (known && displayZone() !== known) setDisplayZone(known);
  useEffect(() => {
    if (!site) return;
    const have = siteZones.get(site);
    if (have) {
      setDisplayZone(have);
      setZone(have);
      return;
    }
    let alive = true;
    endpoints.site(api, site).then(
      (s) => {
        if (!s.timezone) return;
        siteZones.set(site, s.timezone);
        if (!alive) return;
        setDisplayZone(s.timezone);
        setZone(s.timezone);
      },
      () => {}, // the page shows its own load error; times stay in the browser's zone
    );
    return () => {
      alive = false;
    };
  }, [api, site]);
  return site ? zone ?? known : undefined;
}
