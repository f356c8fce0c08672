/**
 * The editor's palette: every block kind of the catalogue (searchable by
 * kind, title and description, each described from the API) and the site's
 * points (searched by name, equipment or tag through the points API) to read
 * as inputs or command as outputs. Drag an entry onto the canvas, or press
 * its Add button to drop it in the middle of the view. Dragging follows the
 * pointer (mouse, pen or finger), not the HTML drag-and-drop API, which
 * touch screens lack.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import type { PointSummary } from "../api/types";
import { useApp } from "../context";
import { searchBlocks, type BlockKind } from "./catalogue";

export type DropItem =
  | { kind: "block"; block: string }
  | { kind: "input" | "output"; point?: string }
  | { kind: "constant" }
  | { kind: "comment" };

/** Where a drag from the palette is, to draw its ghost. */
interface Dragging {
  label: string;
  x: number;
  y: number;
}

export function Palette(props: {
  site: string;
  kinds: BlockKind[];
  onAdd: (item: DropItem) => void;
  /** A palette entry let go at this point of the screen (the canvas decides whether it is on it). */
  onDropAt: (item: DropItem, clientX: number, clientY: number) => void;
}) {
  const { api } = useApp();
  const [dragging, setDragging] = useState<Dragging | null>(null);
  const onDropAt = useRef(props.onDropAt);
  onDropAt.current = props.onDropAt;
  const drag = (item: DropItem, label: string) => ({
    onPointerDown: (ev: PointerEvent) => {
      if (ev.button !== 0 || (ev.target as HTMLElement).closest("button")) return;
      ev.preventDefault();
      const x0 = ev.clientX;
      const y0 = ev.clientY;
      let moved = false;
      const move = (e: PointerEvent) => {
        if (!moved && Math.hypot(e.clientX - x0, e.clientY - y0) < 4) return;
        moved = true;
        setDragging({ label, x: e.clientX, y: e.clientY });
      };
      const up = (e: PointerEvent) => {
        window.removeEventListener("pointermove", move);
        window.removeEventListener("pointerup", up);
        window.removeEventListener("pointercancel", cancel);
        setDragging(null);
        if (moved) onDropAt.current(item, e.clientX, e.clientY);
      };
      const cancel = () => {
        window.removeEventListener("pointermove", move);
        window.removeEventListener("pointerup", up);
        window.removeEventListener("pointercancel", cancel);
        setDragging(null);
      };
      window.addEventListener("pointermove", move);
      window.addEventListener("pointerup", up);
      window.addEventListener("pointercancel", cancel);
    },
  });
  const [q, setQ] = useState("");
  const [pq, setPq] = useState("");
  const [points, setPoints] = useState<PointSummary[] | null>(null);
  const [pointError, setPointError] = useState<string | null>(null);
  useEffect(() => {
    const words = pq.trim();
    if (words.length < 2) {
      setPoints(null);
      return;
    }
    let alive = true;
    const t = setTimeout(() => {
      endpoints.points(api, props.site, { q: words }).then(
        (list) => {
          if (!alive) return;
          setPointError(null);
          setPoints(list.slice(0, 40));
        },
        (err) => alive && setPointError(err instanceof Error ? err.message : String(err)),
      );
    }, 250);
    return () => {
      alive = false;
      clearTimeout(t);
    };
  }, [api, props.site, pq]);
  const blocks = searchBlocks(props.kinds, q);
  return (
    <aside class="editor__palette" aria-label="Palette">
      <h3>Points</h3>
      <input type="search" placeholder="Search points (name, equipment, tag)" aria-label="Search points" value={pq} onInput={(e) => setPq(e.currentTarget.value)} />
      {pointError && <p class="small banner banner--error">{pointError}</p>}
      {points && points.length === 0 && <p class="muted small">No point matches.</p>}
      <ul class="palette__list" aria-label="Points">
        {(points ?? []).map((p) => (
          <li key={p.id} class="palette__item" {...drag({ kind: "input", point: p.id }, p.id)} data-point={p.id} title={p.description || p.id}>
            <span class="palette__name">{p.equipment}/{p.name}</span>
            {p.unit && <span class="muted small"> {p.unit}</span>}
            <span class="palette__add">
              <button type="button" class="btn btn--small" onClick={() => props.onAdd({ kind: "input", point: p.id })} aria-label={`Add ${p.id} as an input`}>
                In
              </button>
              {p.writable && (
                <button type="button" class="btn btn--small" onClick={() => props.onAdd({ kind: "output", point: p.id })} aria-label={`Add ${p.id} as an output`}>
                  Out
                </button>
              )}
            </span>
          </li>
        ))}
      </ul>
      <h3>Blocks</h3>
      <input type="search" placeholder="Search blocks" aria-label="Search blocks" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
      <ul class="palette__list" aria-label="Blocks">
        <li class="palette__item" {...drag({ kind: "constant" }, "Constant")} data-kind="constant" title="A fixed value: a setpoint, a minimum position">
          <span class="palette__name">Constant</span>
          <button type="button" class="btn btn--small palette__add" onClick={() => props.onAdd({ kind: "constant" })} aria-label="Add a constant">
            Add
          </button>
        </li>
        <li class="palette__item" {...drag({ kind: "comment" }, "Comment")} data-kind="comment" title="A note on the canvas (kept in the program's layout)">
          <span class="palette__name">Comment</span>
          <button type="button" class="btn btn--small palette__add" onClick={() => props.onAdd({ kind: "comment" })} aria-label="Add a comment">
            Add
          </button>
        </li>
        {blocks.map((k) => (
          <li
            key={k.kind}
            class="palette__item"
            {...drag({ kind: "block", block: k.kind }, k.title)}
            data-kind={k.kind}
            title={`${k.description}\n\nInputs: ${k.inputs.map((p) => `${p.name}${p.unit ? ` (${p.unit})` : ""}`).join(", ") || "none"}\nOutputs: ${k.outputs.map((p) => p.name).join(", ")}`}
          >
            <span class="palette__name">{k.title}</span> <code class="small">{k.kind}</code>
            <button type="button" class="btn btn--small palette__add" onClick={() => props.onAdd({ kind: "block", block: k.kind })} aria-label={`Add ${k.title}`}>
              Add
            </button>
          </li>
        ))}
      </ul>
      <p class="muted small">Inputs and outputs without a point: drop one, then choose its point in the side panel.</p>
      <div class="actions actions--left">
        <button type="button" class="btn btn--small" onClick={() => props.onAdd({ kind: "input" })}>
          + Input
        </button>
        <button type="button" class="btn btn--small" onClick={() => props.onAdd({ kind: "output" })}>
          + Output
        </button>
      </div>
      {dragging && (
        <div class="palette__ghost" style={{ left: `${dragging.x + 8}px`, top: `${dragging.y + 8}px` }} aria-hidden="true">
          {dragging.label}
        </div>
      )}
    </aside>
  );
}
