import { describe, expect, it } from "vitest";
import { mainEquipment } from "../src/editor/Templates";

describe("the equipment a program is written for", () => {
  it("is the one most of its points belong to", () => {
    const doc = {
      inputs: [
        { id: "t", point: "demo/vav-c1/zone-temp" },
        { id: "oat", point: "demo/ahu-1/oat" },
      ],
      outputs: [{ id: "sp", point: "demo/vav-c1/occ-htg-sp" }],
    };
    expect(mainEquipment(doc)).toBe("vav-c1");
    expect(mainEquipment({ inputs: [], outputs: [] })).toBe("");
  });
});
