"""The visual editor's figures for docs/benchmarks.md: ``name value unit`` lines.

    .venv/bin/python -m tests.e2e.bench_editor          # after: cd web && npm ci && npm run build

- ``editor_js_gzip``: the editor's own chunk (assets/ProgramCanvas-*.js, the graph library with it),
  gzipped (level 9); the dashboard loads it only when the editor is opened. ``editor_css_gzip``:
  its style sheet. ``js_shipped_gzip``: every built JavaScript file, the editor's included.
- ``editor_open_largest``: pressing "Open the visual editor" on the demo's largest program (most
  nodes and wires) → every wire drawn on the canvas, and the next frame; signed in, over loopback
  against the live demo building. ``_first``: the first open in a freshly loaded program page,
  the button pressed as soon as it shows (the page starts fetching the editor's chunk and the
  block catalogue as it opens: whatever of that is not done by then is in the figure);
  ``_again``: closed and opened again in the same page. Median of 5 page loads. The comment
  line after them says when, after navigation start, the chunk had arrived and the button was
  pressed (medians).
- ``editor_drag_work_200``: what the ≤ 16 ms target means, the main thread's work per frame
  while a node is dragged: a program of 200 blocks (with 201 inputs, one output and 401 wires:
  ``_big_program``) open in the editor, one node dragged by the mouse across the canvas in 60
  moves, in Chromium. A frame's work is the time spent handling the pointer moves that arrived
  for it (from the first pointermove listener on window, in the capture phase, to the last
  mousemove listener on window, registered after React Flow's, so React Flow's drag handler and
  the Preact re-render it schedules as a microtask are inside) plus the frame's own rendering
  (from its first requestAnimationFrame callback to a message posted from it, which runs once
  the frame's rAF callbacks, style, layout and paint are done on the main thread). The idle time
  between an input and its frame is not counted; raster and compositing on other threads are
  not either. Median, p95 and longest over the frames of the drag.
- ``editor_drag_frame_200``: the old figure, kept: the time between animation frames during the
  same drag (median and longest). At 60 Hz it cannot be below 16.7 ms, so it shows that frames
  were not dropped, not the work in them.

Chromium is /usr/bin/chromium (OPENBMS_CHROMIUM to change), headless. The 200-block program is
saved as a version of a new program ``bench-editor-200`` on the demo site and never deployed.
"""

from __future__ import annotations

import gzip
import statistics
import tempfile
from pathlib import Path
from typing import Any

from tests.e2e.bench_dashboard import _login, js_shipped_kb
from tests.e2e.conftest import CHROMIUM, WEB_STATIC, running_demo

RUNS = 5
BIG = "bench-editor-200"


def _gz_kb(pattern: str) -> float:
    files = sorted((WEB_STATIC / "assets").glob(pattern))
    if not files:
        raise SystemExit("no built editor: cd web && npm ci && npm run build")
    return sum(len(gzip.compress(f.read_bytes(), 9)) for f in files) / 1000


def _big_program(blocks: int = 200) -> dict[str, Any]:
    """A chain of `add` blocks: each adds an input to the block before it; the last is written."""
    inputs = [{"id": f"i{k}", "point": "demo/ahu-1/oat"} for k in range(blocks + 1)]
    nodes = [{"id": f"b{k}", "block": "add", "params": {}} for k in range(blocks)]
    wires = [{"from": "i0", "to": "b0.in1"}]
    for k in range(blocks):
        wires.append({"from": f"i{k + 1}", "to": f"b{k}.in2"})
        if k:
            wires.append({"from": f"b{k - 1}.out", "to": f"b{k}.in1"})
    wires.append({"from": f"b{blocks - 1}.out", "to": "o"})
    return {"name": "Editor benchmark: 200 blocks", "inputs": inputs, "blocks": nodes,
            "outputs": [{"id": "o", "point": "demo/ahu-1/sat-sp", "priority": 16}], "wires": wires}


OPEN_JS = """
async (wires) => {
  const button = [...document.querySelectorAll('button')]
    .find((b) => b.textContent.includes('visual editor'));
  const start = performance.now();
  window.__pressedAt = start;
  button.click();
  await new Promise((resolve) => {
    const nodes = () => document.querySelectorAll('.react-flow__node').length > 0;
    const t0 = () => {
      if (nodes()) window.__nodesAt = performance.now() - start;
      else requestAnimationFrame(t0);
    };
    t0();
    const drawn = () => document.querySelectorAll('.react-flow__edge').length >= wires;
    const tick = () => (drawn() ? resolve() : requestAnimationFrame(tick));
    tick();
  });
  await new Promise((r) => requestAnimationFrame(() => r()));
  return performance.now() - start;
}
"""

# When the editor's chunk had been fetched (ms after navigation start).
CHUNK_JS = """
() => performance.getEntriesByType('resource')
  .filter((r) => /ProgramCanvas-.*[.]js$/.test(r.name)).map((r) => r.responseEnd)[0] ?? -1
"""

FRAMES_JS = """
() => {
  window.__frames = [];
  let last = performance.now();
  window.__stop = false;
  const tick = (t) => {
    window.__frames.push(t - last);
    last = t;
    if (!window.__stop) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}
"""

# Installed after the mouse is down (React Flow's drag listeners are on window by then, so the
# bubble-phase mousemove listener here runs after them). See the module docstring.
WORK_JS = """
() => {
  window.__work = [];
  let handling = 0;      // ms spent in pointer-move handling since the last frame
  let started = null;    // when the current move's handling started
  let framePending = false;
  window.addEventListener('pointermove', () => { started = performance.now(); }, { capture: true });
  window.addEventListener('mousemove', () => {
    if (started === null) return;
    handling += performance.now() - started;
    started = null;
    if (framePending) return;
    framePending = true;
    requestAnimationFrame(() => {
      const r0 = performance.now();
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        window.__work.push(handling + (performance.now() - r0));
        handling = 0;
        framePending = false;
      };
      ch.port2.postMessage(0);
    });
  });
}
"""


def _open_page(browser: Any, url: str, tokens: dict[str, object], path: str) -> Any:
    import json

    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.add_init_script(f"localStorage.setItem('openbms.session', {json.dumps(json.dumps(tokens))})")
    page = context.new_page()
    page.goto(f"{url}/#{path}")
    page.get_by_role("button", name="Open the visual editor").wait_for(timeout=60_000)
    return page


def main() -> None:
    import httpx
    from playwright.sync_api import sync_playwright

    print(f"editor_js_gzip {_gz_kb('ProgramCanvas-*.js'):.1f} KB")
    print(f"editor_css_gzip {_gz_kb('ProgramCanvas-*.css'):.1f} KB")
    print(f"js_shipped_gzip {js_shipped_kb():.1f} KB")
    with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="openbms-bench-") as tmp, \
            running_demo(Path(tmp)) as demo:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            tokens = _login(demo.url, *demo.users["admin"])
            auth = {"Authorization": f"Bearer {tokens['access_token']}"}
            with httpx.Client(base_url=demo.url, headers=auth, timeout=30) as api:
                items = api.get("/api/v1/sites/demo/programs").json()["items"]
                sizes = {}
                for p in items:
                    doc = api.get(f"/api/v1/sites/demo/programs/{p['id']}").json()["program"]
                    sizes[p["id"]] = (len(doc["inputs"]) + len(doc["constants"]) + len(doc["blocks"])
                                      + len(doc["outputs"]) + len(doc["wires"]), len(doc["wires"]))
                largest = max(sizes, key=lambda k: sizes[k][0])
                r = api.put(f"/api/v1/sites/demo/programs/{BIG}",
                            json={"program": _big_program(), "comment": "editor benchmark"})
                assert r.status_code in (200, 201), r.text
            first, again, nodes_at, chunk_at, pressed_at = [], [], [], [], []
            for _ in range(RUNS):
                page = _open_page(browser, demo.url, tokens, f"/sites/demo/programs/{largest}")
                first.append(page.evaluate(OPEN_JS, sizes[largest][1]))
                nodes_at.append(page.evaluate("window.__nodesAt"))
                pressed_at.append(page.evaluate("window.__pressedAt"))
                chunk_at.append(page.evaluate(CHUNK_JS))
                page.get_by_role("button", name="Close the visual editor").click()
                again.append(page.evaluate(OPEN_JS, sizes[largest][1]))
                page.context.close()
            print(f"# largest demo program: {largest} ({sizes[largest][0]} nodes and wires)")
            print(f"editor_open_largest_first {statistics.median(first):.0f} ms")
            print(f"# nodes shown after {statistics.median(nodes_at):.0f} ms (first)")
            print(f"editor_open_largest_again {statistics.median(again):.0f} ms")
            print(f"# after navigation start: the editor's chunk in at {statistics.median(chunk_at):.0f} ms, "
                  f"the button pressed at {statistics.median(pressed_at):.0f} ms (first)")

            page = _open_page(browser, demo.url, tokens, f"/sites/demo/programs/{BIG}")
            page.evaluate(OPEN_JS, 401)
            node = page.locator('.react-flow__node[data-id="b100"]')
            node.scroll_into_view_if_needed()
            box = node.bounding_box()
            assert box is not None
            x, y = box["x"] + 20, box["y"] + 10
            page.mouse.move(x, y)
            page.mouse.down()
            page.evaluate(WORK_JS)
            page.evaluate(FRAMES_JS)
            for k in range(60):
                page.mouse.move(x + 4 * k, y + 2 * k)
            page.mouse.up()
            page.evaluate("window.__stop = true")
            page.wait_for_function("() => true", polling="raf")  # the last frame's message is in
            frames = page.evaluate("window.__frames.slice(1)")
            work = sorted(page.evaluate("window.__work"))
            page.context.close()
            if not work:
                raise SystemExit("no frame measured while dragging: did the node move?")
            p95 = work[min(len(work) - 1, round(0.95 * (len(work) - 1)))]
            print(f"editor_drag_work_200_median {statistics.median(work):.1f} ms")
            print(f"editor_drag_work_200_p95 {p95:.1f} ms")
            print(f"editor_drag_work_200_max {work[-1]:.1f} ms")
            print(f"# frames with work while dragging: {len(work)}")
            print(f"editor_drag_frame_200_median {statistics.median(frames):.1f} ms")
            print(f"editor_drag_frame_200_max {max(frames):.1f} ms")
            print(f"# frames while dragging: {len(frames)}")
        finally:
            browser.close()


if __name__ == "__main__":
    main()
