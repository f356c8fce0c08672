"""The API context: work shared between concurrent requests."""

from __future__ import annotations

import asyncio
import threading
import time

from openbms.api.auth.passwords import Passwords
from openbms.api.context import ApiContext
from openbms.api.ratelimit import RateLimiter
from openbms.api.settings import ApiSettings


def _context() -> ApiContext:
    return ApiContext(settings=ApiSettings(), passwords=Passwords(), limiter=RateLimiter(time.time))


async def test_once_runs_the_work_once_for_concurrent_callers_and_again_afterwards():
    ctx = _context()
    calls = 0
    gate = threading.Event()

    def read(x: int) -> int:
        nonlocal calls
        calls += 1
        gate.wait(5)
        return x * 2

    waiting = [asyncio.create_task(ctx.once("sites", read, 21)) for _ in range(10)]
    await asyncio.sleep(0.05)
    gate.set()
    assert await asyncio.gather(*waiting) == [42] * 10
    assert calls == 1
    assert await ctx.once("sites", read, 1) == 2 and calls == 2  # the last run ended: a new one


async def test_a_cancelled_caller_does_not_cancel_the_others():
    ctx = _context()
    gate = threading.Event()
    first = asyncio.create_task(ctx.once("k", lambda: gate.wait(5) and "done"))
    second = asyncio.create_task(ctx.once("k", lambda: "not run"))
    await asyncio.sleep(0.05)
    first.cancel()
    gate.set()
    assert await second == "done"


def test_forgetting_sign_ins_empties_the_cache_and_moves_the_generation():
    ctx = _context()
    ctx.principals["t"] = (object(), 0.0, 0.0)
    before = ctx.access_generation
    ctx.forget_principals()
    assert ctx.principals == {} and ctx.access_generation == before + 1


def test_the_history_cache_size_comes_from_the_environment(monkeypatch):
    import pytest

    monkeypatch.setenv("OPENBMS_HISTORY_CACHE_MB", "16")
    assert ApiSettings.from_env().history_cache_mb == 16.0
    monkeypatch.setenv("OPENBMS_HISTORY_CACHE_MB", "0")
    assert ApiSettings.from_env().history_cache_mb == 0.0
    for bad in ("lots", "-1", "nan"):
        monkeypatch.setenv("OPENBMS_HISTORY_CACHE_MB", bad)
        with pytest.raises(ValueError, match="OPENBMS_HISTORY_CACHE_MB"):
            ApiSettings.from_env()


async def test_a_site_created_while_the_site_list_is_read_is_found():
    ctx = _context()
    db = ["a"]
    gate = threading.Event()

    def read() -> tuple[list[str], float]:
        began = time.monotonic()
        seen = list(db)
        gate.wait(5)
        return seen, began

    ctx._read_sites = read  # type: ignore[method-assign]
    first = asyncio.create_task(ctx.site_exists("a"))
    await asyncio.sleep(0.05)
    db.append("b")  # the new site is committed while that read runs
    second = asyncio.create_task(ctx.site_exists("b"))
    await asyncio.sleep(0.05)
    gate.set()
    assert await first
    assert await second  # the read it joined began before the site existed: it read again
    assert not await ctx.site_exists("c")
