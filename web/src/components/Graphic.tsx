/**
 * An equipment graphic as inline SVG: the server's elements (which point is which part of the
 * drawing is its decision) drawn as small hand-made symbols by `kind`, each with its label and its
 * points' live values below it (the same ValueText as the points table: status, staleness and the
 * override marker), a writable point's value a button that opens the command dialog. Text is sized
 * in viewBox units, and the drawing never shrinks below the width that keeps it ≥ 11 px: a phone
 * scrolls it sideways in its card instead. While an integrator adjusts the layout, movable elements
 * are dragged (pointer) or moved with the arrow keys; the page keeps the moves.
 */
import type { JSX } from "preact";
import { useRef } from "preact/hooks";
import type { Graphic as GraphicDoc, GraphicElement, PointOverride, PointSummary, Value } from "../api/types";
import {
  arrowStep,
  bladeAngle,
  BOXED_KINDS,
  drawingHeight,
  headlinePoint,
  isActive,
  labelLines,
  minDrawingWidth,
  moveBox,
  movable,
  pointWord,
  ROLE_WORDS,
  textBox,
  toViewBox,
  type Box,
} from "../lib/graphic";
import { pointLabel } from "../lib/format";
import { ValueText } from "./Value";

/** The text size in viewBox units (16 units ≥ 11 px at the drawing's minimum width). */
const FONT = 16;
const LINE = 21;

export interface GraphicProps {
  graphic: GraphicDoc;
  /** The equipment's points by id, live values overlaid. */
  points: ReadonlyMap<string, PointSummary>;
  /** The winning override of each held point (null: not known yet; the points' own then). */
  held: ReadonlyMap<string, PointOverride> | null;
  nowMs: number;
  live: boolean;
  /** Present for those who may command: a writable point's value becomes a button. */
  onCommand?: (p: PointSummary) => void;
  commandDisabled?: boolean;
  commandDescribedBy?: string;
  /** Adjusting the layout: movable elements are dragged or moved by arrow keys. */
  onMove?: (id: string, box: Box) => void;
}

export function Graphic(props: GraphicProps) {
  const g = props.graphic;
  const svg = useRef<SVGSVGElement>(null);
  const drag = useRef<{ id: string; x0: number; y0: number; box: Box } | null>(null);
  const editing = !!props.onMove;
  const hatch = `hatch-${g.equipment}`;

  const startDrag = (el: GraphicElement, ev: PointerEvent) => {
    if (!props.onMove || ev.button !== 0) return;
    (ev.currentTarget as Element).setPointerCapture(ev.pointerId);
    drag.current = { id: el.id, x0: ev.clientX, y0: ev.clientY, box: { x: el.x, y: el.y, w: el.w, h: el.h } };
    ev.preventDefault();
  };
  const moveDrag = (ev: PointerEvent) => {
    const d = drag.current;
    if (!d || !props.onMove) return;
    const shown = svg.current?.getBoundingClientRect().width ?? 0;
    const dx = toViewBox(ev.clientX - d.x0, g.width, shown);
    const dy = toViewBox(ev.clientY - d.y0, g.width, shown);
    props.onMove(d.id, moveBox(d.box, dx, dy, g.width, g.height));
  };
  const endDrag = () => {
    drag.current = null;
  };
  const onKey = (el: GraphicElement, ev: KeyboardEvent) => {
    const step = props.onMove ? arrowStep(ev.key, ev.shiftKey) : null;
    if (!step || !props.onMove) return;
    ev.preventDefault();
    props.onMove(el.id, moveBox(el, step[0], step[1], g.width, g.height));
  };

  const valueOf = (id: string | undefined): Value | undefined => (id ? props.points.get(id)?.value : undefined);
  // Paths first: symbols and their values sit on the ducts and pipes.
  const ordered = [...g.elements.filter((e) => !movable(e)), ...g.elements.filter((e) => movable(e))];
  const texts = new Map<string, Box>();
  for (const el of ordered) {
    if (!hasText(el)) continue;
    const w = textBox(el, 1, g.width, LINE).w;
    const lines = el.points.length + (BOXED_KINDS.has(el.kind) ? 0 : labelLines(el.label, w));
    texts.set(el.id, textBox(el, lines, g.width, LINE));
  }
  // Text below the lowest symbols may run past the server's height: the drawing grows to hold it.
  const height = drawingHeight(g.height, [...texts.values()]);
  return (
    <div class={`graphic-wrap${editing ? " graphic-wrap--editing" : ""}`}>
      <svg
        ref={svg}
        class="graphic"
        viewBox={`0 0 ${g.width} ${height}`}
        style={{ minWidth: `${minDrawingWidth(g.width, FONT)}px`, maxWidth: `${Math.round(g.width * 1.4)}px` }}
        role="group"
        aria-label={`Graphic of ${g.name || g.equipment}`}
        font-size={FONT}
      >
        <defs>
          <pattern id={hatch} width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
            <line x1="0" y1="0" x2="0" y2="8" class="graphic__hatch" />
          </pattern>
        </defs>
        {ordered.map((el) => {
          const head = headlinePoint(el);
          const canMove = editing && movable(el);
          return (
            <g
              key={el.id}
              class={`gel gel--${el.kind}${canMove ? " gel--movable" : ""}`}
              data-element={el.id}
              data-kind={el.kind}
              {...(canMove
                ? {
                    // Lower case: on an SVG element the attribute is set as written.
                    tabindex: 0,
                    role: "button",
                    "aria-label": `Move ${el.label || el.id} (arrow keys)`,
                    onPointerDown: (e: PointerEvent) => startDrag(el, e),
                    onPointerMove: moveDrag,
                    onPointerUp: endDrag,
                    onPointerCancel: endDrag,
                    onKeyDown: (e: KeyboardEvent) => onKey(el, e),
                  }
                : {})}
            >
              <Symbol el={el} value={valueOf(head?.id)} role={head?.role} hatch={hatch} />
              {texts.has(el.id) && <Values {...props} el={el} box={texts.get(el.id)!} interactive={!editing} />}
            </g>
          );
        })}
      </svg>
    </div>
  );
}

/** Whether an element has a label or values to write beside it (a labelled box writes its label itself). */
const hasText = (el: GraphicElement) =>
  el.kind !== "duct" && el.kind !== "pipe" && el.kind !== "label" && (el.points.length > 0 || !BOXED_KINDS.has(el.kind));

/** One element's symbol in its box; `value` is its headline point's (a fan's status, a damper's position). */
function Symbol(props: { el: GraphicElement; value: Value | undefined; role: string | undefined; hatch: string }) {
  const { el, value } = props;
  const cx = el.x + el.w / 2;
  const cy = el.y + el.h / 2;
  const r = Math.max(4, Math.min(el.w, el.h) / 2 - 2);
  switch (el.kind) {
    case "duct":
    case "pipe": {
      const pts = (el.path && el.path.length > 1 ? el.path : [[el.x, cy], [el.x + el.w, cy]]).map((p) => p.join(",")).join(" ");
      return <polyline class={`graphic__${el.kind} flow--${el.flow ?? "none"}`} points={pts} />;
    }
    case "fan":
    case "pump": {
      const running = isActive(value) && (props.role === "status" || props.role === "command" || props.role === "speed");
      const blades = el.kind === "fan" ? [0, 120, 240] : [0, 90, 180, 270];
      return (
        <g class={`graphic__rotor${running ? " graphic__rotor--running" : ""}`} data-running={running ? "true" : "false"}>
          <circle class="graphic__body" cx={cx} cy={cy} r={r} />
          {el.kind === "pump" && <path class="graphic__body" d={`M${cx} ${cy - r} h${r} v${r * 0.5} h${-r}z`} />}
          <g class="graphic__blades" style={{ transformOrigin: `${cx}px ${cy}px` }}>
            {blades.map((a) => (
              <path key={a} d={`M${cx} ${cy} q${r * 0.2} ${-r * 0.5} 0 ${-r * 0.8} q${-r * 0.35} ${r * 0.3} 0 ${r * 0.8}z`} transform={`rotate(${a} ${cx} ${cy})`} />
            ))}
          </g>
        </g>
      );
    }
    case "damper": {
      const a = bladeAngle(value);
      const len = Math.min(el.w, el.h) * 0.45;
      return (
        <g>
          <rect class="graphic__frame" x={el.x} y={el.y} width={el.w} height={el.h} />
          {[-1, 0, 1].map((i) => (
            <line key={i} class="graphic__blade" x1={cx - len} y1={cy + (i * el.h) / 3.2} x2={cx + len} y2={cy + (i * el.h) / 3.2}
              transform={`rotate(${a} ${cx} ${cy + (i * el.h) / 3.2})`} />
          ))}
        </g>
      );
    }
    case "valve": {
      const w = el.w / 2;
      const h = el.h / 2;
      return (
        <g>
          <path class="graphic__body" d={`M${cx - w} ${cy - h} L${cx + w} ${cy + h} L${cx + w} ${cy - h} L${cx - w} ${cy + h}z`} />
          <line class="graphic__blade" x1={cx} y1={cy} x2={cx} y2={el.y - 4} />
          <rect class="graphic__body" x={cx - 6} y={el.y - 10} width={12} height={7} />
        </g>
      );
    }
    case "heating-coil":
    case "cooling-coil":
      return (
        <g class={el.kind === "heating-coil" ? "flow--hw" : "flow--chw"}>
          <rect class="graphic__coil" x={el.x} y={el.y} width={el.w} height={el.h} fill={`url(#${props.hatch})`} />
        </g>
      );
    case "filter": {
      const n = 6;
      const zig = Array.from({ length: n + 1 }, (_, i) => `${el.x + (i % 2 ? el.w * 0.8 : el.w * 0.2)},${el.y + (i * el.h) / n}`).join(" ");
      return (
        <g>
          <rect class="graphic__frame" x={el.x} y={el.y} width={el.w} height={el.h} />
          <polyline class="graphic__blade" points={zig} />
        </g>
      );
    }
    case "sensor":
      // The dot at the left of the sensor's box; its label and values fill the rest (textBox).
      return <circle class="graphic__sensor" cx={el.x + 7} cy={el.y + LINE / 2 + 2} r={6} />;
    case "label":
      return (
        <text class="graphic__text" x={el.x} y={el.y + FONT}>
          {el.label}
        </text>
      );
    default:
      // chiller, boiler, tower, meter, zone, box and anything newer: a labelled box.
      return (
        <g>
          <rect class={`graphic__box graphic__box--${el.kind}`} x={el.x} y={el.y} width={el.w} height={el.h} rx={4} />
          <text class="graphic__text" x={cx} y={props.el.points.length ? el.y + LINE : cy + FONT / 3} text-anchor="middle">
            {el.label}
          </text>
        </g>
      );
  }
}

/** The element's label and its points' values, one per line, below the symbol (inside it for a labelled box). */
function Values(props: GraphicProps & { el: GraphicElement; box: Box; interactive: boolean }) {
  const { el, box } = props;
  const inside = BOXED_KINDS.has(el.kind);
  // A role word says what a value is when the element has one point of that role; else the point's name.
  const count = new Map<string, number>();
  for (const gp of el.points) count.set(gp.role, (count.get(gp.role) ?? 0) + 1);
  return (
    <foreignObject x={box.x} y={box.y} width={box.w} height={box.h} class="graphic__fo">
      <div class={`graphic__values graphic__values--${el.kind === "sensor" ? "sensor" : inside ? "inside" : "below"}`}>
        {!inside && <div class="graphic__label">{el.label}</div>}
        {el.points.map((gp) => {
          const p = props.points.get(gp.id);
          const name = p ? p.name : gp.id.split("/").pop() ?? gp.id;
          // "Command Supply fan command"; points sharing a role on the element are told apart by their names.
          const shared = (count.get(gp.role) ?? 0) > 1;
          const what = shared ? `${el.label} ${name}` : `${el.label} ${gp.role}`;
          const word = shared ? pointWord(name, el.id) : ROLE_WORDS[gp.role];
          const text: JSX.Element = p ? (
            <ValueText value={p.value} status={p.status} tsMs={p.ts === null ? null : p.ts * 1000} nowMs={props.nowMs} live={props.live}
              point={p} override={props.held ? props.held.get(p.id) ?? null : undefined} />
          ) : (
            <span class="value value--unknown">—</span>
          );
          return (
            <div key={gp.id} class="graphic__line" data-point={gp.id} data-role={gp.role}>
              {props.interactive && props.onCommand && p?.writable ? (
                <button type="button" class="graphic__cmd" aria-label={`Command ${what}`} title={`${pointLabel(p)}: command…`}
                  disabled={props.commandDisabled} aria-describedby={props.commandDisabled ? props.commandDescribedBy : undefined}
                  onClick={() => props.onCommand?.(p)}>
                  {word && <span class="graphic__role" aria-hidden="true">{word} </span>}
                  {text}
                </button>
              ) : (
                <span class="graphic__point" title={p ? pointLabel(p) : name}>
                  <span class="sr-only">{what}: </span>
                  {word && <span class="graphic__role" aria-hidden="true">{word} </span>}
                  {text}
                </span>
              )}
            </div>
          );
        })}
      </div>
    </foreignObject>
  );
}

/**
 * The points of the equipment no element shows, listed under the drawing (commanded from the points
 * table below, whose buttons keep their names).
 */
export function UnplacedPoints(props: Pick<GraphicProps, "graphic" | "points" | "held" | "nowMs" | "live">) {
  const ids = props.graphic.unplaced;
  if (ids.length === 0) return null;
  return (
    <div class="graphic__unplaced">
      <h3>Not on the drawing</h3>
      <ul class="plain graphic__unplaced-list">
        {ids.map((id) => {
          const p = props.points.get(id);
          return (
            <li key={id} data-point={id}>
              <span class="graphic__name" title={p?.name ?? id}>{p ? pointLabel(p) : id}</span>{" "}
              {p ? (
                <ValueText value={p.value} status={p.status} tsMs={p.ts === null ? null : p.ts * 1000} nowMs={props.nowMs} live={props.live}
                  point={p} override={props.held ? props.held.get(p.id) ?? null : undefined} />
              ) : (
                <span class="value value--unknown">—</span>
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
