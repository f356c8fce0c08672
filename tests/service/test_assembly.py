"""The one assembly: a site's parts built from its configuration, the only bus wiring, stopped in reverse."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from tests.fixtures.waiting import eventually

from openbms.config import load_sites
from openbms.control.programs import Program, ProgramEngine
from openbms.historian.sqlite import SQLiteHistorian
from openbms.model import SiteConfig, parse_binding
from openbms.runtime.clock import ManualClock
from openbms.service.assembly import Assembly
from openbms.service.runtime import Runtime

SITE = """\
site: {id: t, timezone: Europe/London}
drivers:
  sim: {poll_interval: 1}
equipment:
  - id: ahu
    points:
      - {name: sat, unit: degC, binding: "sim://ahu/sat?wave=constant&value=35"}
      - name: occ
        kind: bool
        writable: true
        relinquish_default: false
        binding: "sim://ahu/occ?wave=constant&value=0&kind=bool"
alarms:
  - {id: sat-high, type: high, point: t/ahu/sat, limit: 30, deadband: 1, on_delay_s: 5}
"""

START = dt.datetime(2026, 11, 30, 6, 59, tzinfo=dt.UTC).timestamp()


def _site() -> SiteConfig:
    return SiteConfig.model_validate({"site": {"id": "s"}, "drivers": {"sim": {"poll_interval": 5}},
                                      "equipment": [{"id": "u", "points": [
        {"name": "x", "unit": "degC", "binding": "sim://u/x?wave=constant&value=20"},
        {"name": "y", "unit": "%", "writable": True, "limits": {"min": 0, "max": 100},
         "binding": "sim://u/y?wave=constant&value=0"},
    ]}]})


def _program() -> Program:
    """y = 2·x, clipped to 0–100."""
    return Program.model_validate({
        "id": "p", "site": "s",
        "inputs": [{"id": "x", "point": "s/u/x"}],
        "blocks": [{"id": "scale", "block": "reset", "params": {"x1": 0, "y1": 0, "x2": 50, "y2": 100}}],
        "outputs": [{"id": "y", "point": "s/u/y"}],
        "wires": [{"from": "x", "to": "scale.x"}, {"from": "scale.out", "to": "y"}]})


async def test_a_site_is_assembled_from_its_configuration_and_a_polled_sample_reaches_every_part(tmp_path):
    clock = ManualClock(START)
    assembly = Assembly([_site()], clock)
    historian = SQLiteHistorian(tmp_path / "history.db", clock=clock)

    async def load(engine: ProgramEngine) -> None:
        engine.load(_program(), 1)

    try:
        await assembly.start_history(historian)
        await assembly.start_drivers()
        await assembly.start_arbiter()
        await assembly.start_site_services()
        await assembly.start_programs(load, ticking=False)
        assert assembly.subscriptions == ["historian", "cache", "arbiter", "programs"]
        assert set(assembly.bus.stats().subscribers) == set(assembly.subscriptions)
        assert sorted(assembly.drivers) == ["sim"]
        for _ in range(6):  # past the first poll of every point
            await clock.advance(1)
        arbiter = assembly.arbiter
        assert arbiter is not None
        await eventually(lambda: arbiter.effective("s/u/y") == 40.0, "the program's command")
        y = parse_binding("sim://u/y?wave=constant&value=0")
        sim = assembly.drivers["sim"]
        await eventually(lambda: 40.0 in sim.priority_array(y), "the write reaching the device")
        assert assembly.cache.get("s/u/x") is not None
        assert historian.stats().received >= 2
    finally:
        await assembly.stop()
    assert historian.stats().stored >= 2  # stopped by the assembly's stop, so flushed


async def test_the_runtime_subscribes_to_the_bus_only_through_its_assembly(tmp_path):
    (tmp_path / "site.yaml").write_text(SITE)
    clock = ManualClock(START)
    rt = Runtime(load_sites(tmp_path), tmp_path / "data", clock=clock)
    await rt.start()
    try:
        assert isinstance(rt.assembly, Assembly)
        assert rt.assembly.subscriptions == ["historian", "cache", "arbiter", "alarms t", "programs"]
        # Nothing on the bus that the assembly did not put there.
        assert set(rt.bus.stats().subscribers) == set(rt.assembly.subscriptions)
        assert rt.arbiter is rt.assembly.arbiter and rt.manager is rt.assembly.manager
        assert rt.cache is rt.assembly.cache and rt.programs is rt.assembly.programs
        for _ in range(3):
            await clock.advance(1)
        await eventually(lambda: rt.cache.get("t/ahu/sat") is not None, "a polled sample in the cache")
        await eventually(lambda: all(s["delivered"] > 0 for s in rt.bus.stats().subscribers.values()),
                         "samples delivered to every subscriber")
    finally:
        await rt.stop()
    assert "alarms t" not in rt.assembly.subscriptions  # the alarm service let go of the bus


async def test_stop_undoes_every_step_in_reverse_and_one_that_fails_stops_nothing_else(caplog):
    assembly = Assembly([], ManualClock(START))
    stopped: list[str] = []

    async def third() -> None:
        stopped.append("third")

    def second() -> None:
        stopped.append("second")
        raise OSError("disk gone")

    assembly.on_stop("first", lambda: stopped.append("first"))
    assembly.on_stop("second", second)
    assembly.on_stop("third", third)
    with caplog.at_level(logging.ERROR, logger="openbms.service.assembly"):
        await assembly.stop()
        await assembly.stop()  # twice: nothing left to undo
    assert stopped == ["third", "second", "first"]
    assert [r.getMessage() for r in caplog.records] == ["error while stopping second"]


async def test_steps_out_of_order_say_which_comes_first():
    assembly = Assembly([_site()], ManualClock(START))
    with pytest.raises(RuntimeError, match="start_drivers comes before start_arbiter"):
        await assembly.start_arbiter()
    with pytest.raises(RuntimeError, match="start_arbiter comes before start_programs"):
        await assembly.start_programs()
    assert assembly.subscriptions == []


async def test_a_minimum_interval_slows_every_poll_and_a_disabled_driver_is_not_polled():
    cfg = _site()
    assembly = Assembly([cfg], ManualClock(START))
    try:
        await assembly.start_drivers(min_interval=60.0, poll=False)
        assert [(b.point, b.interval) for b in assembly.bindings()[0]] == [("s/u/x", 60.0), ("s/u/y", 60.0)]
    finally:
        await assembly.stop()
    disabled = cfg.drivers["sim"].model_copy(update={"enabled": False})
    off = cfg.model_copy(update={"drivers": {"sim": disabled}})
    assert Assembly([off], ManualClock(START)).bindings()[0] == []
