import { describe, expect, it } from "vitest";
import { LiveClient, type Timers } from "../src/api/ws";
import { ServerClock } from "../src/lib/clock";
import { formatAge } from "../src/lib/format";

/** A ServerClock on a hand-moved monotonic clock, with a browser clock that is years off. */
function clock() {
  let mono = 0;
  const browser = 1_000_000; // 1970: a browser whose clock says nothing about the building
  const c = new ServerClock(() => mono, () => browser);
  return { c, browser, wait: (ms: number) => (mono += ms) };
}

describe("the server's clock", () => {
  it("is the browser's clock only until the server tells its time", () => {
    const { c, browser } = clock();
    expect(c.synced).toBe(false);
    expect(c.now()).toBe(browser);
    expect(c.update({ now_ts: 1_700_000_000, clock_rate: 1 })).toBe(true);
    expect(c.synced).toBe(true);
    expect(c.now()).toBe(1_700_000_000_000);
  });

  it("follows an accelerated building between messages at its rate", () => {
    const { c, wait } = clock();
    c.update({ now_ts: 1_700_000_000, clock_rate: 3600 });
    wait(1000); // one real second: one building hour
    expect(c.now()).toBe(1_700_000_000_000 + 3_600_000);
    expect(c.speed).toBe(3600);
    // A new reading replaces the extrapolation (the server is the truth).
    c.update({ now_ts: 1_700_010_000, clock_rate: 3600 });
    expect(c.now()).toBe(1_700_010_000_000);
  });

  it("stands still for a clock moved by hand (rate 0), and takes rate 1 when none is told", () => {
    const { c, wait } = clock();
    c.update({ now_ts: 100, clock_rate: 0 });
    wait(5000);
    expect(c.now()).toBe(100_000);
    c.update({ now_ts: 200 });
    wait(5000);
    expect(c.now()).toBe(205_000);
  });

  it("ignores messages without a finite now_ts, and a negative or odd rate counts as 1", () => {
    const { c, wait } = clock();
    for (const m of [null, "x", { type: "samples" }, { now_ts: "1" }, { now_ts: Number.NaN }]) expect(c.update(m)).toBe(false);
    expect(c.synced).toBe(false);
    c.update({ now_ts: 10, clock_rate: -5 });
    wait(1000);
    expect(c.now()).toBe(11_000);
  });

  it("never goes backwards when a late reading says an earlier time", () => {
    const { c, wait } = clock();
    c.update({ now_ts: 1_700_000_000, clock_rate: 60 }); // the WebSocket's clock message
    wait(1000);
    const shown = c.now();
    expect(shown).toBe(1_700_000_060_000);
    // A GET /health asked before that message, answered after it: a minute of building time behind.
    c.update({ now_ts: 1_700_000_000, clock_rate: 60 });
    expect(c.now()).toBe(shown);
    wait(1000);
    expect(c.now()).toBe(shown + 60_000); // and it goes on at the rate told
    // A newer reading still moves it forward.
    c.update({ now_ts: 1_700_001_000, clock_rate: 60 });
    expect(c.now()).toBe(1_700_001_000_000);
  });

  it("tells listeners of every reading", () => {
    const { c } = clock();
    let n = 0;
    const off = c.onUpdate(() => (n += 1));
    c.update({ now_ts: 1 });
    c.update({ now_ts: 2 });
    off();
    c.update({ now_ts: 3 });
    expect(n).toBe(2);
  });

  it("makes ages the building's: a sample an hour old in the demo is not 'just now'", () => {
    const { c, wait } = clock();
    c.update({ now_ts: 1_700_000_000, clock_rate: 3600 });
    const sampleMs = 1_700_000_000_000;
    wait(1000);
    expect(formatAge(sampleMs, c.now())).toBe("1 h ago");
  });
});

describe("the live connection sets the server's clock", () => {
  it("from the clock message, snapshots and pings, not from other messages", async () => {
    let mono = 0;
    const c = new ServerClock(() => mono, () => 0);
    const sockets: { onopen: ((e: unknown) => void) | null; onmessage: ((e: { data: unknown }) => void) | null }[] = [];
    const timers: Timers = {
      now: () => 0,
      setTimeout: () => 0,
      clearTimeout: () => {},
      setInterval: () => 0,
      clearInterval: () => {},
    };
    const client = new LiveClient({
      url: "ws://h/api/v1/ws",
      token: async () => "tok",
      timers,
      clock: c,
      createSocket: () => {
        const s = { readyState: 1, onopen: null, onmessage: null, onclose: null, onerror: null, send() {}, close() {} };
        sockets.push(s);
        return s;
      },
    });
    client.start();
    await new Promise((r) => setTimeout(r, 0));
    const s = sockets[0]!;
    s.onopen?.({});
    const say = (m: unknown) => s.onmessage?.({ data: JSON.stringify(m) });
    say({ type: "ready", user: "u", sites: ["hq"], interval_ms: 100 });
    expect(c.synced).toBe(false);
    say({ type: "clock", now: "2023-11-14T22:13:20.000+00:00", now_ts: 1_700_000_000, clock_rate: 60 });
    expect(c.now()).toBe(1_700_000_000_000);
    mono += 1000;
    expect(c.now()).toBe(1_700_000_060_000);
    say({ type: "samples", snapshot: true, samples: [], now_ts: 1_700_000_100, clock_rate: 60 });
    expect(c.now()).toBe(1_700_000_100_000);
    say({ type: "samples", samples: [["hq/a/b", 5, 1, "ok"]] });
    expect(c.now()).toBe(1_700_000_100_000);
    client.stop();
  });
});
