/**
 * Where the canvas draws things, known before anything is on the screen: a
 * node's size and its ports' handles (from the node's kind and port count,
 * the same numbers editor.css and ProgramNode draw with), and the view that
 * fits a program.
 *
 * React Flow measures every node and every handle in the DOM before it draws
 * a wire (a ResizeObserver, then a store update, then a render of every node
 * and wire, more than once under preact/compat). Given a node's `width`,
 * `height`, `measured` and `handles` it draws the nodes and their wires in
 * its first render; a node whose real size differs (a changed style sheet)
 * is measured again by React Flow as before, so a wrong number here costs
 * that time, not a wrong drawing. tests/e2e/test_editor_geometry.py checks
 * the numbers against the browser's layout.
 */
import { getViewportForBounds, Position, type NodeHandle, type Viewport } from "@xyflow/react";
import type { NodeKind } from "../lib/graph";

/** A node's width (editor.css `.ed-node`). */
export const NODE_W = 170;
/** The title and subtitle above the first port row, and one port row (ProgramNode). */
export const HEAD = 40;
export const ROW = 20;
/** A handle's side (editor.css `.ed-port .react-flow__handle`, border-box). */
const HANDLE = 9;
/** The node's top border; inputs and constants have a thick left border, outputs a thick right one (editor.css). */
const BORDER = 1;
const THICK = 4;

export interface NodeBox {
  width: number;
  height: number;
  handles: NodeHandle[];
}

/** A program node's size and its handles, in the node's own coordinates (unzoomed), as the browser lays them out. */
export function nodeBox(kind: NodeKind, ins: readonly { name: string }[], outs: readonly { name: string }[]): NodeBox {
  const rows = Math.max(1, ins.length, outs.length);
  const left = kind === "input" || kind === "constant" ? THICK : BORDER;
  const right = kind === "output" ? THICK : BORDER;
  // A port row starts HEAD below the padding box (inside the top border); its handle is centred ROW/2 down
  // on the node's inner left (inputs) or right (outputs) edge.
  const y = (i: number) => BORDER + HEAD + i * ROW + ROW / 2 - HANDLE / 2;
  const handles: NodeHandle[] = [
    ...ins.map((p, i) => ({ id: p.name, type: "target" as const, position: Position.Left, x: left - HANDLE / 2, y: y(i), width: HANDLE, height: HANDLE })),
    ...outs.map((p, i) => ({ id: p.name, type: "source" as const, position: Position.Right, x: NODE_W - right - HANDLE / 2, y: y(i), width: HANDLE, height: HANDLE })),
  ];
  return { width: NODE_W, height: HEAD + rows * ROW, handles };
}

/** The canvas's padding around a fitted program, and the largest zoom a fit may use (actual size). */
export const FIT = { padding: 0.1, maxZoom: 1, minZoom: 0.1 };

/**
 * The view that shows every box on a canvas of `size` (React Flow's fitView, computed before the
 * first render instead of after its measuring); actual size at the origin when there is nothing to fit.
 */
export function fitViewport(boxes: readonly { x: number; y: number; width: number; height: number }[], size: { width: number; height: number }): Viewport {
  if (!boxes.length || size.width <= 0 || size.height <= 0) return { x: 0, y: 0, zoom: 1 };
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const b of boxes) {
    x0 = Math.min(x0, b.x);
    y0 = Math.min(y0, b.y);
    x1 = Math.max(x1, b.x + b.width);
    y1 = Math.max(y1, b.y + b.height);
  }
  return getViewportForBounds({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, size.width, size.height, FIT.minZoom, FIT.maxZoom, FIT.padding);
}
