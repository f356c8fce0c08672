import { describe, expect, it } from "vitest";
import type { SiteLag } from "../src/api/types";
import { alarmsActionable, commandOrigin, lagLabel, lagWords, lastAsked, lifecycle } from "../src/lib/central";

const lag = (extra: Partial<SiteLag> = {}): SiteLag => ({ newest_ts: 1000, lag_s: 3, online: true, behind: false, warn_s: 300, ...extra });

describe("a central's lag per site", () => {
  it("words a lag in seconds, minutes, hours and days", () => {
    expect([lagWords(3.4), lagWords(59.6), lagWords(61), lagWords(3600), lagWords(3900), lagWords(50 * 3600)]).toEqual([
      "3 s",
      "1 min",
      "1 min",
      "1 h",
      "1 h 5 min",
      "2 d",
    ]);
  });

  it("says how far behind, warns when the server says behind, and tells an edge offline", () => {
    expect(lagLabel(lag())).toEqual({ text: "3 s behind", warn: false, title: "Warning past 5 min behind" });
    expect(lagLabel(lag({ lag_s: 400, behind: true, online: false }))).toMatchObject({ text: "6 min behind · edge offline", warn: true });
    expect(lagLabel(lag({ lag_s: null, newest_ts: null, behind: true, online: null }))).toMatchObject({
      text: "No samples yet · edge not heard yet",
      warn: true,
    });
  });

  it("says nothing at an edge", () => {
    expect(lagLabel(null)).toBeNull();
    expect(lagLabel(undefined)).toBeNull();
  });
});

describe("a central's commands and alarms", () => {
  it("tells who made a command and its lifecycle at the edge", () => {
    expect(commandOrigin({ origin: "central", source: "central", requested_by: "op@example.com" })).toBe("centre (op@example.com)");
    expect(commandOrigin({ origin: "edge", source: "schedule", requested_by: "" })).toBe("edge: schedule");
    expect(commandOrigin({ source: "operator", requested_by: "ann" })).toBe("operator (ann)");
    expect(lifecycle({ status: "completed", changes: [{ status: "pending" }, { status: "executing" }, { status: "executing" }, { status: "completed" }] })).toBe(
      "pending → executing → completed",
    );
    expect(lifecycle({ status: "pending", changes: null })).toBe("pending");
  });

  it("offers acknowledging only where the alarms are not an edge's", () => {
    expect(alarmsActionable([{ remote: false }], { central: null })).toBe(true);
    expect(alarmsActionable([], {})).toBe(true);
    expect(alarmsActionable([{ remote: true }], null)).toBe(false);
    expect(alarmsActionable([], { central: lag() })).toBe(false);
  });
});

describe("lastAsked", () => {
  it("keeps only the last question's answer", () => {
    const ask = lastAsked<string>();
    const first = ask("a");
    expect(first()).toBe(true);
    const second = ask("b");
    expect(first()).toBe(false); // the answer for site a, arriving after b was asked: dropped
    expect(second()).toBe(true);
    const again = ask("a");
    expect(second()).toBe(false);
    expect(again()).toBe(true); // asking a again is a new question: the first a's answer stays dropped
    expect(first()).toBe(false);
  });
});
