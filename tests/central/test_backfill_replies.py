"""The centre takes nothing from an edge's history answer it cannot check: a malformed count or
sample row, a time out of range or not finite, an unknown status or an object as a value is a
BackfillError saying where and what was expected, and nothing is written. (The answers are
written here as a misbehaving edge would send them: a real edge does not.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from openbms.central.backfill import Backfill, BackfillError
from openbms.historian import open_historian
from openbms.runtime.clock import WallClock

HOUR = 3600.0
T0 = 1_765_000_800.0 // HOUR * HOUR


def edge(samples: Any = None, counts: Any = None) -> Any:
    """An ``ask`` answering the history request as told."""
    async def ask(site: str, name: str, payload: bytes, token: str) -> bytes:
        body = orjson.loads(payload)
        if "counts" in body:
            points = counts if counts is not None else [{"point": "a/e/p", "hours": [[T0, 2]]}]
            return orjson.dumps({"ok": True, "result": {"points": points}})
        return orjson.dumps({"ok": True, "result": {"samples": samples}})
    return ask


@pytest.mark.parametrize(("samples", "counts", "said"), [
    (None, [{"point": "a/e/p", "hours": [[T0, "two"]]}], "counts are not as expected"),
    (None, [{"point": "a/e/p"}], "counts are not as expected"),
    (None, ["a/e/p"], "counts are not as expected"),
    ({"rows": []}, None, "no list of samples"),
    ([[T0, 1.0]], None, "expected [time, value, status]"),
    ([[T0, 1.0, "fine"]], None, "status 'fine'"),
    ([[T0, {"x": 1}, "ok"]], None, "value is a JSON dict"),
    ([["noon", 1.0, "ok"]], None, "time 'noon'"),
    ([[T0 + 2 * HOUR, 1.0, "ok"]], None, "outside the range asked"),
    ([[1e300, 1.0, "ok"]], None, "outside the range asked"),
])
async def test_a_malformed_answer_of_the_edge_is_refused_and_writes_nothing(
        tmp_path: Path, samples: Any, counts: Any, said: str):
    async with open_historian(tmp_path / "history.db", clock=WallClock()) as history:
        backfill = Backfill(history, edge(samples, counts), lambda _site: "token", WallClock())
        with pytest.raises(BackfillError) as refused:
            await backfill.run("a", T0, T0 + HOUR)
        assert said in str(refused.value)
        assert "site a" in str(refused.value)
        await history.flush()
        assert await history.raw("a/e/p", 0, 4e9) == []


async def test_a_good_answer_is_written(tmp_path: Path):
    async with open_historian(tmp_path / "history.db", clock=WallClock()) as history:
        backfill = Backfill(history, edge([[T0, 1.5, "ok"], [T0 + 60, None, "offline"]]),
                            lambda _site: "token", WallClock())
        result = await backfill.run("a", T0, T0 + HOUR)
        assert (result.hours_filled, result.samples_written) == (1, 2)
        assert [(s.ts, s.value, s.status) for s in await history.raw("a/e/p", 0, 4e9)] == [
            (T0, 1.5, "ok"), (T0 + 60, None, "offline")]
