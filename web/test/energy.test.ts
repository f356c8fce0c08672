import { describe, expect, it } from "vitest";
import type { EnergyBucket } from "../src/api/types";
import { axisTicks, dayTick, hourTick, labelledBars, meterTitles, tickLabel } from "../src/lib/energy";
import { Bars } from "../src/pages/Energy";
import { html } from "./render";

const hour = (start: number, kwh: number | null): EnergyBucket => ({ start, end: start + 3600, date: null, kwh });

describe("the Energy page's charts", () => {
  it("puts round kWh ticks from 0 to at least the highest bar", () => {
    expect(axisTicks(11.6)).toEqual([0, 5, 10, 15]);
    expect(axisTicks(126.1)).toEqual([0, 50, 100, 150]);
    expect(axisTicks(0.37)).toEqual([0, 0.1, 0.2, 0.3, 0.4]);
    expect(axisTicks(40)).toEqual([0, 10, 20, 30, 40]);
    expect(axisTicks(0)).toEqual([0, 1]);
    expect(axisTicks(Number.NaN)).toEqual([0, 1]);
    expect(tickLabel(2.5, "en-GB")).toBe("2.5");
  });

  it("writes the site's time and date under the axis", () => {
    const LA_MIDNIGHT = Date.UTC(2026, 2, 8, 8) / 1000;
    expect(hourTick(hour(LA_MIDNIGHT + 2 * 3600, 1), "America/Los_Angeles", "en-GB")).toBe("03:00");
    expect(dayTick({ start: LA_MIDNIGHT, end: LA_MIDNIGHT + 23 * 3600, date: "2026-03-08", kwh: 1 }, "America/Los_Angeles", "en-GB")).toBe("8 Mar");
  });

  it("labels at most eight bars, evenly, the latest always", () => {
    expect(labelledBars(48)).toEqual([5, 11, 17, 23, 29, 35, 41, 47]);
    expect(labelledBars(14)).toEqual([1, 3, 5, 7, 9, 11, 13]);
    expect(labelledBars(3)).toEqual([0, 1, 2]);
    expect(labelledBars(0)).toEqual([]);
  });

  it("draws bars on axes with tick labels, not bare blocks", () => {
    const list = [hour(0, 4), hour(3600, null), hour(7200, 11.6)];
    const out = html(Bars({ title: "By hour", list, label: (b) => `h${b.start / 3600}` }));
    const ticks = [...out.matchAll(/<span class="axis-tick"[^>]*>([^<]*)<\/span>/g)].map((m) => m[1]);
    expect(ticks).toEqual(["0", "5", "10", "15", "h0", "h1", "h2"]);
    expect(out).toContain("(kWh)</span>");
    // The highest bar reaches 11.6 of the axis' 15, not the top of the box.
    const heights = [...out.matchAll(/<rect [^>]*height="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(heights[2]! / 100).toBeCloseTo(11.6 / 15, 3);
  });

  it("titles each meter's card by the meter's own name, told apart when two share a description", () => {
    expect(
      meterTitles([
        { name: "elec-kwh", description: "Building electric energy" },
        { name: "gas-kwh", description: " " },
        { name: "ch-1-kw", description: "Chiller electric power" },
        { name: "ch-2-kw", description: "Chiller electric power" },
      ]),
    ).toEqual(["Building electric energy", "gas-kwh", "Chiller electric power (ch-1-kw)", "Chiller electric power (ch-2-kw)"]);
  });
});
