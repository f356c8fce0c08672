import { describe, expect, it } from "vitest";
import type { Alarm } from "../src/api/types";
import { ackNote, alarmsTileLabel, filterAlarms, hiddenShelvedText, type AlarmWithHistory } from "../src/lib/alarms";

const alarm = (id: string, extra: Partial<AlarmWithHistory> = {}): AlarmWithHistory => ({
  id,
  site: "demo",
  rule_id: id,
  point: `demo/ahu-1/${id}`,
  name: `Alarm ${id}`,
  priority: 100,
  alarm_class: "comfort",
  event_type: false,
  state: "active-unacked",
  value: 30,
  message: `${id} is high`,
  active_since: 1_700_000_000,
  changed_ts: 1_700_000_000,
  acked_by: null,
  acked_ts: null,
  shelved: false,
  shelved_until: null,
  shelved_by: null,
  shelve_reason: null,
  flapping: false,
  count: 1,
  notes: [],
  source: "rule",
  context: null,
  ...extra,
});

describe("the alarm console's filter", () => {
  const list: Alarm[] = [alarm("a"), alarm("b", { shelved: true }), alarm("c", { shelved: true, priority: 5 })];

  it("hides shelved alarms and counts them, so an empty list says why", () => {
    const r = filterAlarms(list, "false", "");
    expect(r.shown.map((a) => a.id)).toEqual(["a"]);
    expect(r.hiddenShelved).toBe(2);
    expect(hiddenShelvedText(r.hiddenShelved)).toBe("2 shelved alarms are hidden.");
    expect(hiddenShelvedText(1)).toBe("1 shelved alarm is hidden.");
    expect(hiddenShelvedText(0)).toBeNull();
  });

  it("counts only the hidden shelved alarms the search text would show", () => {
    const r = filterAlarms(list, "false", "b is high");
    expect(r.shown).toEqual([]);
    expect(r.hiddenShelved).toBe(1);
  });

  it("shows only shelved ones, or all, most urgent first, and hides nothing then", () => {
    expect(filterAlarms(list, "true", "")).toEqual({ shown: [list[2], list[1]], hiddenShelved: 0 });
    expect(filterAlarms(list, "", "").shown.map((a) => a.id)).toEqual(["c", "a", "b"]);
    expect(filterAlarms(list, "", "").hiddenShelved).toBe(0);
  });
});

describe("an acknowledgement's note", () => {
  const ack = (ts: number, note: string | null) => ({ ts, action: "ack", from_state: "active-unacked", to_state: "active-acked", value: 30, who: "ann", note });

  it("is the note of the ack transition at acked_ts", () => {
    const a = alarm("a", {
      state: "active-acked",
      acked_by: "ann",
      acked_ts: 200,
      history: [ack(100, "old one"), { ...ack(150, "a note"), action: "note" }, ack(200, "  damper stuck, crew called ")],
    });
    expect(ackNote(a)).toBe("damper stuck, crew called");
  });

  it("is null without a note, without an acknowledgement or when the history has lost it", () => {
    expect(ackNote(alarm("a", { acked_ts: 200, history: [ack(200, null)] }))).toBeNull();
    expect(ackNote(alarm("a", { acked_ts: 200, history: [ack(200, "   ")] }))).toBeNull();
    expect(ackNote(alarm("a", { acked_ts: null, history: [ack(200, "x")] }))).toBeNull();
    expect(ackNote(alarm("a", { acked_ts: 300, history: [ack(200, "an earlier acknowledgement")] }))).toBeNull();
    expect(ackNote(alarm("a", { acked_ts: 200 }))).toBeNull();
  });
});

describe("the Overview's alarms tile", () => {
  it("has a name that says what the number counts", () => {
    expect(alarmsTileLabel(0, 0)).toBe("0 active alarms");
    expect(alarmsTileLabel(1, 0)).toBe("1 active alarm");
    expect(alarmsTileLabel(3, 2)).toBe("3 active alarms, 2 unacknowledged");
    expect(alarmsTileLabel(null, 0)).toBe("Active alarms: loading");
  });
});
