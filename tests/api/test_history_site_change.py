# ruff: noqa: F811  (the live fixture is imported, then named as a parameter)
"""A history request answers from the site configuration it started with (review of issue 14).

A site change may land while a request waits on the history store; the
request's series still say the kind and step of the points it resolved, from
one snapshot of the site's index, instead of looking the point up again in
the new configuration (a removed point was a 500, or another point's kind).
"""

from __future__ import annotations

import asyncio
from typing import Any

from openbms.historian.base import Historian
from tests.api.live import Live, live  # noqa: F401


class GatedHistorian:
    """The runtime's real historian; its first ``raw_rows`` waits until the test opens the gate."""

    def __init__(self, inner: Historian) -> None:
        self.inner = inner
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()
        self.gated = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def raw_rows(self, *args: Any, **kw: Any) -> Any:
        if not self.gated:
            self.gated = True
            self.entered.set()
            await self.gate.wait()
        return await self.inner.raw_rows(*args, **kw)


async def _history_across_a_removal(live: Live, points: str, removed: str) -> dict[str, tuple[str, bool]]:
    """Ask for the history of ``points``; while the request waits in the store, remove ``removed``."""
    runtime = live.runtime
    real = runtime.historian
    gated = GatedHistorian(real)
    runtime.historian = gated  # type: ignore[assignment]
    try:
        request = asyncio.create_task(
            live.get("viewer", "/api/v1/sites/hq/history", params={"points": points, "prior": "true"}))
        await asyncio.wait_for(gated.entered.wait(), 30)  # the request waits in the store
        r = await live.delete("admin", f"/api/v1/sites/hq/points/{removed}")
        assert r.status_code == 204, r.text
        gated.gate.set()
        r = await request
    finally:
        runtime.historian = real
    assert r.status_code == 200, r.text
    return {s["point"]: (s["kind"], s["step"]) for s in r.json()["series"]}


def _meter(equip: str, *points: tuple[str, str]) -> dict[str, Any]:
    return {"id": equip, "type": "meter", "points": [
        {"name": name, "kind": kind, "binding": f"sim://{equip}/{name}?wave=constant&value=1&kind={kind}"}
        for name, kind in points]}


async def test_a_point_removed_during_a_history_request_keeps_the_kind_it_had(live: Live):
    # zz-1/state sorts last in the site: looked up again after its removal, it was past the end (a 500).
    r = await live.post("admin", "/api/v1/sites/hq/equipment", json=_meter("zz-1", ("state", "bool")))
    assert r.status_code == 201, r.text
    shapes = await _history_across_a_removal(live, "ahu-1/sat,zz-1/state", "zz-1/state")
    assert shapes == {"hq/ahu-1/sat": ("number", False), "hq/zz-1/state": ("bool", True)}


async def test_a_removed_point_does_not_take_its_neighbours_kind(live: Live):
    # Looked up again after the removal of zz-0/a, the place of zz-0/a holds zz-0/b, a bool point.
    r = await live.post("admin", "/api/v1/sites/hq/equipment",
                        json=_meter("zz-0", ("a", "number"), ("b", "bool")))
    assert r.status_code == 201, r.text
    shapes = await _history_across_a_removal(live, "ahu-1/fan-cmd,zz-0/a", "zz-0/a")
    assert shapes == {"hq/ahu-1/fan-cmd": ("bool", True), "hq/zz-0/a": ("number", False)}
