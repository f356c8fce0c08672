import { describe, expect, it } from "vitest";
import type { Energy, EnergyBucket, EnergyMeter, MeterEnergy } from "../src/api/types";
import { meterCards } from "../src/lib/energy";
import { Bars } from "../src/pages/Energy";
import { html } from "./render";

const bucket = (start: number, kwh: number | null, partial = false): EnergyBucket => ({ start, end: start + 3600, date: null, kwh, partial });
const series = (point: string, kind: "register" | "demand", kwh: number, peak: MeterEnergy["peak"] = null): MeterEnergy => ({
  point, equipment: point.split("/")[1]!, name: point.split("/")[2]!, description: "", unit: kind === "register" ? "kWh" : "kW", kind,
  site_meter: true, buckets: [bucket(0, kwh - 1), bucket(3600, 1, true)], previous_same_time_kwh: null, peak,
});
const meter = (over: Partial<EnergyMeter> & { id: string }): EnergyMeter => ({
  equipment: "meters", equipment_name: "Utility meters", name: over.id, commodity: "elec", energy: null, power: null, main: true, parent: null, ...over,
});

describe("one card per meter, as the server grouped them", () => {
  const hourly: Energy = {
    site: "demo", timezone: "UTC", bucket: "hour", until: 5000,
    series: [series("demo/meters/elec-kw", "demand", 10, { kw: 42, at: 0 }), series("demo/meters/elec-kwh", "register", 9), series("demo/meters/ltg-kw", "demand", 3, { kw: 4, at: 0 })],
    meters: [
      meter({ id: "demo/meters/elec-kwh", name: "Building electric", energy: "demo/meters/elec-kwh", power: "demo/meters/elec-kw" }),
      meter({ id: "demo/meters/ltg-kw", name: "Lighting", power: "demo/meters/ltg-kw", main: false, parent: "demo/meters/elec-kwh" }),
    ],
  };

  it("takes a meter's energy from its register and its peak from its demand point", () => {
    const cards = meterCards(hourly, { ...hourly, bucket: "day" });
    expect(cards.map((c) => [c.meter.name, c.point.point, c.peak?.kw, c.parentName])).toEqual([
      ["Building electric", "demo/meters/elec-kwh", 42, null],
      ["Lighting", "demo/meters/ltg-kw", 4, "Building electric"],
    ]);
    expect(cards[0]!.hours.map((b) => b.partial)).toEqual([false, true]);
  });

  it("makes each series its own meter when the answer has no meters", () => {
    const { meters: _m, ...old } = hourly;
    const cards = meterCards(old as Energy, old as Energy);
    expect(cards.map((c) => c.point.point)).toEqual(["demo/meters/elec-kw", "demo/meters/elec-kwh", "demo/meters/ltg-kw"]);
  });
});

describe("the bucket in progress", () => {
  it("is a paler bar that says 'so far', in the chart and in the table", () => {
    const list = [bucket(0, 4), bucket(3600, 1.5, true)];
    const out = html(Bars({ title: "By day", list, label: (b) => `d${b.start / 3600}`, table: true }));
    expect(out.match(/class="bar bar--partial"/g)?.length).toBe(1);
    expect(out).toContain("d1: 1.5 kWh so far");
    expect(out).toContain("the paler bar is in progress, so far");
    expect(out).not.toContain("d0: 4 kWh so far");
  });
});
