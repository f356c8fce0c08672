"""Issue 18's acceptance: a fault injected in the emulated office is a consumption anomaly within a day,
and a normal fortnight raises none.

The office of ``openbms sim meters`` under its conventional sequence, January, temperate climate, seed 0,
29 days: each of days 15 to 28 is judged on the days before it (two weeks at least) and raises nothing
on either meter, and on the 29th the air handler's outdoor-air damper sticks fully open at midnight (the
economiser fault: the heating coil warms outdoor air all day). One run (about 25 s of emulation on an
idle core) gives both. Normal fortnights under more weather seeds, too long for the suite, are in
docs/analytics.md; tests/analytics/test_anomaly.py judges a normal week of generated data.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from openbms.analytics.anomaly import judge_day
from openbms.bench.analytics_emulator import zone_of
from openbms.sim.building.meters import FAULTS, MeterHours, simulate_hours

START = date(2025, 1, 1)
FAULT_DAY = date(2025, 1, 29)
FORTNIGHT = [FAULT_DAY - timedelta(days=n) for n in range(14, 0, -1)]  # the 15th to the 28th
ARGS = {"seed": 0, "climate": "temperate", "step": 900.0}

pytestmark = pytest.mark.xdist_group("emulator-anomaly")  # the run once, in one worker


@pytest.fixture(scope="module")
def run() -> MeterHours:
    return simulate_hours(29, START, faults=[(FAULT_DAY, FAULTS["stuck-open-oa-damper"])],
                          **ARGS)  # type: ignore[arg-type]


def test_a_normal_fortnight_of_the_emulators_office_raises_nothing(run: MeterHours) -> None:
    zone = zone_of(run.utc_offset)
    found = {(meter, day): judge_day(run.ts, run.energy(meter), run.temperature, zone, day, name=meter)
             for meter in ("electricity", "gas") for day in FORTNIGHT}
    assert all(f is not None for f in found.values())  # every day judged, none skipped
    assert {k: f for k, f in found.items() if f} == {}


def test_a_stuck_open_outdoor_air_damper_is_a_consumption_anomaly_on_its_first_day(run: MeterHours) -> None:
    zone = zone_of(run.utc_offset)
    found = judge_day(run.ts, run.gas, run.temperature, zone, FAULT_DAY, name="Gas meter")
    assert found is not None and [f.kind for f in found] == ["consumption"]
    f = found[0]
    assert f.actual_kwh is not None and f.expected_kwh is not None
    assert f.actual_kwh > 1.5 * f.expected_kwh and f.score > f.threshold
    assert "Gas meter used" in f.message and "more than" in f.message
