import { describe, expect, it } from "vitest";
import type { Annotation } from "../src/api/types";
import { chartMarks } from "../src/lib/chart";

const a = (ts: number, over: Partial<Annotation> = {}): Annotation => ({
  ts, point: "hq/vav-1/zone-sp", kind: "override", action: "start", title: "Overridden to 24 at priority 8", who: "ann", detail: "meeting", ...over,
});

describe("annotations on a trend", () => {
  it("keeps the marks in the x range, oldest first, each one line naming the point as the legend does", () => {
    const marks = chartMarks([a(50), a(10, { kind: "alarm", point: "hq/vav-1/zone-temp", title: "Alarm raised: zone-hot", who: "", detail: "" }), a(500)], [0, 100], {
      "hq/vav-1/zone-sp": "Zone setpoint",
    });
    expect(marks).toEqual([
      { ts: 10, kind: "alarm", text: "hq/vav-1/zone-temp: Alarm raised: zone-hot" },
      { ts: 50, kind: "override", text: "Zone setpoint: Overridden to 24 at priority 8 by ann: meeting" },
    ]);
  });

  it("keeps every mark when the chart has no range", () => {
    expect(chartMarks([a(1), a(2)], null, {}).map((m) => m.ts)).toEqual([1, 2]);
  });
});
