/** A plain table of API objects, for the pages that only list for now. */
import { formatTime } from "../lib/format";

const TIME_KEYS = /(_at|_ts|^ts|since|until|last_ok|last_run)$/;

function cell(key: string, v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number" && TIME_KEYS.test(key) && v > 1e8) return formatTime(v * 1000);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

export function DataTable(props: { items: Record<string, unknown>[]; caption: string; columns?: string[] }) {
  const cols = props.columns ?? [...new Set(props.items.flatMap((i) => Object.keys(i)))].slice(0, 8);
  if (props.items.length === 0) return <p class="muted">Nothing to show.</p>;
  return (
    <div class="table-wrap">
      <table>
        <caption class="sr-only">{props.caption}</caption>
        <thead>
          <tr>
            {cols.map((c) => (
              <th scope="col" key={c}>
                {c.replace(/_/g, " ")}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.items.map((item, i) => (
            <tr key={String(item.id ?? i)}>
              {cols.map((c) => (
                <td key={c}>{cell(c, item[c])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
