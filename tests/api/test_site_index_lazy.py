"""The site index keeps no description per point and is built off the event loop (issue 15).

At 100 000 points the descriptions took 74 MB, and building them at the first points
request after a start held the loop for a second (the 1 000-device benchmark's worst stall).
"""

from __future__ import annotations

import threading

from openbms.api import site_index as module
from openbms.model.site import SiteConfig


def _site(n: int) -> SiteConfig:
    return SiteConfig.model_validate({"site": {"id": "hq"}, "equipment": [
        {"id": "ahu-1", "points": [{"name": f"p{i:03d}", "unit": "degC"} for i in range(n)]}]})


def test_the_index_describes_only_the_points_asked_for(monkeypatch):
    calls = []
    real = module.describe
    monkeypatch.setattr(module, "describe", lambda *entry: calls.append(entry[0]) or real(*entry))
    index = module.site_index(_site(300))
    assert calls == []
    page = index.described[100:201]
    assert [row["id"] for row in page] == [f"hq/ahu-1/p{i:03d}" for i in range(100, 201)]
    assert len(calls) == 101 and index.described[5]["display_name"] == "P005"


async def test_the_first_build_runs_in_a_worker_thread(monkeypatch):
    threads = []
    real = module._build
    monkeypatch.setattr(module, "_build", lambda cfg: threads.append(threading.current_thread()) or real(cfg))
    site = _site(10)
    index = await module.site_index_built(site)
    again = await module.site_index_built(site)
    assert again is index and len(threads) == 1
    assert threads[0] is not threading.main_thread()
