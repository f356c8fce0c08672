import { describe, expect, it } from "vitest";
import type { OverrideItem, PointSummary } from "../src/api/types";
import { OverrideMark, ValueText } from "../src/components/Value";
import { setDisplayZone, setFormatLocale } from "../src/lib/format";
import { equipmentState } from "../src/lib/overview";
import { asPointOverride, overrideCounts, overrideLabel, winningByPoint } from "../src/lib/overrides";
import { html } from "./render";

const item = (point: string, priority: number, winning: boolean, extra: Partial<OverrideItem> = {}): OverrideItem => ({
  point,
  equipment: point.split("/")[1]!,
  name: point.split("/")[2]!,
  kind: "number",
  unit: "degC",
  states: null,
  priority,
  value: 21,
  source: "operator",
  requested_by: "ann@example.com",
  reason: "hot call",
  since: 1_700_000_000,
  expires_at: null,
  winning,
  command_id: `c-${point}-${priority}`,
  ...extra,
});

const point = (id: string, extra: Partial<PointSummary> = {}): PointSummary => ({
  id,
  site: "hq",
  equipment: id.split("/")[1]!,
  name: id.split("/")[2]!,
  kind: "number",
  unit: "degC",
  description: "",
  tags: [],
  writable: true,
  value: 21,
  status: "ok",
  ts: 1_700_000_000,
  ...extra,
});

describe("overrides", () => {
  it("word who holds a point, at which priority, until when and why", () => {
    expect(overrideLabel({ priority: 8, requested_by: "ann@example.com", expires_at: null, reason: "hot call" })).toBe(
      "Overridden at priority 8 by ann@example.com, until released (hot call)",
    );
    // Times are in the browser's locale and the site's zone (lib/format): here en-GB, UTC.
    setFormatLocale("en-GB");
    setDisplayZone("UTC");
    const timed = overrideLabel({ priority: 9, requested_by: "", expires_at: 1_700_000_600, reason: "" });
    setFormatLocale(undefined);
    setDisplayZone(undefined);
    expect(timed).toBe("Overridden at priority 9 until 14 Nov 2023, 22:23:20");
  });

  it("count overridden points once however many slots people hold on them", () => {
    const items = [item("hq/vav-1/zone-sp", 8, true), item("hq/vav-1/zone-sp", 12, false), item("hq/ahu-1/fan", 8, true)];
    expect(overrideCounts(items)).toEqual({ points: 2, slots: 3 });
    expect(overrideCounts([item("hq/ahu-1/fan", 12, false)])).toEqual({ points: 0, slots: 1 });
    const winners = winningByPoint(items);
    expect([...winners.keys()]).toEqual(["hq/vav-1/zone-sp", "hq/ahu-1/fan"]);
    expect(winners.get("hq/vav-1/zone-sp")).toEqual(asPointOverride(items[0]!));
    expect(asPointOverride(item("hq/ahu-1/fan", 8, true, { expires_at: 5 }))).toMatchObject({ requested_by: "ann@example.com", expires_at: 5 });
  });

  it("make equipment with a point held by a person overridden, below alarms and offline", () => {
    const held = point("hq/ahu-1/fan", { override: asPointOverride(item("hq/ahu-1/fan", 8, true)) });
    expect(equipmentState([point("hq/ahu-1/sat"), held], new Set())).toBe("overridden");
    expect(equipmentState([point("hq/ahu-1/sat"), point("hq/ahu-1/fan", { override: null })], new Set())).toBe("ok");
    expect(equipmentState([held], new Set(["hq/ahu-1/fan"]))).toBe("alarm");
    expect(equipmentState([point("hq/ahu-1/sat", { status: "offline" }), held], new Set())).toBe("offline");
  });

  it("mark a held value with its priority, readable by screen readers", () => {
    const o = asPointOverride(item("hq/ahu-1/fan", 8, true));
    const out = html(
      ValueText({ value: 21, status: "ok", tsMs: 1_700_000_000_000, nowMs: 1_700_000_001_000, live: true, point: point("hq/ahu-1/fan", { override: o }) }),
    );
    expect(out).toContain("P8");
    expect(out).toContain('title="Overridden at priority 8 by ann@example.com, until released (hot call)"');
    expect(out).toContain('<span class="sr-only">, Overridden at priority 8 by ann@example.com, until released (hot call)</span>');
    expect(out).toContain("value--held");
    // A newer word from the page (the point was released since it loaded) wins over the summary's.
    const released = html(
      ValueText({ value: 21, status: "ok", tsMs: 1_700_000_000_000, nowMs: 1_700_000_001_000, live: true, point: point("hq/ahu-1/fan", { override: o }), override: null }),
    );
    expect(released).not.toContain("P8");
    expect(html(OverrideMark({ override: o }))).toContain('data-override-priority="8"');
  });
});

describe("the overrides page's route", () => {
  it("is a site's /overrides", async () => {
    const { parseRoute } = await import("../src/router");
    expect(parseRoute("/sites/hq/overrides")).toEqual({ name: "overrides", site: "hq" });
    expect(parseRoute("/sites/hq/overrides/x").name).toBe("not-found");
  });
});

describe("what the building is doing, in words", () => {
  it("says the modes the server worked out, leaving out what it does not know", async () => {
    const { modeWords } = await import("../src/lib/overview");
    expect(modeWords({ occupancy: "occupied", conditioning: "heating", running: true })).toEqual(["occupied", "heating", "running"]);
    expect(modeWords({ occupancy: null, conditioning: "idle", running: false })).toEqual(["off"]);
    expect(modeWords({ occupancy: null, conditioning: null, running: null })).toEqual([]);
  });

  it("names a zone outside its band with the band, and nothing for one within", async () => {
    const { comfortWords } = await import("../src/lib/overview");
    const zone = { point: "hq/vav-1/zone-temp", value: 11.6, low: 21, high: 24, state: "below" as const };
    expect(comfortWords(zone, "degC")).toBe("11.6 °C, below its band 21.0–24.0 °C");
    expect(comfortWords({ ...zone, value: 26, high: null, state: "above" }, "degC")).toBe("26.0 °C, above its band from 21.0 °C");
    expect(comfortWords({ ...zone, state: "within" }, "degC")).toBeNull();
    expect(comfortWords(null, "degC")).toBeNull();
  });

  it("says who holds an equipment off that a schedule wants on", async () => {
    const { scheduleMissWords } = await import("../src/lib/overview");
    const miss = { point: "hq/ahu-1/fan", schedule: "schedule:occ", priority: 12, winning_priority: 12, winning_source: "schedule" };
    expect(scheduleMissWords(miss)).toBe("Off while scheduled on");
    expect(scheduleMissWords({ ...miss, winning_priority: 8, winning_source: "operator" })).toBe(
      "Off while scheduled on (held at priority 8 by an operator)",
    );
  });
});
