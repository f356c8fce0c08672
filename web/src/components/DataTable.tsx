/**
 * The one table component: every data table of the dashboard is a DataTable
 * (in a `table-wrap` div, with a caption for screen readers, a header row of
 * `<th scope="col">`, and per row the cells the columns describe, one of them
 * the row's `<th scope="row">` where the row has a name).
 *
 * A page describes its columns; it keeps its own sorting, filtering and
 * empty-state wording (`empty`, when the table should not show without rows).
 * `ObjectTable` lists API objects as they come, for the pages that only list.
 */
import type { ComponentChildren, JSX } from "preact";
import { formatTime, stateWords } from "../lib/format";

export interface Column<T> {
  /** Unique among the table's columns. */
  key: string;
  /** The header cell's content (hide it from sight, not from readers, with `<span class="sr-only">`). */
  header: ComponentChildren;
  cell: (row: T) => ComponentChildren;
  /** This column names the row: `<th scope="row">` instead of `<td>`. */
  rowHeader?: boolean;
  /** Class of the header cell. */
  headClass?: string;
  /** Class of the body cells. */
  cellClass?: string;
}

export interface DataTableProps<T> {
  rows: readonly T[];
  /** `false`, `null` or `undefined` entries are left out (a column only some users see). */
  columns: readonly (Column<T> | false | null | undefined)[];
  rowKey: (row: T, index: number) => string | number;
  /** The caption, read by screen readers only. */
  caption?: ComponentChildren;
  /** Class of the `<table>` (tests and styles find tables by it). */
  class?: string;
  /** Class of a row (e.g. `row--active`). */
  rowClass?: (row: T) => string;
  /** Shown instead of the table when there are no rows; without it the table shows empty. */
  empty?: ComponentChildren;
}

export function DataTable<T>(props: DataTableProps<T>) {
  const cols = props.columns.filter((c): c is Column<T> => !!c);
  if (props.rows.length === 0 && props.empty !== undefined) return <>{props.empty}</>;
  return (
    <div class="table-wrap">
      <table class={props.class}>
        {props.caption !== undefined && <caption class="sr-only">{props.caption}</caption>}
        <thead>
          <tr>
            {cols.map((c) => (
              <th scope="col" key={c.key} class={c.headClass}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row, i) => (
            <tr key={props.rowKey(row, i)} class={props.rowClass?.(row)}>
              {cols.map((c) =>
                c.rowHeader ? (
                  <th scope="row" key={c.key} class={c.cellClass}>
                    {c.cell(row)}
                  </th>
                ) : (
                  <td key={c.key} class={c.cellClass}>
                    {c.cell(row)}
                  </td>
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const TIME_KEYS = /(_at|_ts|^ts|since|until|last_ok|last_run)$/;
const STATE_KEYS = /(^|_)(state|status|source)$/;

/** A field of an API object as text: times in the site's zone, states as words, objects as JSON, nothing as "—". */
export function cellText(key: string, v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number" && TIME_KEYS.test(key) && v > 1e8) return formatTime(v * 1000);
  if (typeof v === "string" && STATE_KEYS.test(key)) return stateWords(v);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** A plain table of API objects: the given fields (by default the first 8 found) as columns. */
export function ObjectTable(props: { items: readonly object[]; caption: string; columns?: string[] }): JSX.Element {
  const items = props.items as readonly Record<string, unknown>[];
  const keys = props.columns ?? [...new Set(items.flatMap((i) => Object.keys(i)))].slice(0, 8);
  const columns: Column<Record<string, unknown>>[] = keys.map((k) => ({
    key: k,
    header: k.replace(/_/g, " "),
    cell: (item) => cellText(k, item[k]),
  }));
  return (
    <DataTable
      rows={items}
      columns={columns}
      rowKey={(item, i) => String(item.id ?? i)}
      caption={props.caption}
      empty={<p class="muted">Nothing to show.</p>}
    />
  );
}
