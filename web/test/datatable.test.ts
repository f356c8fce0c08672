import { h } from "preact";
import { describe, expect, it } from "vitest";
import { DataTable, ObjectTable, type Column } from "../src/components/DataTable";
import { html } from "./render";

interface Row {
  id: string;
  name: string;
  active: boolean;
}

const ROWS: Row[] = [
  { id: "a", name: "Alpha", active: true },
  { id: "b", name: "Beta", active: false },
];

const columns = (withAction: boolean): (Column<Row> | false)[] => [
  { key: "name", header: "Name", rowHeader: true, cell: (r) => r.name },
  { key: "state", header: "State", headClass: "hide-sm", cellClass: "hide-sm small", cell: (r) => (r.active ? "on" : "off") },
  withAction && { key: "act", header: h("span", { class: "sr-only" }, "Act"), cell: (r) => r.active && h("button", { type: "button" }, "Stop") },
];

describe("DataTable", () => {
  it("renders the markup the hand-written tables had: wrap, class, sr-only caption, col and row headers", () => {
    const out = html(
      h(DataTable<Row>, { rows: ROWS, columns: columns(true), rowKey: (r) => r.id, caption: "Things", class: "points", rowClass: (r) => (r.active ? "row--active" : "") }),
    );
    expect(out).toBe(
      '<div class="table-wrap"><table class="points"><caption class="sr-only">Things</caption>' +
        '<thead><tr><th scope="col">Name</th><th scope="col" class="hide-sm">State</th><th scope="col"><span class="sr-only">Act</span></th></tr></thead>' +
        '<tbody><tr class="row--active"><th scope="row">Alpha</th><td class="hide-sm small">on</td><td><button type="button">Stop</button></td></tr>' +
        '<tr class=""><th scope="row">Beta</th><td class="hide-sm small">off</td><td></td></tr></tbody></table></div>',
    );
  });

  it("leaves out a column given as false, and the caption and class when not given", () => {
    const out = html(h(DataTable<Row>, { rows: ROWS.slice(0, 1), columns: columns(false), rowKey: (r) => r.id }));
    expect(out).toBe(
      '<div class="table-wrap"><table><thead><tr><th scope="col">Name</th><th scope="col" class="hide-sm">State</th></tr></thead>' +
        '<tbody><tr><th scope="row">Alpha</th><td class="hide-sm small">on</td></tr></tbody></table></div>',
    );
  });

  it("shows the empty state instead of a table without rows, or an empty table without one", () => {
    expect(html(h(DataTable<Row>, { rows: [], columns: columns(false), rowKey: (r) => r.id, empty: h("p", { class: "muted" }, "None.") }))).toBe('<p class="muted">None.</p>');
    expect(html(h(DataTable<Row>, { rows: [], columns: columns(false), rowKey: (r) => r.id }))).toContain("<tbody></tbody>");
  });

  it("lists API objects with their field names as headers, times and objects as text", () => {
    const out = html(h(ObjectTable, { items: [{ id: 7, alarm_id: "hot", note: null, details: { a: 1 } }], caption: "Events", columns: ["alarm_id", "note", "details"] }));
    expect(out).toBe(
      '<div class="table-wrap"><table><caption class="sr-only">Events</caption><thead><tr><th scope="col">alarm id</th><th scope="col">note</th><th scope="col">details</th></tr></thead>' +
        '<tbody><tr><td>hot</td><td>—</td><td>{"a":1}</td></tr></tbody></table></div>',
    );
    expect(html(h(ObjectTable, { items: [], caption: "Events" }))).toBe('<p class="muted">Nothing to show.</p>');
  });

  it("words states and statuses, not codes", () => {
    const out = html(h(ObjectTable, { items: [{ id: 1, from_state: "active-acked", to_state: "normal", action: "return" }], caption: "Events" }));
    expect(out).toContain("<td>Active, acknowledged</td><td>Normal</td><td>return</td>");
  });
});
