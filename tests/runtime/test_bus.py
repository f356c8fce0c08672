"""The bus: routing by pattern, backpressure by coalescing, isolation of failing subscribers."""

from __future__ import annotations

import asyncio

from openbms.model import Sample
from openbms.runtime.bus import Bus

T0 = 1_700_000_000.0


def batch(points, ts, value=0.0):
    return [Sample(p, ts, value) for p in points]


def test_wildcard_callback_gets_the_published_batch_itself():
    bus = Bus()
    got = []
    bus.subscribe_callback("*", got.append)
    b = batch(["a/b/c", "a/b/d"], T0)
    bus.publish(b)
    assert got == [b] and got[0] is b


def test_patterns_route_only_matching_points_and_several_patterns_work():
    bus = Bus()
    ahu, sat = [], []
    bus.subscribe_callback("hq/ahu-1/*", ahu.extend)
    bus.subscribe_callback(["*/sat", "*/oat"], sat.extend)
    bus.publish(batch(["hq/ahu-1/sat", "hq/ahu-1/fan", "hq/vav-1/zt", "hq/weather/oat"], T0))
    assert [s.point for s in ahu] == ["hq/ahu-1/sat", "hq/ahu-1/fan"]
    assert [s.point for s in sat] == ["hq/ahu-1/sat", "hq/weather/oat"]


def test_a_failing_callback_is_counted_and_does_not_stop_the_others():
    bus = Bus()
    good = []

    def bad(_):
        raise RuntimeError("boom")

    bus.subscribe_callback("*", bad, name="bad")
    bus.subscribe_callback("*", good.extend, name="good")
    bus.publish(batch(["a/b/c"], T0))
    bus.publish(batch(["a/b/c"], T0 + 1))
    assert len(good) == 2
    assert bus.stats().subscribers["bad"]["errors"] == 2


async def test_stalled_subscriber_is_bounded_counts_its_drops_and_others_get_everything():
    bus = Bus()
    points = [f"s/e/p{i}" for i in range(10_000)]
    everything = []
    bus.subscribe_callback("*", lambda b: everything.append(len(b)), name="historian")
    stalled = bus.subscribe("*", maxlen=50_000, name="browser")
    partial = bus.subscribe("s/e/p1*", maxlen=100, name="partial")
    rounds = 100
    for r in range(rounds):  # 1 000 000 samples, nobody reads 'stalled'
        bus.publish(batch(points, T0 + r, float(r)))
        assert len(stalled) <= 50_000 + len(points)
    assert sum(everything) == rounds * len(points)
    got = stalled.get_nowait()
    assert stalled.dropped == rounds * len(points) - len(got)
    # What is left: the first 50 000 queued, then the newest value of every point.
    newest = {s.point: s for s in got[50_000:]}
    assert len(newest) == len(points) and all(s.value == rounds - 1 for s in newest.values())
    # Per point, order is kept.
    for p in ("s/e/p0", "s/e/p9999"):
        ts = [s.ts for s in got if s.point == p]
        assert ts == sorted(ts)
    # Once drained it queues normally again.
    bus.publish(batch(points[:3], T0 + 1000))
    assert not stalled.coalescing and len(stalled.get_nowait()) == 3
    assert partial.dropped > 0 and len(partial) <= 100 + 1111


async def test_queue_subscriber_wakes_on_publish_and_ends_when_closed():
    bus = Bus()
    sub = bus.subscribe("a/*")
    received = []

    async def consume():
        async for got in sub:
            received.extend(got)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    bus.publish(batch(["a/x", "b/y"], T0))
    await asyncio.sleep(0)
    assert [s.point for s in received] == ["a/x"]
    sub.close()
    await asyncio.wait_for(task, 1)
    bus.publish(batch(["a/x"], T0 + 1))
    assert len(received) == 1


def test_coalescing_never_replaces_a_newer_sample_with_a_late_one():
    bus = Bus()
    sub = bus.subscribe("*", maxlen=1)
    bus.publish([Sample("a/b/c", T0, 1.0)])
    bus.publish([Sample("a/b/c", T0 + 10, 2.0)])
    bus.publish([Sample("a/b/c", T0 + 5, 3.0)])  # late
    got = sub.get_nowait()
    assert [s.value for s in got] == [1.0, 2.0]
    assert sub.dropped == 1


async def test_events_are_bounded_and_routed_by_topic():
    bus = Bus()
    alarms = bus.subscribe_events("alarm.*", maxlen=2)
    for i in range(3):
        bus.publish_event("alarm.raised", {"n": i})
    bus.publish_event("command.completed", {"n": 9})
    assert await alarms.get() == ("alarm.raised", {"n": 1})
    assert alarms.dropped == 1


def test_point_ids_route_by_lookup_and_globs_by_fnmatch(monkeypatch):
    # Before: every pattern went through fnmatch for each new point: a subscriber of 1 000 point
    # ids (the alarm engine) cost 10^8 calls at 100 000 points, minutes of the event loop.
    import fnmatch

    from openbms.runtime import bus as bus_module

    calls = 0
    real = fnmatch.fnmatchcase

    def counted(name: str, pattern: str) -> bool:
        nonlocal calls
        calls += 1
        return real(name, pattern)

    monkeypatch.setattr(bus_module.fnmatch, "fnmatchcase", counted)
    bus = Bus()
    ids = [f"s/dev-{i}/ai-1" for i in range(1000)]
    got, globbed = [], []
    bus.subscribe_callback(ids, got.extend)
    bus.subscribe_callback(["s/dev-1?/ai-2"], globbed.extend)
    bus.publish(batch([f"s/dev-{i}/ai-{k}" for i in range(1000) for k in (1, 2)], T0))
    assert [s.point for s in got] == ids
    assert [s.point for s in globbed] == [f"s/dev-1{i}/ai-2" for i in range(10)]
    assert calls == 2000  # the one glob, once for each point; none for the thousand ids
