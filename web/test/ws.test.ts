import { describe, expect, it } from "vitest";
import { backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from "../src/api/backoff";
import { isStale, LiveClient, type LiveStatus, type Timers } from "../src/api/ws";

describe("backoff schedule", () => {
  it("doubles from 0.5 s up to a 30 s cap", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 10].map((a) => backoffCeiling(a))).toEqual([
      500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
  });

  it("jitters between half the ceiling and the ceiling", () => {
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0)).toBe(2000);
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0.999999)).toBe(4000);
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0.5)).toBe(3000);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(10);
      expect(d).toBeGreaterThanOrEqual(15000);
      expect(d).toBeLessThanOrEqual(30000);
    }
  });
});

/** A manual clock and fake sockets. */
function harness(opts: { staleAfterMs?: number } = {}) {
  let now = 0;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void; every?: number }>();
  const t: Timers = {
    now: () => now,
    setTimeout: (fn, ms) => (timers.set(nextId, { at: now + ms, fn }), nextId++),
    clearTimeout: (h) => void timers.delete(h as number),
    setInterval: (fn, ms) => (timers.set(nextId, { at: now + ms, fn, every: ms }), nextId++),
    clearInterval: (h) => void timers.delete(h as number),
  };
  const advance = async (ms: number) => {
    const end = now + ms;
    for (;;) {
      const due = [...timers.entries()].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      const [id, x] = due;
      now = x.at;
      if (x.every) x.at += x.every;
      else timers.delete(id);
      x.fn();
      await flush();
    }
    now = end;
  };
  const sockets: FakeSocket[] = [];
  class FakeSocket {
    readyState = 0;
    sent: unknown[] = [];
    onopen: ((ev: unknown) => void) | null = null;
    onmessage: ((ev: { data: unknown }) => void) | null = null;
    onclose: ((ev: { code: number }) => void) | null = null;
    onerror: ((ev: unknown) => void) | null = null;
    constructor(public url: string) {
      sockets.push(this);
    }
    send(data: string) {
      this.sent.push(JSON.parse(data));
    }
    close() {
      this.readyState = 3;
    }
    open() {
      this.readyState = 1;
      this.onopen?.({});
    }
    drop(code = 1006) {
      this.readyState = 3;
      this.onclose?.({ code });
    }
    receive(msg: unknown) {
      this.onmessage?.({ data: JSON.stringify(msg) });
    }
  }
  const states: LiveStatus[] = [];
  const client = new LiveClient({
    url: "ws://h/api/v1/ws",
    token: async () => "tok",
    createSocket: (url) => new FakeSocket(url),
    timers: t,
    random: () => 0,
    staleAfterMs: opts.staleAfterMs ?? 40_000,
  });
  client.onStatus((s) => states.push(s));
  return { client, sockets, advance, states, now: () => now };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe("LiveClient", () => {
  it("sends the token in the URL and subscriptions once open", async () => {
    const h = harness();
    h.client.subscribe({ type: "subscribe", points: ["hq/ahu-1/*"] });
    h.client.start();
    await flush();
    const s = h.sockets[0]!;
    expect(s.url).toBe("ws://h/api/v1/ws?token=tok");
    s.open();
    expect(s.sent).toEqual([{ type: "subscribe", points: ["hq/ahu-1/*"] }]);
    expect(h.client.status.state).toBe("connected");
  });

  it("reconnects with growing delays and resubscribes everything", async () => {
    const h = harness();
    h.client.start();
    await flush();
    h.sockets[0]!.open();
    h.client.subscribe({ type: "subscribe", points: ["hq/*"] });
    h.client.subscribe({ type: "subscribe", alarms: true });
    h.sockets[0]!.drop();
    expect(h.client.status.state).toBe("reconnecting");
    // random() = 0 → half the ceiling: 250, 500, 1000 ms.
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = h.sockets.length;
      const start = h.now();
      while (h.sockets.length === before) await h.advance(50);
      delays.push(h.now() - start);
      h.sockets.at(-1)!.drop();
    }
    expect(delays).toEqual([250, 500, 1000]);
    await h.advance(2000);
    const last = h.sockets.at(-1)!;
    last.open();
    expect(last.sent).toEqual([
      { type: "subscribe", points: ["hq/*"] },
      { type: "subscribe", alarms: true },
    ]);
    expect(h.client.status.state).toBe("connected");
  });

  it("says offline after several failed attempts, and keeps trying", async () => {
    const h = harness();
    h.client.start();
    await flush();
    for (let i = 0; i < 3; i++) {
      h.sockets.at(-1)!.drop();
      await h.advance(60_000);
    }
    expect(h.client.status.state).toBe("reconnecting");
    h.sockets.at(-1)!.drop();
    expect(h.client.status.state).toBe("offline");
    const n = h.sockets.length;
    await h.advance(60_000);
    expect(h.sockets.length).toBe(n + 1);
  });

  it("resets the backoff after a successful connection", async () => {
    const h = harness();
    h.client.start();
    await flush();
    h.sockets[0]!.drop();
    await h.advance(250);
    h.sockets[1]!.drop();
    await h.advance(500);
    h.sockets[2]!.open();
    h.sockets[2]!.drop();
    expect(h.client.status.retryAt).toBe(h.now() + 250);
  });

  it("marks the data stale when nothing arrives for a while, and fresh on the next message", async () => {
    const h = harness({ staleAfterMs: 40_000 });
    h.client.start();
    await flush();
    const s = h.sockets[0]!;
    s.open();
    await h.advance(30_000);
    expect(h.client.status.stale).toBe(false);
    await h.advance(10_000);
    expect(h.client.status.stale).toBe(true);
    s.receive({ type: "ping" });
    expect(h.client.status.stale).toBe(false);
  });

  it("answers the server's ping with pong and counts it as a sign of life", async () => {
    const h = harness();
    h.client.start();
    await flush();
    const s = h.sockets[0]!;
    s.open();
    s.receive({ type: "ping" });
    expect(s.sent).toContainEqual({ type: "pong" });
  });

  it("unsubscribes when the last holder lets go, and not before", async () => {
    const h = harness();
    h.client.start();
    await flush();
    const s = h.sockets[0]!;
    s.open();
    const a = h.client.subscribe({ type: "subscribe", points: ["hq/*"] });
    const b = h.client.subscribe({ type: "subscribe", points: ["hq/*"] });
    expect(s.sent).toHaveLength(1);
    a();
    expect(s.sent).toHaveLength(1);
    b();
    expect(s.sent.at(-1)).toEqual({ type: "unsubscribe", points: ["hq/*"] });
    expect(h.client.subscriptions()).toEqual([]);
  });

  it("stops for good on stop()", async () => {
    const h = harness();
    h.client.start();
    await flush();
    h.client.stop();
    await h.advance(120_000);
    expect(h.sockets).toHaveLength(1);
    expect(h.client.status.state).toBe("offline");
  });
});

describe("isStale", () => {
  it("is stale from the threshold on", () => {
    expect(isStale(0, 39_999, 40_000)).toBe(false);
    expect(isStale(0, 40_000, 40_000)).toBe(true);
  });
});
