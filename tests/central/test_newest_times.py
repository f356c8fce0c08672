"""Each site's lag at the centre from one row a site (``central_newest``), which every ingest
worker keeps: the later time wins whichever worker writes, and the centre's view reads it instead
of every point's latest value (read once, at its first look, for the sites no worker wrote);
real Mosquitto and PostgreSQL."""

from __future__ import annotations

import asyncio

import orjson

from openbms.central.remote import CentralView
from openbms.central.store import CentralStore
from openbms.central.worker import libpq_url
from openbms.runtime.clock import ManualClock
from tests.central.test_ingest import T0, publish, workers
from tests.historian.conftest import fresh_postgres_database
from tests.integration.mqtt_helpers import until


def _batch(site: str, *times: float) -> bytes:
    return orjson.dumps({"site": site, "device": "d", "samples": [
        {"point": f"{site}/e/p", "value": 1.0, "status": "ok", "time": t} for t in times]})


async def test_the_workers_keep_each_sites_newest_time_and_the_view_reads_it(
        mosquitto, postgres_url) -> None:
    url = fresh_postgres_database(postgres_url)
    clock = ManualClock(T0 + 100.0)
    async with workers(mosquitto, url, n=2, clock=clock) as ws:
        for w in ws:
            assert w.ingest is not None
            w.ingest.newest_every = 0.05
        await publish(mosquitto, ("openbms/a/devices/d", _batch("a", T0 + 40.0, T0 + 10.0)),
                      ("openbms/b/devices/d", _batch("b", T0 + 90.0)),
                      ("openbms/a/devices/d", _batch("a", T0 + 20.0)))  # older, late
        store = CentralStore(libpq_url(url))
        await store.start()
        try:
            await until(lambda: sum(w.ingest.samples for w in ws if w.ingest) == 4,
                        what="4 samples")

            async def times() -> dict[str, float]:
                return await store.newest_times()

            found: dict[str, float] = {}

            async def both() -> bool:
                found.update(await times())
                return found == {"a": T0 + 40.0, "b": T0 + 90.0}

            for _ in range(400):
                if await both():
                    break
                await asyncio.sleep(0.05)
            # an older time written later by another worker does not go back
            await store.put_newest({"a": T0 + 5.0}, now=clock.now())
            assert (await times())["a"] == T0 + 40.0
            view = CentralView(store, clock, warn_s=300.0)
            view.serve("a", {})
            view.serve("b", {})
            await view.refresh_lag()  # the first look: the table and every point's latest value
            first = view.site_lag("a")
            await store.put_newest({"a": T0 + 95.0}, now=clock.now())  # a newer sample since
            await view.refresh_lag()  # the table only
            second = view.site_lag("a")
            # a site only the slow query knows (no worker wrote it: before an upgrade) is kept
            # in the table by the first read, so the next reads still know it
            await store._execute("DELETE FROM central_newest WHERE site = 'b'", ())
            fresh = CentralView(store, clock, warn_s=300.0)
            fresh.serve("b", {})
            await fresh.refresh_lag()
            await fresh.refresh_lag()
            silent = fresh.site_lag("b")
            # a time written by a worker whose clock ran a year ahead is not kept for good
            await store.put_newest({"a": T0 + 3e7}, now=T0 + 3e7)
            await store.put_newest({"a": T0 + 99.0}, now=clock.now())
            after_skew = (await times())["a"]
        finally:
            await store.stop()
    assert found == {"a": T0 + 40.0, "b": T0 + 90.0}
    assert first is not None and first.newest == T0 + 40.0 and first.lag_s == 60.0
    assert second is not None and second.newest == T0 + 95.0 and second.lag_s == 5.0
    assert silent is not None and silent.newest == T0 + 90.0
    assert after_skew == T0 + 99.0
