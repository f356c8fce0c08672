import { describe, expect, it } from "vitest";
import type { Me, PointSummary } from "../src/api/types";
import { toChartData } from "../src/lib/chart";
import { displayValue, formatAge, formatValue, toMs, unitLabel } from "../src/lib/format";
import { equipmentState, keyPoints, zoneSpread } from "../src/lib/overview";
import { can, canCommand } from "../src/lib/roles";
import { chooseRollup } from "../src/lib/rollup";
import { freshness, showsNumber } from "../src/lib/staleness";

const H = 3_600_000;
const DAY = 24 * H;

describe("rollup by range", () => {
  it("is raw up to a day, hourly up to 30 days, daily beyond", () => {
    expect(chooseRollup(0, H)).toBe("raw");
    expect(chooseRollup(0, DAY)).toBe("raw");
    expect(chooseRollup(0, DAY + 1)).toBe("hour");
    expect(chooseRollup(0, 30 * DAY)).toBe("hour");
    expect(chooseRollup(0, 30 * DAY + 1)).toBe("day");
    expect(chooseRollup(0, 365 * DAY)).toBe("day");
  });
});

describe("staleness rules", () => {
  const now = 10 * DAY;
  const base = { nowMs: now, live: true };
  it("shows a recent ok value as fresh", () => {
    expect(freshness({ ...base, status: "ok", tsMs: now - 5000 })).toBe("fresh");
    expect(freshness({ ...base, status: "overridden", tsMs: now - 5000 })).toBe("fresh");
  });
  it("never shows an offline or faulty point's value", () => {
    expect(freshness({ ...base, status: "offline", tsMs: now })).toBe("offline");
    expect(freshness({ ...base, status: "fault", tsMs: now })).toBe("fault");
    expect(showsNumber("offline")).toBe(false);
    expect(showsNumber("fault")).toBe(false);
  });
  it("keeps the server's stale", () => {
    expect(freshness({ ...base, status: "stale", tsMs: now })).toBe("stale");
  });
  it("makes an old ok sample stale", () => {
    expect(freshness({ ...base, status: "ok", tsMs: now - 16 * 60_000 })).toBe("stale");
    expect(freshness({ ...base, status: "ok", tsMs: now - 60_000, maxAgeMs: 30_000 })).toBe("stale");
  });
  it("makes every value stale while the live feed is down or quiet", () => {
    expect(freshness({ ...base, live: false, status: "ok", tsMs: now })).toBe("stale");
  });
  it("says unknown for a point that never had a value", () => {
    expect(freshness({ ...base, status: null, tsMs: null })).toBe("unknown");
  });
});

describe("formatting values", () => {
  it("writes numbers with their unit", () => {
    expect(formatValue(21.349, { unit: "degC" })).toBe("21.3 °C");
    expect(formatValue(45, { unit: "%" })).toBe("45.0%");
    expect(formatValue(55.2, { unit: "%RH" })).toBe("55.2%RH");
    expect(formatValue(125432.7, { unit: "kWh" })).toBe("125,433 kWh");
    expect(formatValue(0.523, { unit: null })).toBe("0.52");
    expect(formatValue(250, { unit: "Pa" })).toBe("250.0 Pa");
    expect(unitLabel("L/s")).toBe("L/s");
  });
  it("writes booleans as On/Off and enums by label", () => {
    expect(formatValue(true, { kind: "bool" })).toBe("On");
    expect(formatValue(0, { kind: "bool" })).toBe("Off");
    expect(formatValue(2, { kind: "enum", states: ["off", "heating", "cooling"] })).toBe("heating");
    expect(formatValue("cooling", { kind: "enum" })).toBe("cooling");
  });
  it("writes no value as a dash", () => {
    expect(formatValue(null)).toBe("—");
  });
  it("shows offline and fault instead of a number, stale as the last value labelled", () => {
    expect(displayValue(21.3, "offline", "offline", { unit: "degC" })).toMatchObject({ text: "Offline", tone: "offline" });
    expect(displayValue(21.3, "fault", "fault")).toMatchObject({ text: "Fault", tone: "fault" });
    const stale = displayValue(21.3, "ok", "stale", { unit: "degC" });
    expect(stale.tone).toBe("stale");
    expect(stale.label).toMatch(/not current/);
    expect(displayValue(21.3, "overridden", "fresh", { unit: "degC" })).toMatchObject({ text: "21.3 °C", tone: "overridden" });
    expect(displayValue(21.3, "ok", "fresh", { unit: "degC" })).toMatchObject({ text: "21.3 °C", tone: "ok" });
  });
  it("writes ages and converts API times to ms", () => {
    expect(formatAge(1000, 3000)).toBe("just now");
    expect(formatAge(0, 30_000)).toBe("30 s ago");
    expect(formatAge(0, 5 * 60_000)).toBe("5 min ago");
    expect(formatAge(0, 3 * H)).toBe("3 h ago");
    expect(formatAge(null, 0)).toBe("never");
    expect(toMs(1_700_000_000)).toBe(1_700_000_000_000);
    expect(toMs(1_700_000_000_000)).toBe(1_700_000_000_000);
    expect(toMs("2024-05-01T08:00:00Z")).toBe(Date.UTC(2024, 4, 1, 8));
    expect(toMs(null)).toBeNull();
  });
});

function point(id: string, tags: string[], extra: Partial<PointSummary> = {}): PointSummary {
  const [site, equipment, name] = id.split("/") as [string, string, string];
  return { id, site, equipment, name, kind: "number", unit: "degC", description: "", tags, writable: false, value: 20, status: "ok", ts: 0, ...extra };
}

describe("site overview", () => {
  const pts = [
    point("hq/weather/oat", ["outside", "air", "temp", "sensor"]),
    point("hq/ahu-1/sat", ["discharge", "air", "temp", "sensor"]),
    point("hq/ahu-1/sat-sp", ["discharge", "air", "temp", "sp"]),
    point("hq/vav-n/zone-temp", ["zone", "air", "temp", "sensor"], { value: 21.5 }),
    point("hq/vav-s/zone-temp", ["zone", "air", "temp", "sensor"], { value: 23.1 }),
    point("hq/vav-e/zone-temp", ["zone", "air", "temp", "sensor"], { value: 30, status: "offline" }),
    point("hq/meter-main/kw", ["elec", "power", "sensor"], { unit: "kW" }),
    point("hq/meter-main/kwh", ["elec", "energy", "sensor"], { unit: "kWh" }),
  ];
  it("finds the key points by their tags", () => {
    const k = keyPoints(pts);
    expect(k.outdoorAir?.id).toBe("hq/weather/oat");
    expect(k.supplyAir.map((p) => p.id)).toEqual(["hq/ahu-1/sat"]);
    expect(k.zoneTemps).toHaveLength(3);
    expect(k.energy?.id).toBe("hq/meter-main/kwh");
    expect(k.demand?.id).toBe("hq/meter-main/kw");
  });
  it("takes supply air from air handlers, not the VAV boxes' discharge air, when types are known", () => {
    const withVav = [...pts, point("hq/vav-n/da-t", ["discharge", "air", "temp", "sensor"])];
    expect(keyPoints(withVav).supplyAir.map((p) => p.id)).toEqual(["hq/ahu-1/sat", "hq/vav-n/da-t"]);
    const types = { "ahu-1": "ahu", "vav-n": "vav", weather: "weather" };
    expect(keyPoints(withVav, types).supplyAir.map((p) => p.id)).toEqual(["hq/ahu-1/sat"]);
    // No air handler among the types: every discharge air sensor, rather than none.
    expect(keyPoints(withVav, { "vav-n": "vav" }).supplyAir).toHaveLength(2);
  });
  it("computes the zone spread from zones with a current value only", () => {
    const spread = zoneSpread(keyPoints(pts).zoneTemps)!;
    expect(spread.min.value).toBe(21.5);
    expect(spread.max.value).toBe(23.1);
    expect(zoneSpread([])).toBeNull();
  });
  it("ranks equipment state: alarm, offline, overridden, ok", () => {
    const ok = [point("hq/a/x", [])];
    expect(equipmentState(ok, new Set())).toBe("ok");
    expect(equipmentState([...ok, point("hq/a/y", [], { status: "overridden" })], new Set())).toBe("overridden");
    expect(equipmentState([...ok, point("hq/a/y", [], { status: "offline" })], new Set())).toBe("offline");
    expect(equipmentState(ok, new Set(["hq/a/x"]))).toBe("alarm");
  });
});

describe("chart data", () => {
  it("aligns series on one time axis and gives each unit its own axis", () => {
    const c = toChartData({
      site: "hq", since: 0, until: 100, rollup: "raw",
      series: [
        { point: "hq/ahu-1/sat", unit: "degC", samples: [{ ts: 1, value: 13, status: "ok" }, { ts: 3, value: null, status: "offline" }] },
        { point: "hq/ahu-1/rat", unit: "degC", samples: [{ ts: 2, value: 22, status: "ok" }] },
        { point: "hq/ahu-1/fan-speed", unit: "%", samples: [{ ts: 1, value: 60, status: "ok" }] },
      ],
    });
    expect(c.units).toEqual(["degC", "%"]);
    expect(c.series.map((s) => s.axis)).toEqual([0, 0, 1]);
    expect(c.data[0]).toEqual([1, 2, 3]);
    expect(c.data[1]).toEqual([13, undefined, null]); // null: the point was offline (a gap)
    expect(c.data[2]).toEqual([undefined, 22, undefined]);
  });
  it("plots the time-weighted mean of rollups", () => {
    const c = toChartData({
      site: "hq", since: 0, until: 100, rollup: "hour",
      series: [{ point: "p", unit: "kW", rollups: [{ start: 0, count: 1, min: 1, max: 3, mean: 2, tw_mean: 2.5, covered: 3600, last: 3, last_ts: 10 }] }],
    });
    expect(c.data).toEqual([[0], [2.5]]);
  });
});

describe("roles", () => {
  const me = (permissions: Record<string, string[]>): Me => ({ id: "u", email: "e", name: "n", via: "session", token_role: null, grants: {}, permissions });
  it("lets operators command and hides the dialog from viewers", () => {
    expect(canCommand(me({ hq: ["points:read", "commands:write"] }), "hq")).toBe(true);
    expect(canCommand(me({ hq: ["points:read"] }), "hq")).toBe(false);
    expect(canCommand(me({ hq: ["commands:write"] }), "lab")).toBe(false);
    expect(canCommand(null, "hq")).toBe(false);
  });
  it("honours grants on every site", () => {
    expect(can(me({ "*": ["commands:write"] }), "commands:write", "lab")).toBe(true);
  });
});
