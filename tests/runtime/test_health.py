"""Health that tells the truth: a full data disk, a failing historian, a stalled event loop.

The full disk is real (a small tmpfs filled to the last byte); the stall is a
real blocking call on the loop. No test asserts how long anything took: each
waits for a state and checks the transitions.
"""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest
from tests.fixtures.small_disk import small_disk
from tests.fixtures.waiting import eventually
from tests.runtime.test_app import FAST_SITE

from openbms.api.auth.passwords import Passwords
from openbms.api.server import serve
from openbms.config import load_sites
from openbms.db.accounts import create_user
from openbms.historian.sqlite import SQLiteHistorian
from openbms.service.health import HealthLimits, HealthMonitor
from openbms.service.runtime import Runtime

PASSWORD = "correct horse battery"


async def test_a_full_data_disk_degrades_health_refuses_logins_with_503_and_recovers(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    (tmp_path / "site.yaml").write_text(FAST_SITE)
    sites = load_sites(tmp_path)
    # The disk check is about this tmpfs: low means under 1 MB. The loop's limits are generous,
    # this test is not about lag (the machine is shared).
    limits = HealthLimits(min_free_mb=1, min_free_percent=0, max_backlog_age=3600,
                          disk_interval=0.05, max_loop_lag=60, max_loop_lag_p99=60)
    with small_disk(tmp_path / "disk", "24m") as disk:
        rt = Runtime(sites, disk.path / "data", api=("127.0.0.1", 0), api_front=serve, health_limits=limits,
                     historian_options={"flush_interval": 0.05, "merge_interval": 0.05})
        await rt.start()
        try:
            create_user(rt.state, "op@example.com", Passwords().hash(PASSWORD), grants={"t": "operator"})
            login = {"email": "op@example.com", "password": PASSWORD}
            async with httpx.AsyncClient(base_url=rt.api.url, timeout=30) as client:
                async def health() -> dict:
                    r = await client.get("/api/v1/health")
                    assert r.status_code == 200, r.text
                    return r.json()

                h = await health()
                assert h["components"]["disk"]["status"] == "ok", h
                assert h["components"]["historian"]["status"] == "ok", h
                assert h["components"]["disk"]["free_bytes"] > 1e6
                assert (await client.post("/api/v1/auth/login", json=login)).status_code == 200

                disk.fill()
                await eventually(lambda: rt.historian.stats().failing, "history writes failing")
                await eventually(lambda: rt.health()["disk"]["status"] == "degraded", "disk low")
                h = await health()
                assert h["status"] == "degraded"
                assert h["components"]["disk"]["free_bytes"] == 0
                historian = h["components"]["historian"]
                assert historian["status"] == "degraded" and historian["write_errors"] >= 1
                assert "database or disk is full" in historian["last_error"]
                assert historian["dropped"] == 0  # degraded long before anything is dropped
                assert any(r.startswith("disk: disk space low") for r in h["reasons"]), h["reasons"]
                assert any(r.startswith("historian: history writes failing") and "full" in r
                           for r in h["reasons"]), h["reasons"]

                r = await client.post("/api/v1/auth/login", json=login)
                assert r.status_code == 503, r.text
                assert r.headers["content-type"].startswith("application/problem+json")
                assert r.headers["retry-after"] == "30"
                problem = r.json()
                assert problem["type"] == "urn:openbms:problem:storage-full"
                assert "storage is full" in problem["detail"]
                # A second refusal is not logged again (once a minute at most).
                assert (await client.post("/api/v1/auth/login", json=login)).status_code == 503
                refused = [m for m in (r.getMessage() for r in caplog.records)
                           if m.startswith("storage full:")]
                assert len(refused) == 1, refused
                assert not any("unexpected error" in r.getMessage() for r in caplog.records)

                text = (await client.get("/metrics")).text
                assert "openbms_historian_failing 1" in text
                assert "openbms_disk_free_bytes 0" in text
                assert 'openbms_health_degraded{component="disk"} 1' in text
                assert 'openbms_health_degraded{component="historian"} 1' in text

                disk.free()
                await eventually(lambda: rt.health()["historian"]["status"] == "ok"
                                 and rt.health()["disk"]["status"] == "ok", "health back to ok")
                assert rt.historian.stats().dropped == 0
                assert (await client.post("/api/v1/auth/login", json=login)).status_code == 200
                text = (await client.get("/metrics")).text
                assert "openbms_historian_failing 0" in text
                assert 'openbms_health_degraded{component="disk"} 0' in text
        finally:
            await rt.stop()
    health_logs = [r.getMessage() for r in caplog.records if r.name == "openbms.service.health"]
    assert [m.split(":")[1].strip() for m in health_logs] == ["disk degraded", "disk ok again"], health_logs


async def test_a_blocked_event_loop_turns_health_degraded_once_and_back(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="openbms.service.health")
    limits = HealthLimits(min_free_mb=0, min_free_percent=0, lag_interval=0.02, lag_window=0.4,
                          max_loop_lag=0.5, max_loop_lag_p99=0.5)
    async with SQLiteHistorian(tmp_path / "h.db") as historian:
        monitor = HealthMonitor(tmp_path, historian, limits)
        await monitor.start()
        try:
            await eventually(lambda: monitor.loop.ticks >= 3, "the watchdog ticking")
            ticks = monitor.loop.ticks
            time.sleep(1.5)  # noqa: ASYNC251 -- the stall under test: a blocking call on the loop
            await eventually(lambda: monitor.loop.ticks > ticks, "the watchdog waking after the stall")
            loop = monitor.check()["event_loop"]
            assert loop["status"] == "degraded", loop
            assert loop["lag_max_s"] >= 1.0  # it slept 1.5 s; its timer was due 0.02 s in
            assert any("stalled" in r for r in loop["reasons"]), loop
            await eventually(lambda: monitor.check()["event_loop"]["status"] == "ok",
                             "the stall leaving the window")
        finally:
            await monitor.stop()
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 2, logged
    assert logged[0].startswith("health: event_loop degraded: ") and "stalled" in logged[0], logged
    assert logged[1] == "health: event_loop ok again"


def test_health_limits_from_the_environment_say_which_variable_is_wrong():
    assert HealthLimits.from_env({}) == HealthLimits()
    limits = HealthLimits.from_env({"OPENBMS_HEALTH_MIN_FREE_MB": "2000",
                                    "OPENBMS_HEALTH_MAX_BACKLOG_AGE": "90"})
    assert limits.min_free_mb == 2000 and limits.max_backlog_age == 90
    with pytest.raises(ValueError, match=r"OPENBMS_HEALTH_MIN_FREE_MB='lots': expected a number"):
        HealthLimits.from_env({"OPENBMS_HEALTH_MIN_FREE_MB": "lots"})
    with pytest.raises(ValueError, match="max_loop_lag must be a finite number >= 0, not nan"):
        HealthLimits.from_env({"OPENBMS_HEALTH_MAX_LOOP_LAG": "nan"})
    with pytest.raises(ValueError, match="min_free_percent must be at most 100"):
        HealthLimits(min_free_percent=150)
    with pytest.raises(ValueError, match="lag_interval must be more than 0"):
        HealthLimits(lag_interval=0)


async def test_health_limits_are_checked_when_the_runtime_is_built(tmp_path, monkeypatch):
    from openbms.errors import OpenBMSError

    monkeypatch.setenv("OPENBMS_HEALTH_MIN_FREE_PERCENT", "-1")
    with pytest.raises(OpenBMSError, match="OPENBMS_HEALTH_"):
        Runtime([], tmp_path / "data")


async def test_the_disk_check_uses_percent_or_megabytes_whichever_is_stricter(tmp_path):
    with small_disk(tmp_path / "disk", "8m") as disk:
        async with SQLiteHistorian(disk.path / "h.db") as historian:
            by_mb = HealthMonitor(disk.path, historian, HealthLimits(min_free_mb=100, min_free_percent=0))
            by_pct = HealthMonitor(disk.path, historian, HealthLimits(min_free_mb=0, min_free_percent=50))
            neither = HealthMonitor(disk.path, historian, HealthLimits(min_free_mb=1, min_free_percent=1))
            for m in (by_mb, by_pct, neither):
                await asyncio.to_thread(m.disk.probe)
            assert by_mb.check()["disk"]["status"] == "degraded"  # 8 MB < 100 MB
            assert "below 100 MB" in by_mb.check()["disk"]["reasons"][0]
            assert by_pct.check()["disk"]["status"] == "ok"  # nearly all of it is free
            assert neither.check()["disk"]["status"] == "ok"
            disk.fill()
            for m in (by_pct, neither):
                await asyncio.to_thread(m.disk.probe)
            assert by_pct.check()["disk"]["status"] == "degraded"
            assert neither.check()["disk"]["status"] == "degraded"
            assert by_pct.check()["disk"]["free_percent"] == 0
            disk.free()


async def test_a_backlog_near_its_bound_degrades_health_before_anything_is_dropped(tmp_path):
    from openbms.model import Sample

    # Not started: nothing writes, so the backlog only grows, as on a disk that cannot keep up.
    historian = SQLiteHistorian(tmp_path / "h.db", max_backlog=100)
    monitor = HealthMonitor(tmp_path, historian, HealthLimits(max_backlog_share=0.5))
    historian.ingest([Sample("s/e/a", 1_700_000_000.0 + i, 1.0) for i in range(50)])
    assert monitor.check()["historian"]["status"] == "ok"
    historian.ingest([Sample("s/e/a", 1_700_000_100.0, 1.0)])
    check = monitor.check()["historian"]
    assert check["status"] == "degraded" and check["dropped"] == 0
    assert check["reasons"] == ["backlog of 51 samples above 50% of its bound (100); "
                                "the oldest are dropped past it"]


async def test_the_sqlite_page_cache_comes_from_the_environment_and_bad_values_say_so(tmp_path, monkeypatch):
    from openbms.errors import OpenBMSError

    monkeypatch.setenv("OPENBMS_SQLITE_CACHE_MB", "3")
    assert Runtime([], tmp_path / "a").historian.cache_mb == 3
    monkeypatch.delenv("OPENBMS_SQLITE_CACHE_MB")
    assert Runtime([], tmp_path / "b").historian.cache_mb == 32
    for bad in ("lots", "0", "1.5"):
        monkeypatch.setenv("OPENBMS_SQLITE_CACHE_MB", bad)
        with pytest.raises(OpenBMSError, match="OPENBMS_SQLITE_CACHE_MB"):
            Runtime([], tmp_path / "c")
