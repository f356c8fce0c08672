/**
 * The live connection: one WebSocket to /api/v1/ws that reconnects with
 * backoff, re-sends every subscription after reconnecting, and says whether
 * the data on screen can be trusted (connected, reconnecting, offline; stale
 * when nothing has arrived for a while). The server's clock rides along
 * (`clock` messages, snapshots and pings carry `now_ts`): every such message
 * sets the dashboard's server clock (lib/clock).
 */
import { serverClock, type ServerClock } from "../lib/clock";
import { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from "./backoff";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "offline";

export interface LiveStatus {
  state: ConnectionState;
  /** Connected, but no message for `staleAfterMs`: values on screen may be old. */
  stale: boolean;
  /** Epoch ms of the last message received, or null. */
  lastMessageAt: number | null;
  /** Epoch ms of the next reconnection attempt while reconnecting/offline. */
  retryAt: number | null;
}

/** A server message; `type` tells which ("samples", "alarm", "command", …). */
export interface ServerMessage {
  type: string;
  [key: string]: unknown;
}

/** A subscription message; it is re-sent as is after every reconnection. */
export interface Subscription {
  type: "subscribe";
  [key: string]: unknown;
}

interface SocketLike {
  readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface LiveClientOptions {
  /** The ws:// URL without the token. */
  url: string;
  /** A valid access token (refreshed if needed), or null when signed out. */
  token: () => Promise<string | null>;
  /** The server closed for authentication: renew the token before the next attempt. */
  renewToken?: () => Promise<unknown>;
  createSocket?: (url: string) => SocketLike;
  timers?: Timers;
  random?: () => number;
  backoff?: BackoffOptions;
  /** No message for this long while connected → stale (the server pings after 25 s of quiet). */
  staleAfterMs?: number;
  /** Failed attempts in a row after which the state says offline (retries continue). */
  offlineAfterAttempts?: number;
  /** The clock that messages telling the server's time set (default: the dashboard's one). */
  clock?: ServerClock;
}

const OPEN = 1;
// Close codes with which the server refuses the token (RFC 6455 policy violation, and 4401/4403 by convention).
const AUTH_CLOSE_CODES = new Set([1008, 4001, 4401, 4403]);

const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
  clearInterval: (h) => globalThis.clearInterval(h as ReturnType<typeof setInterval>),
};

export class LiveClient {
  private readonly opts: Required<Omit<LiveClientOptions, "createSocket">> & Pick<LiveClientOptions, "createSocket">;
  private socket: SocketLike | null = null;
  private attempt = 0;
  private retryTimer: unknown = null;
  private staleTimer: unknown = null;
  private stopped = true;
  private readonly subs = new Map<string, { msg: Subscription; count: number }>();
  private readonly messageListeners = new Set<(msg: ServerMessage) => void>();
  private readonly statusListeners = new Set<(status: LiveStatus) => void>();
  private current: LiveStatus = { state: "offline", stale: false, lastMessageAt: null, retryAt: null };

  constructor(opts: LiveClientOptions) {
    this.opts = {
      timers: realTimers,
      renewToken: async () => {},
      random: Math.random,
      backoff: DEFAULT_BACKOFF,
      staleAfterMs: 40_000,
      offlineAfterAttempts: 4,
      clock: serverClock,
      ...opts,
    };
  }

  get status(): LiveStatus {
    return this.current;
  }

  /** Open the connection (and keep it open until stop()). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    this.setStatus({ state: "connecting", retryAt: null });
    const t = this.opts.timers;
    this.staleTimer = t.setInterval(() => this.checkStale(), Math.max(1000, this.opts.staleAfterMs / 4));
    void this.connect();
  }

  /** Close for good (sign-out): no reconnection. */
  stop(): void {
    this.stopped = true;
    const t = this.opts.timers;
    if (this.retryTimer !== null) t.clearTimeout(this.retryTimer);
    if (this.staleTimer !== null) t.clearInterval(this.staleTimer);
    this.retryTimer = this.staleTimer = null;
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onclose = s.onmessage = s.onerror = s.onopen = null;
      s.close(1000, "bye");
    }
    this.setStatus({ state: "offline", stale: false, retryAt: null });
  }

  /**
   * Subscribe (e.g. `{type: "subscribe", points: ["hq/ahu-1/*"]}`); the same
   * subscription from several views is sent once. Answers the function that
   * undoes it.
   */
  subscribe(msg: Subscription): () => void {
    const key = JSON.stringify(msg);
    const entry = this.subs.get(key);
    if (entry) entry.count += 1;
    else {
      this.subs.set(key, { msg, count: 1 });
      this.send(msg);
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const e = this.subs.get(key);
      if (!e) return;
      e.count -= 1;
      if (e.count <= 0) {
        this.subs.delete(key);
        this.send({ ...msg, type: "unsubscribe" });
      }
    };
  }

  onMessage(fn: (msg: ServerMessage) => void): () => void {
    this.messageListeners.add(fn);
    return () => this.messageListeners.delete(fn);
  }

  onStatus(fn: (status: LiveStatus) => void): () => void {
    this.statusListeners.add(fn);
    fn(this.current);
    return () => this.statusListeners.delete(fn);
  }

  /** The subscriptions currently held (what a reconnection re-sends). */
  subscriptions(): Subscription[] {
    return [...this.subs.values()].map((e) => e.msg);
  }

  private send(msg: object): void {
    const s = this.socket;
    if (s && s.readyState === OPEN) s.send(JSON.stringify(msg));
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const token = await this.opts.token();
    if (this.stopped) return;
    if (!token) {
      // Signed out: nothing to connect with. The app shows sign-in.
      this.setStatus({ state: "offline", retryAt: null });
      return;
    }
    const sep = this.opts.url.includes("?") ? "&" : "?";
    const url = `${this.opts.url}${sep}token=${encodeURIComponent(token)}`;
    let socket: SocketLike;
    try {
      socket = this.opts.createSocket ? this.opts.createSocket(url) : (new WebSocket(url) as unknown as SocketLike);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      for (const { msg } of this.subs.values()) socket.send(JSON.stringify(msg));
      this.setStatus({ state: "connected", stale: false, lastMessageAt: this.opts.timers.now(), retryAt: null });
    };
    socket.onmessage = (ev) => {
      const now = this.opts.timers.now();
      if (this.current.stale || this.current.state !== "connected") {
        this.setStatus({ state: "connected", stale: false, lastMessageAt: now, retryAt: null });
      } else {
        this.current = { ...this.current, lastMessageAt: now };
      }
      let msg: ServerMessage;
      try {
        msg = JSON.parse(String(ev.data)) as ServerMessage;
      } catch {
        return;
      }
      if (!msg || typeof msg.type !== "string") return;
      if (typeof msg.now_ts === "number") this.opts.clock.update(msg);
      // The server pings a quiet stream every 25 s: proof of life, answered so proxies see traffic both ways.
      if (msg.type === "ping") socket.send(JSON.stringify({ type: "pong" }));
      for (const fn of this.messageListeners) fn(msg);
    };
    socket.onerror = () => {
      // onclose follows and decides what to do.
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      if (AUTH_CLOSE_CODES.has(ev.code)) {
        // The token was refused (expired, or rights changed): renew it, then retry as usual.
        void this.opts.renewToken().finally(() => this.scheduleRetry());
        return;
      }
      this.scheduleRetry();
    };
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt, this.opts.backoff, this.opts.random);
    this.attempt += 1;
    const t = this.opts.timers;
    const state: ConnectionState = this.attempt >= this.opts.offlineAfterAttempts ? "offline" : "reconnecting";
    this.setStatus({ state, retryAt: t.now() + delay });
    this.retryTimer = t.setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
  }

  /** Reconnect now (the "retry" button, or the browser coming back online). */
  retryNow(): void {
    if (this.stopped || this.socket) return;
    if (this.retryTimer !== null) this.opts.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    void this.connect();
  }

  private checkStale(): void {
    const c = this.current;
    if (c.state !== "connected" || c.stale || c.lastMessageAt === null) return;
    if (isStale(c.lastMessageAt, this.opts.timers.now(), this.opts.staleAfterMs)) this.setStatus({ stale: true });
  }

  private setStatus(patch: Partial<LiveStatus>): void {
    this.current = { ...this.current, ...patch };
    for (const fn of this.statusListeners) fn(this.current);
  }
}

/** Whether a feed whose last message came at `lastAt` is stale at `now`. */
export function isStale(lastAt: number, now: number, staleAfterMs: number): boolean {
  return now - lastAt >= staleAfterMs;
}

/** ws(s)://host/api/v1/ws for the page's origin. */
export function wsUrl(loc: { protocol: string; host: string } = location): string {
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/api/v1/ws`;
}
