"""Two identical saves of a program at once: one version, and exactly one says ``created``.

The store decides whether a save made a version in the transaction that made
it. Here the first save is held at the store's door (a gate the test opens)
while the second one runs to the end; the first then finds the document it
carries already stored.
"""

# ruff: noqa: F811  (the live fixture is imported, then named as a parameter)
from __future__ import annotations

import asyncio
import threading
from typing import Any

import sqlalchemy as sa

from openbms.db.schema import audit_log
from tests.api.live import Live, live  # noqa: F401

PROGRAMS = "/api/v1/sites/hq/programs"
DOCUMENT = {"name": "SAT hold", "period_s": 1, "constants": [{"id": "sp", "value": 14}],
            "outputs": [{"id": "out", "point": "hq/ahu-1/sat-sp"}], "wires": [{"from": "sp", "to": "out"}]}


class GatedStore:
    """The runtime's program store; the first save waits (in its worker thread) for the gate."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.gate = threading.Event()
        self._first = True
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def save(self, *args: Any, **kw: Any) -> Any:
        with self._lock:
            first, self._first = self._first, False
        if first:
            self.entered.set()
            assert self.gate.wait(30)
        return self.inner.save(*args, **kw)


async def test_two_identical_saves_at_once_make_one_version_and_one_created(live: Live):
    first = await live.put("fm", f"{PROGRAMS}/sat-hold", json={"program": {**DOCUMENT, "name": "v1"}})
    assert first.status_code == 201, first.text
    runtime = live.runtime
    real = runtime.program_store
    gated = GatedStore(real)
    runtime.program_store = gated  # type: ignore[assignment]
    try:
        held = asyncio.create_task(live.put("fm", f"{PROGRAMS}/sat-hold", json={"program": DOCUMENT}))
        assert await asyncio.to_thread(gated.entered.wait, 30)
        other = await live.put("fm", f"{PROGRAMS}/sat-hold", json={"program": DOCUMENT})
        gated.gate.set()
        late = await held
    finally:
        runtime.program_store = real
    answers = sorted((r.status_code, r.json()["version"], r.json()["created"]) for r in (other, late))
    assert answers == [(200, 2, False), (201, 2, True)]
    versions = (await live.get("viewer", f"{PROGRAMS}/sat-hold/versions")).json()["items"]
    assert [v["version"] for v in versions] == [1, 2]
    with runtime.state.connect() as conn:
        saves = conn.execute(sa.select(sa.func.count()).select_from(audit_log).where(
            audit_log.c.target == "hq/sat-hold", audit_log.c.action == "program.save")).scalar()
    assert saves == 2  # version 1 and version 2, once each
