"""The visual editor draws from sizes it knows before the browser lays anything out (issue 20).

React Flow is given every node's size and its ports' handles (web/src/editor/geometry.ts) so
that it draws the nodes and their wires in its first render, without measuring the DOM first.
These tests hold those numbers to the browser's own layout, in headless Chromium against the
demo: every node is as large as the editor says, and every wire is drawn, from the first time,
from port to port. Should editor.css change a node's border, width or rows, they fail and say
which node or wire (a 3 px border instead of 1 put all 37 wires of the program 2 px off).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import Demo, sign_in

pytestmark = [pytest.mark.service, pytest.mark.slow]

# The demo's largest program (the editor benchmark opens it too): inputs, a constant, blocks with
# one to several ports, outputs, so every kind of border and port row is drawn.
PROGRAM = "/sites/demo/programs/central-plant"

# Each wire's path as React Flow first drew it, before its ResizeObserver measured the nodes (it
# measures them after the first paint anyway, and would correct wrong handles then): a
# MutationObserver's callback runs right after the render that inserted the path.
RECORD_JS = """
() => {
  window.__firstPaths = {};
  new MutationObserver(() => {
    for (const e of document.querySelectorAll('.react-flow__edge')) {
      const p = e.querySelector('path.react-flow__edge-path');
      const id = e.dataset.id;
      if (p && !(id in window.__firstPaths)) window.__firstPaths[id] = p.getAttribute('d');
    }
  }).observe(document.body, { subtree: true, childList: true });
}
"""

# In the canvas's own coordinates (unzoomed): each node's box as the browser lays it out and as
# React Flow was told (its wrapper's inline width and height); each wire's ends as first drawn, and
# the outer edge's middle of the handles it joins as laid out (React Flow joins a right handle at
# its right edge, a left one at its left edge).
GEOMETRY_JS = """
() => {
  const vp = document.querySelector('.react-flow__viewport');
  const m = new DOMMatrixReadOnly(getComputedStyle(vp).transform);
  const origin = vp.parentElement.getBoundingClientRect();
  const toFlow = (x, y) => [(x - origin.left - m.e) / m.a, (y - origin.top - m.f) / m.d];
  const nodes = [...document.querySelectorAll('.react-flow__node-program')].map((n) => {
    const box = n.querySelector('.ed-node').getBoundingClientRect();
    return { id: n.dataset.id, told: [parseFloat(n.style.width), parseFloat(n.style.height)],
             laid: [box.width / m.a, box.height / m.d] };
  });
  const handle = (port, side) => {
    const h = document.querySelector(`.react-flow__handle[data-port="${port}"]`);
    if (!h) return null;
    const r = h.getBoundingClientRect();
    return toFlow(side === 'right' ? r.right : r.left, r.top + r.height / 2);
  };
  const wires = [...document.querySelectorAll('.react-flow__edge')].map((e) => {
    const d = window.__firstPaths[e.dataset.id];
    const nums = d.match(/-?[0-9.]+(e-?[0-9]+)?/g).map(Number);
    const [from, to] = e.dataset.id.split('#')[0].split('>');
    const port = (ref, dflt) => (ref.includes('.') ? ref : `${ref}.${dflt}`);
    return { id: e.dataset.id, start: nums.slice(0, 2), end: nums.slice(-2),
             source: handle(port(from, 'value'), 'right'), target: handle(port(to, 'value'), 'left') };
  });
  return { nodes, wires };
}
"""


def _open_largest(demo: Demo, page: Any) -> dict[str, Any]:
    from playwright.sync_api import expect

    sign_in(page, demo, "admin", PROGRAM)
    page.evaluate(RECORD_JS)
    page.get_by_role("button", name="Open the visual editor").click()
    expect(page.locator(".react-flow__edge").first).to_be_attached()
    expect(page.locator(".editor__status")).to_have_text(re.compile("Valid|problem"))
    return dict(page.evaluate(GEOMETRY_JS))


def test_every_node_is_as_large_as_the_editor_told_react_flow(demo: Demo, page: Any) -> None:
    geometry = _open_largest(demo, page)
    assert len(geometry["nodes"]) >= 20, geometry["nodes"]
    wrong = [n for n in geometry["nodes"]
             if any(abs(a - b) > 0.5 for a, b in zip(n["told"], n["laid"], strict=True))]
    assert not wrong, f"nodes whose laid-out size is not the one given to React Flow: {wrong}"


def test_every_wire_is_first_drawn_from_port_to_port(demo: Demo, page: Any) -> None:
    geometry = _open_largest(demo, page)
    wires = geometry["wires"]
    assert len(wires) >= 30, wires
    missing = [w["id"] for w in wires if w["source"] is None or w["target"] is None]
    assert not missing, f"wires without a port drawn at an end: {missing}"
    off = [w for w in wires
           if max(abs(w["start"][0] - w["source"][0]), abs(w["start"][1] - w["source"][1]),
                  abs(w["end"][0] - w["target"][0]), abs(w["end"][1] - w["target"][1])) > 1.0]
    assert not off, f"wires drawn away from their ports (canvas px): {off}"
