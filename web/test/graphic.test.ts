import { describe, expect, it } from "vitest";
import type { Graphic, GraphicElement } from "../src/api/types";
import {
  arrowStep,
  bladeAngle,
  headlinePoint,
  isActive,
  layoutToSave,
  minDrawingWidth,
  moveBox,
  movable,
  percent,
  toViewBox,
  withMoves,
  zoneBand,
  zoneTone,
  drawingHeight,
  labelLines,
  textBox,
  pointWord,
  zoneLabel,
} from "../src/lib/graphic";

const el = (id: string, kind: string, points: GraphicElement["points"], extra: Partial<GraphicElement> = {}): GraphicElement => ({
  id,
  kind,
  x: 100,
  y: 50,
  w: 60,
  h: 40,
  label: id,
  points,
  ...extra,
});

const AHU: Graphic = {
  equipment: "ahu-1",
  name: "Air handling unit 1",
  type: "ahu",
  template: "ahu",
  width: 1000,
  height: 420,
  saved: false,
  elements: [
    el("supply-duct", "duct", [], { path: [[0, 200], [1000, 200]], flow: "air", x: 0, y: 190, w: 1000, h: 20 }),
    el("supply-fan", "fan", [
      { id: "demo/ahu-1/fan-cmd", role: "command" },
      { id: "demo/ahu-1/fan-status", role: "status" },
      { id: "demo/ahu-1/fan-speed", role: "speed" },
    ], { x: 620, y: 160, w: 70, h: 70 }),
    el("oa-damper", "damper", [{ id: "demo/ahu-1/oa-damper", role: "position" }], { x: 40, y: 170 }),
  ],
  unplaced: [],
};

describe("graphic headline points", () => {
  it("take a fan's status before its command, a damper's position, a sensor's reading", () => {
    expect(headlinePoint(AHU.elements[1]!)?.id).toBe("demo/ahu-1/fan-status");
    expect(headlinePoint(el("f", "fan", [{ id: "c", role: "command" }, { id: "s", role: "speed" }]))?.id).toBe("c");
    expect(headlinePoint(AHU.elements[2]!)?.id).toBe("demo/ahu-1/oa-damper");
    expect(headlinePoint(el("s", "sensor", [{ id: "sp", role: "setpoint" }, { id: "v", role: "value" }]))?.id).toBe("v");
    expect(headlinePoint(el("m", "meter", [{ id: "a", role: "alarm" }]))?.id).toBe("a");
    expect(headlinePoint(el("d", "duct", []))).toBeNull();
  });

  it("read running and position values of every shape the API sends", () => {
    expect([true, 1, "on", "Active", "running"].map(isActive)).toEqual([true, true, true, true, true]);
    expect([false, 0, "off", "inactive", null, undefined, Number.NaN].map(isActive)).toEqual([false, false, false, false, false, false, false]);
    expect([percent(35), percent("40"), percent(130), percent(-5), percent("x"), percent(null)]).toEqual([35, 40, 100, 0, null, null]);
    expect([bladeAngle(100), bladeAngle(0), bladeAngle(50), bladeAngle(null)]).toEqual([0, 90, 45, 45]);
  });
});

describe("zone colours", () => {
  it("compare the temperature with the setpoints' band, else the fixed band", () => {
    expect(zoneBand(21, 24, [20, 25])).toEqual([21, 24]);
    expect(zoneBand(24, 21, null)).toEqual([21, 24]);
    expect(zoneBand(null, 24, [20, 25])).toEqual([20, 25]);
    expect(zoneBand(undefined, undefined, null)).toBeNull();
    expect(zoneTone(20.9, [21, 24])).toBe("cold");
    expect(zoneTone(21, [21, 24])).toBe("ok");
    expect(zoneTone(24, [21, 24])).toBe("ok");
    expect(zoneTone(24.1, [21, 24])).toBe("hot");
    expect(zoneTone(null, [21, 24])).toBe("none");
    expect(zoneTone("22", [21, 24])).toBe("none");
    expect(zoneTone(22, null)).toBe("none");
  });

  it("widen the band by the zone's tolerance, as /operation judges comfort", () => {
    expect(zoneBand(21, 24, [20, 25], 1)).toEqual([20, 25]);
    const f = zoneBand(24, 21, null, 1.8)!;
    expect(f[0]).toBeCloseTo(19.2, 9);
    expect(f[1]).toBeCloseTo(25.8, 9);
    expect(zoneBand(null, null, [21, 24], 1)).toEqual([20, 25]);
    expect(zoneBand(null, null, null, 1)).toBeNull();
    // A zone with one setpoint (low and high the same point) is within a degree of it.
    expect(zoneTone(22.6, zoneBand(22, 22, null, 1))).toBe("ok");
    expect(zoneTone(21.2, zoneBand(22, 22, null, 1))).toBe("ok");
    expect(zoneTone(23.1, zoneBand(22, 22, null, 1))).toBe("hot");
    expect(zoneTone(20.9, zoneBand(22, 22, null, 1))).toBe("cold");
    // A heating setpoint only: never too warm; a cooling setpoint only: never too cold.
    expect(zoneBand(21, null, null, 1)).toEqual([20, Infinity]);
    expect(zoneTone(35, zoneBand(21, null, null, 1))).toBe("ok");
    expect(zoneTone(19.9, zoneBand(21, null, null, 1))).toBe("cold");
    expect(zoneTone(10, zoneBand(undefined, 24, null, 1))).toBe("ok");
    expect(zoneTone(25.1, zoneBand(undefined, 24, null, 1))).toBe("hot");
  });
});

describe("layout editing", () => {
  it("moves a box by whole units and keeps it inside the drawing", () => {
    const box = { x: 100, y: 50, w: 60, h: 40 };
    expect(moveBox(box, 10.4, -5.6, 1000, 420)).toEqual({ x: 110, y: 44, w: 60, h: 40 });
    expect(moveBox(box, -500, -500, 1000, 420)).toEqual({ x: 0, y: 0, w: 60, h: 40 });
    expect(moveBox(box, 5000, 5000, 1000, 420)).toEqual({ x: 940, y: 380, w: 60, h: 40 });
    expect(moveBox({ x: 0, y: 0, w: 2000, h: 10 }, 30, 0, 1000, 420).x).toBe(0);
  });

  it("turns screen pixels and arrow keys into viewBox steps", () => {
    expect(toViewBox(39, 1000, 390)).toBe(100);
    expect(toViewBox(10, 1000, 0)).toBe(0);
    expect(arrowStep("ArrowRight", false)).toEqual([10, 0]);
    expect(arrowStep("ArrowUp", true)).toEqual([0, -1]);
    expect(arrowStep("Enter", false)).toBeNull();
  });

  it("saves the places of the moved elements only (the server adds them to those saved), never a duct's", () => {
    expect(movable(AHU.elements[0]!)).toBe(false);
    expect(movable(AHU.elements[1]!)).toBe(true);
    const moves = new Map([["supply-fan", { x: 640, y: 170, w: 70, h: 70 }]]);
    expect(layoutToSave(AHU, moves)).toEqual({ "supply-fan": { x: 640, y: 170 } });
    expect(layoutToSave(AHU, new Map([["supply-duct", { x: 5, y: 5, w: 1, h: 1 }]]))).toEqual({});
    const drawn = withMoves(AHU, moves);
    expect(drawn.elements[1]).toMatchObject({ id: "supply-fan", x: 640, y: 170 });
    expect(drawn.elements[2]).toMatchObject({ id: "oa-damper", x: 40, y: 170 });
    expect(withMoves(AHU, new Map())).toBe(AHU);
  });

  it("keeps text at least 11 px by a minimum drawing width", () => {
    expect(minDrawingWidth(1000, 16)).toBe(688);
    expect(minDrawingWidth(600, 20, 12)).toBe(360);
  });
});

describe("floor plan routes", () => {
  it("open a site's plans, and one plan by its space", async () => {
    const { parseRoute } = await import("../src/router");
    expect(parseRoute("/sites/hq/plans")).toEqual({ name: "plans", site: "hq", space: null });
    expect(parseRoute("/sites/hq/plans/floor-1")).toEqual({ name: "plans", site: "hq", space: "floor-1" });
    expect(parseRoute("/sites/hq/plans/floor-1/x").name).toBe("not-found");
  });
});

describe("text placement", () => {
  it("puts a sensor's text in its box, a box's inside it, a symbol's below it within the drawing", () => {
    expect(textBox({ kind: "sensor", x: 20, y: 210, w: 90, h: 44 }, 4, 1000)).toEqual({ x: 34, y: 210, w: 100, h: 90 });
    expect(textBox({ kind: "chiller", x: 100, y: 100, w: 160, h: 80 }, 2, 1000)).toEqual({ x: 102, y: 127, w: 156, h: 48 });
    // Narrow coils side by side on a duct: 76 units each, centred, no overlap at 80 units apart.
    expect(textBox({ kind: "damper", x: 410, y: 260, w: 40, h: 80 }, 2, 1000)).toEqual({ x: 392, y: 344, w: 76, h: 48 });
    // A coil's valve sits below it: its text goes above.
    expect(textBox({ kind: "heating-coil", x: 410, y: 260, w: 40, h: 80 }, 2, 1000)).toEqual({ x: 392, y: 208, w: 76, h: 48 });
    expect(textBox({ kind: "filter", x: 340, y: 20, w: 30, h: 80 }, 2, 1000).y).toBe(0);
    expect(textBox({ kind: "fan", x: 600, y: 265, w: 300, h: 70 }, 1, 1000).w).toBe(200);
    expect(textBox({ kind: "damper", x: 980, y: 0, w: 20, h: 20 }, 1, 1000).x).toBe(924);
    expect(textBox({ kind: "damper", x: 0, y: 0, w: 20, h: 20 }, 1, 1000).x).toBe(0);
  });

  it("counts a label's wrapped lines and grows the drawing to hold text below it", () => {
    expect(labelLines("Filter", 76)).toBe(1);
    expect(labelLines("Heating coil", 76)).toBe(2);
    expect(labelLines("", 76)).toBe(0);
    expect(drawingHeight(420, [{ x: 0, y: 404, w: 76, h: 48 }])).toBe(456);
    expect(drawingHeight(420, [{ x: 0, y: 10, w: 76, h: 48 }])).toBe(420);
    expect(drawingHeight(420, [])).toBe(420);
  });
});

describe("words in a drawing", () => {
  it("name a plant unit's points without the unit's prefix", () => {
    expect(pointWord("ch-1-load", "ch-1")).toBe("load");
    expect(pointWord("blr-2-gas-kw", "blr-2")).toBe("gas-kw");
    expect(pointWord("ch-10-load", "ch-1")).toBe("ch-10-load");
    expect(pointWord("zone-temp", "zone")).toBe("temp");
    expect(pointWord("ch-1-", "ch-1")).toBe("ch-1-");
    expect(pointWord("occ-htg-sp", "zone")).toBe("occ-htg-sp");
  });

  it("name a zone on its floor's plan without the floor's name", () => {
    expect(zoneLabel("Floor 1 west perimeter", "Floor 1")).toBe("West perimeter");
    expect(zoneLabel("floor 1 core", "Floor 1")).toBe("Core");
    expect(zoneLabel("Floor 10 core", "Floor 1")).toBe("Floor 10 core");
    expect(zoneLabel("Floor 1", "Floor 1")).toBe("Floor 1");
    expect(zoneLabel("Lobby", "")).toBe("Lobby");
  });
});
