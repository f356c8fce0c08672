import { describe, expect, it } from "vitest";
import type { TrendHistory, TrendSeries } from "../src/api/types";
import { dataSpan, trendData } from "../src/lib/chart";

const H = 3600;
const series = (s: Partial<TrendSeries> & { point: string }): TrendSeries => ({ unit: "degC", kind: "number", step: false, samples: [], ...s });
const history = (list: TrendSeries[], since = 0, until = 24 * H): TrendHistory => ({ site: "hq", since, until, rollup: "raw", series: list });

describe("trends that tell the truth", () => {
  it("a range with no data keeps its axis (the range asked for) and says it is empty", () => {
    const d = trendData(history([series({ point: "hq/ahu-1/sat" })]), 24 * H);
    expect(d.empty).toBe(true);
    expect(d.range).toEqual([0, 24 * H]);
    expect(dataSpan(d)).toBeNull();
  });

  it("a range with one sample gets the requested range as its x axis, not the sample's", () => {
    const d = trendData(history([series({ point: "p", samples: [{ ts: 5 * H, value: 21, status: "ok" }] })]), 24 * H);
    expect(d.range).toEqual([0, 24 * H]);
    expect(d.empty).toBe(false);
    expect(dataSpan(d)).toEqual([5 * H, 5 * H, 1]);
  });

  it("a point unchanged in the window is drawn from its last value before the window", () => {
    const d = trendData(history([series({ point: "p", samples: [], prior: { ts: -10 * H, value: 19.5, status: "ok" } })]), 24 * H);
    expect(d.empty).toBe(false);
    expect(d.data[0]).toEqual([0]);
    expect(d.data[1]).toEqual([19.5]);
  });

  it("carries the prior value to the window's start only when the first sample comes later", () => {
    const d = trendData(
      history([series({ point: "p", samples: [{ ts: 2 * H, value: 22, status: "ok" }], prior: { ts: -H, value: 20, status: "ok" } })]),
      24 * H,
    );
    expect(d.data).toEqual([[0, 2 * H], [20, 22]]);
    const onStart = trendData(history([series({ point: "p", samples: [{ ts: 0, value: 22, status: "ok" }], prior: { ts: -H, value: 20, status: "ok" } })]), 24 * H);
    expect(onStart.data).toEqual([[0], [22]]);
  });

  it("a prior with no value (offline) carries nothing", () => {
    const d = trendData(history([series({ point: "p", prior: { ts: -H, value: null, status: "offline" } })]), 24 * H);
    expect(d.empty).toBe(true);
  });

  it("step series (bool, enum, change of value) hold their last value up to now, and say they step", () => {
    const fan = series({ point: "hq/ahu-1/fan", unit: null, kind: "bool", step: true, samples: [{ ts: H, value: true, status: "ok" }, { ts: 3 * H, value: false, status: "ok" }] });
    const sat = series({ point: "hq/ahu-1/sat", samples: [{ ts: H, value: 14, status: "ok" }] });
    const d = trendData(history([fan, sat]), 10 * H); // now is 10 h into a 24 h window
    expect(d.series.map((s) => s.step)).toEqual([true, false]);
    expect(d.data[0]).toEqual([H, 3 * H, 10 * H]);
    expect(d.data[1]).toEqual([1, 0, 0]); // held to now, not to the window's end
    expect(d.data[2]).toEqual([14, undefined, undefined]); // a sensor is not extended
    expect(d.units).toEqual(["", "degC"]);
  });

  it("a step series whose last sample is a gap is not extended", () => {
    const d = trendData(history([series({ point: "p", step: true, samples: [{ ts: H, value: null, status: "offline" }] })]), 10 * H);
    expect(d.data).toEqual([[H], [null]]);
  });

  it("the data span covers the building hours that passed", () => {
    const samples = Array.from({ length: 21 }, (_, i) => ({ ts: 4 * H + i * H, value: 20 + i / 10, status: "ok" }));
    const d = trendData(history([series({ point: "p", samples })]), 24 * H);
    const span = dataSpan(d)!;
    expect((span[1] - span[0]) / H).toBe(20);
    expect(span[2]).toBe(21);
  });
});
