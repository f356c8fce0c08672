/**
 * What the visual editor needs before it can draw, fetched once and shared:
 * its chunk (the graph library, loaded only on the program pages) and the
 * block catalogue (GET /api/v1/blocks; it changes only with the server's
 * version, which a reload picks up). A program page starts both when it
 * opens, so that pressing "Open the visual editor" waits for neither.
 *
 * This module is in the dashboard's main bundle: it holds no editor code.
 */
import { endpoints } from "../api/endpoints";
import type { ApiClient } from "../api/client";
import type { BlockKind } from "../api/types";
import type { ProgramCanvas } from "./ProgramCanvas";

type Canvas = typeof ProgramCanvas;

let chunk: Promise<Canvas> | null = null;
let canvas: Canvas | null = null;

/** The editor's component, fetched and evaluated once (a failed fetch is tried again at the next call). */
export function loadEditor(): Promise<Canvas> {
  chunk ??= import("./ProgramCanvas").then(
    (m) => (canvas = m.ProgramCanvas),
    (err: unknown) => {
      chunk = null;
      throw err;
    },
  );
  return chunk;
}

/** The editor's component if its chunk has loaded, else null. */
export function loadedEditor(): Canvas | null {
  return canvas;
}

const catalogues = new WeakMap<ApiClient, Promise<BlockKind[]>>();
const loadedCatalogues = new WeakMap<ApiClient, BlockKind[]>();

/** The block catalogue, asked once per API client (a failure is not kept: the next call asks again). */
export function loadCatalogue(api: ApiClient): Promise<BlockKind[]> {
  let p = catalogues.get(api);
  if (!p) {
    p = endpoints.blocks(api).then(
      (c) => {
        loadedCatalogues.set(api, c.items);
        return c.items;
      },
      (err: unknown) => {
        catalogues.delete(api);
        throw err;
      },
    );
    catalogues.set(api, p);
  }
  return p;
}

/** The block catalogue if it has arrived, else undefined. */
export function loadedCatalogue(api: ApiClient): BlockKind[] | undefined {
  return loadedCatalogues.get(api);
}

/** Start fetching the editor's chunk and the catalogue (a program page opened); failures surface when the editor opens. */
export function preloadEditor(api: ApiClient): void {
  loadEditor().catch(() => {});
  loadCatalogue(api).catch(() => {});
}
