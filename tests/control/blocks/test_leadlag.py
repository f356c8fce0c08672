"""Lead-lag: rotation by runtime and by calendar, failover and multi-unit demand."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from openbms.control.blocks import create_block

HOUR = 3600.0
WEEK = 7 * 86400.0
MONDAY_0600 = 4 * 86400.0 + 6 * HOUR  # 1970-01-05 was a Monday


def running(outputs, n):
    return [i for i in range(1, n + 1) if outputs[f"run_{i}"]]


def test_runtime_rotation_from_internally_counted_hours():
    block = create_block("leadlag", {"n": 2, "threshold_h": 10.0})
    leads = []
    for k in range(0, 40 * 60 + 1):  # 40 h, one step a minute
        out = block.step(k * 60.0, {"demand": True})
        leads.append(out["lead"])
        assert len(running(out, 2)) == 1
    changes = [k for k in range(1, len(leads)) if leads[k] != leads[k - 1]]
    # unit 1 runs until it is 10 h ahead, then unit 2 until it is 10 h ahead (at 30 h), and so on
    assert leads[0] == 1
    assert [k / 60 for k in changes] == pytest.approx([10.0, 30.0], abs=2 / 60)
    state = block.state()
    assert state["hours_1"] == pytest.approx(20.0, abs=0.1)
    assert state["hours_2"] == pytest.approx(20.0, abs=0.1)


def test_runtime_inputs_pick_the_least_used_lead_and_order_lags_by_runtime():
    block = create_block("leadlag", {"n": 3})
    runtimes = {"runtime_1": 500.0, "runtime_2": 100.0, "runtime_3": 300.0}
    out = block.step(0.0, {"demand": 2, **runtimes})
    assert out["lead"] == 2
    assert running(out, 3) == [2, 3]
    out = block.step(60.0, {"demand": 3, **runtimes})
    assert running(out, 3) == [1, 2, 3]


def test_runtime_lead_does_not_flap_within_the_threshold():
    block = create_block("leadlag", {"n": 2, "threshold_h": 24.0})
    assert block.step(0.0, {"demand": 1, "runtime_1": 100.0, "runtime_2": 110.0})["lead"] == 1
    assert block.step(1.0, {"demand": 1, "runtime_1": 130.0, "runtime_2": 110.0})["lead"] == 1  # 20 h apart
    assert block.step(2.0, {"demand": 1, "runtime_1": 134.5, "runtime_2": 110.0})["lead"] == 2  # 24.5 h apart


def test_calendar_rotation_weekly_on_monday_morning_utc():
    params = {"n": 3, "mode": "calendar", "rotate_every_s": WEEK, "rotate_offset_s": MONDAY_0600}
    block = create_block("leadlag", params)
    monday = datetime(2024, 6, 3, 6, 0, tzinfo=UTC).timestamp()
    assert datetime.fromtimestamp(monday, UTC).weekday() == 0
    before = block.step(monday - 1.0, {"demand": 1})["lead"]
    at = block.step(monday, {"demand": 1})["lead"]
    week_later = block.step(monday + WEEK - 1.0, {"demand": 1})["lead"]
    next_week = block.step(monday + WEEK, {"demand": 1})["lead"]
    assert isinstance(before, int)
    assert at == before % 3 + 1
    assert week_later == at
    assert next_week == at % 3 + 1
    # the lead is a pure function of the time: a new block (a restart) agrees
    assert create_block("leadlag", params).step(monday + WEEK, {"demand": 1})["lead"] == next_week


def test_calendar_lags_follow_the_lead_cyclically():
    block = create_block("leadlag", {"n": 4, "mode": "calendar", "rotate_every_s": 100.0})
    out = block.step(250.0, {"demand": 3})  # third period: unit 3 leads
    assert out["lead"] == 3
    assert running(out, 4) == [1, 3, 4]  # 3, 4, then 1


def test_failover_when_the_lead_faults_and_return_when_it_clears():
    block = create_block("leadlag", {"n": 3})
    assert running(block.step(0.0, {"demand": 1}), 3) == [1]
    failed = block.step(10.0, {"demand": 1, "fault_1": True})
    assert running(failed, 3) == [2]  # in the same step
    assert failed["lead"] == 2
    failed = block.step(20.0, {"demand": 1, "fault_1": True, "fault_2": True})
    assert running(failed, 3) == [3]
    back = block.step(30.0, {"demand": 1, "fault_1": False})
    assert running(back, 3) == [1]
    assert back["lead"] == 1


def test_two_units_demanded_with_a_faulted_lag():
    block = create_block("leadlag", {"n": 3, "mode": "calendar", "rotate_every_s": 1000.0})
    out = block.step(0.0, {"demand": 2, "fault_2": True})
    assert running(out, 3) == [1, 3]


def test_more_demand_than_healthy_units_runs_every_healthy_unit():
    block = create_block("leadlag", {"n": 3})
    assert running(block.step(0.0, {"demand": 5, "fault_3": True}), 3) == [1, 2]


def test_all_units_faulted_runs_nothing_and_reports_lead_zero():
    block = create_block("leadlag", {"n": 2})
    out = block.step(0.0, {"demand": 1, "fault_1": True, "fault_2": True})
    assert out == {"run_1": False, "run_2": False, "lead": 0}


@pytest.mark.parametrize(
    ("demand", "units"), [(True, 1), (False, 0), (0, 0), (0.2, 1), (1.0, 1), (1.2, 2), (-1, 0), ("on", 1)]
)
def test_demand_as_bool_or_number_of_units(demand, units):
    block = create_block("leadlag", {"n": 3})
    assert len(running(block.step(0.0, {"demand": demand}), 3)) == units


def test_unknown_demand_holds_and_unknown_fault_counts_as_healthy():
    block = create_block("leadlag", {"n": 2})
    block.step(0.0, {"demand": 2})
    assert running(block.step(1.0, {"demand": None}), 2) == [1, 2]
    assert running(block.step(2.0, {"demand": 1, "fault_1": None}), 2) == [1]


def test_only_the_configured_units_are_outputs():
    block = create_block("leadlag", {"n": 3})
    assert set(block.step(0.0, {"demand": 1})) == {"run_1", "run_2", "run_3", "lead"}
    assert set(block.active_inputs()) == {
        "demand",
        *(f"{p}_{i}" for p in ("fault", "runtime") for i in (1, 2, 3)),
    }


def test_runtime_hours_survive_a_redeploy():
    block = create_block("leadlag", {"n": 2, "threshold_h": 1.0})
    for k in range(0, 61):
        block.step(k * 60.0, {"demand": 1})
    again = create_block("leadlag", {"n": 2, "threshold_h": 1.0})
    again.restore(block.state())
    assert again.step(3660.0, {"demand": 1}) == block.step(3660.0, {"demand": 1})


@pytest.mark.parametrize("n", [1, 9])
def test_unit_count_is_bounded(n):
    with pytest.raises(ValueError, match="parameter 'n'"):
        create_block("leadlag", {"n": n})


def test_runtime_mode_does_not_swap_the_lag_every_step():
    # With runtimes close, the lag used to alternate every minute (AB, AC, AB, AC…): short cycling.
    block = create_block("leadlag", {"n": 3})
    seen = {tuple(running(block.step(1000.0 + 60 * k, {"demand": 2}), 3)) for k in range(12)}
    assert seen == {(1, 2)}


@pytest.mark.parametrize(("n", "demand"), [(3, 2), (4, 2), (4, 3)])
def test_runtime_mode_swaps_units_only_past_the_threshold(n, demand):
    threshold = 2.0
    block = create_block("leadlag", {"n": n, "threshold_h": threshold})
    changes, previous = [], None
    for k in range(0, 12 * 60 + 1):  # 12 h, one step a minute
        units = running(block.step(k * 60.0, {"demand": demand}), n)
        assert len(units) == demand
        if units != previous:
            changes.append(k / 60)
            previous = units
    assert changes[0] == 0.0 and len(changes) > 2  # it does rotate
    gaps = [b - a for a, b in itertools.pairwise(changes)]
    assert min(gaps) >= threshold  # no swap until a unit is threshold_h ahead
    hours = [block.state()[f"hours_{i}"] for i in range(1, n + 1)]
    assert max(hours) - min(hours) <= threshold + 0.1  # and the runtimes stay balanced


def test_runtime_mode_keeps_running_lags_when_demand_changes():
    block = create_block("leadlag", {"n": 4})
    runtimes = {"runtime_1": 10.0, "runtime_2": 30.0, "runtime_3": 20.0, "runtime_4": 0.0}
    assert running(block.step(0.0, {"demand": 1, **runtimes}), 4) == [4]
    assert running(block.step(60.0, {"demand": 2, **runtimes}), 4) == [1, 4]  # the least-run idle unit starts
    assert running(block.step(120.0, {"demand": 3, **runtimes}), 4) == [1, 3, 4]
    # Demand falls: the running lag that has run most stops, the others carry on.
    assert running(block.step(180.0, {"demand": 2, **runtimes}), 4) == [1, 4]
    # A faulted lag is replaced, and its return does not take the place back.
    assert running(block.step(240.0, {"demand": 2, "fault_1": True, **runtimes}), 4) == [3, 4]
    assert running(block.step(300.0, {"demand": 2, **runtimes}), 4) == [3, 4]
