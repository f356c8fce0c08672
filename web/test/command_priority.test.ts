import { describe, expect, it } from "vitest";
import { dialogPriority, priorityChoices } from "../src/components/CommandDialog";

const local = { remote: false };
const central = { remote: true };

describe("the command dialog's priority", () => {
  it("offers 9-16 and starts at 12 for a point commanded through a central openbms, else 1-16 and 8", () => {
    expect(priorityChoices(central)).toEqual({ offered: [9, 10, 11, 12, 13, 14, 15, 16], initial: 12 });
    expect(priorityChoices(local).offered).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(priorityChoices(local).initial).toBe(8);
    expect(priorityChoices({}).initial).toBe(8); // an edge's API says nothing of remote
    expect(dialogPriority(central, null)).toBe(12);
    expect(dialogPriority(local, null)).toBe(8);
  });

  it("keeps the priority chosen while the point offers it", () => {
    expect(dialogPriority(central, 10)).toBe(10);
    expect(dialogPriority(local, 3)).toBe(3);
    expect(dialogPriority(local, 16)).toBe(16);
  });

  it("never holds a priority the point does not offer when the dialog's point changes under it", () => {
    // Opened on an edge's point at 8 (or 3 chosen), then handed a central point (9-16): the
    // dialog kept 8 or 3 and sent it, while the select showed none of its options.
    expect(dialogPriority(central, 8)).toBe(12);
    expect(dialogPriority(central, 3)).toBe(12);
    for (const point of [local, central]) {
      const { offered } = priorityChoices(point);
      for (const chosen of [null, 0, ...Array.from({ length: 18 }, (_, i) => i), 17, 100]) {
        expect(offered).toContain(dialogPriority(point, chosen));
      }
    }
  });
});
