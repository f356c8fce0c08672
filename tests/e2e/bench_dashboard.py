"""Dashboard figures for docs/benchmarks.md: ``name value unit`` lines.

    .venv/bin/python -m tests.e2e.bench_dashboard          # after: cd web && npm ci && npm run build

- ``js_shipped_gzip``: the built JavaScript (src/openbms/web_static/assets/*.js), gzipped (level 9).
- ``first_view``: navigation start → the site overview shows live values (the dashboard's
  ``openbms:live-values`` performance mark), signed in, over loopback against the live demo
  building (as in the e2e tests); median of 5 page loads, each in a fresh browser context.
- ``trend_week_4x1min``: rendering a one-week one-minute trend of 4 points (4 × 10 080 points)
  with uPlot, same version and options as the dashboard's chart, in Chromium: from
  ``new uPlot(...)`` to the frame after it drew; median of 5.

Chromium is /usr/bin/chromium (OPENBMS_CHROMIUM to change), headless.
"""

from __future__ import annotations

import gzip
import json
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.e2e.conftest import CHROMIUM, ROOT, WEB_STATIC, running_demo

RUNS = 5
UPLOT = ROOT / "web" / "node_modules" / "uplot" / "dist"


def js_shipped_kb() -> float:
    """The gzipped size of every built JavaScript file, in KB (1000 bytes, as Vite reports)."""
    files = sorted((WEB_STATIC / "assets").glob("*.js"))
    if not files:
        raise SystemExit("no built dashboard: cd web && npm ci && npm run build")
    return sum(len(gzip.compress(f.read_bytes(), 9)) for f in files) / 1000


def _login(url: str, email: str, password: str) -> dict[str, object]:
    req = urllib.request.Request(f"{url}/api/v1/auth/login", method="POST",
                                 data=json.dumps({"email": email, "password": password}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as res:
        pair = json.load(res)
    return {"access_token": pair["access_token"], "refresh_token": pair["refresh_token"],
            "expires_at": time.time() * 1000 + pair["expires_in"] * 1000}


def first_view_ms(browser: object, url: str, tokens: dict[str, object]) -> list[float]:
    """Navigation start → the overview's live values, per page load (ms)."""
    out = []
    for _ in range(RUNS):
        context = browser.new_context(viewport={"width": 1366, "height": 900})  # type: ignore[attr-defined]
        context.add_init_script(f"localStorage.setItem('openbms.session', {json.dumps(json.dumps(tokens))})")
        page = context.new_page()
        page.goto(f"{url}/#/sites/demo")
        page.wait_for_function("performance.getEntriesByName('openbms:live-values').length > 0",
                               timeout=60_000)
        out.append(page.evaluate("performance.getEntriesByName('openbms:live-values')[0].startTime"))
        context.close()
    return out


CHART_JS = """
async () => {
  const N = 10080, SERIES = 4, t0 = Math.floor(Date.now() / 1000) - N * 60;
  const xs = new Float64Array(N);
  const ys = Array.from({length: SERIES}, () => new Float64Array(N));
  for (let i = 0; i < N; i++) {
    xs[i] = t0 + i * 60;
    for (let s = 0; s < SERIES; s++) ys[s][i] = 21 + s + 3 * Math.sin(i / 240 + s) + Math.random() * 0.2;
  }
  const data = [Array.from(xs), ...ys.map((y) => Array.from(y))];
  const times = [];
  for (let run = 0; run < RUNS_PLACEHOLDER; run++) {
    const el = document.createElement('div');
    el.style.width = '1200px';
    document.body.appendChild(el);
    const opts = {
      width: 1200, height: 320, scales: {x: {time: true}},
      axes: [{}, {scale: 'u0', side: 3, label: '°C', size: 56}],
      cursor: {drag: {x: true, y: false, setScale: false}}, legend: {live: true},
      series: [{}, ...ys.map((_, i) => ({label: 'p' + i, scale: 'u0', stroke: '#2563eb', width: 1.5}))],
    };
    const start = performance.now();
    const u = new uPlot(opts, data, el);
    await new Promise((r) => requestAnimationFrame(() => r()));
    times.push(performance.now() - start);
    u.destroy();
    el.remove();
  }
  return times;
}
""".replace("RUNS_PLACEHOLDER", str(RUNS))


def trend_render_ms(browser: object) -> list[float]:
    """uPlot drawing 4 × 10 080 points, per run (ms)."""
    page = browser.new_page(viewport={"width": 1366, "height": 900})  # type: ignore[attr-defined]
    page.set_content("<!doctype html><html><body></body></html>")
    page.add_style_tag(path=str(UPLOT / "uPlot.min.css"))
    page.add_script_tag(path=str(UPLOT / "uPlot.iife.min.js"))
    page.evaluate(CHART_JS)  # warm-up: the first run pays for parsing and JIT
    times: list[float] = page.evaluate(CHART_JS)
    page.close()
    return times


def main() -> None:
    from playwright.sync_api import sync_playwright

    print(f"js_shipped_gzip {js_shipped_kb():.1f} KB")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            print(f"trend_week_4x1min {statistics.median(trend_render_ms(browser)):.1f} ms")
            with tempfile.TemporaryDirectory(prefix="openbms-bench-") as tmp, running_demo(Path(tmp)) as demo:
                tokens = _login(demo.url, *demo.users["admin"])
                times = first_view_ms(browser, demo.url, tokens)
                print(f"first_view {statistics.median(times):.0f} ms")
        finally:
            browser.close()


if __name__ == "__main__":
    main()
