"""Registers that wrap, are replaced or read wrong once: never a negative step, never a giant one."""

from __future__ import annotations

import pytest

from openbms.analytics.energy import Meter, MeterSeries, Replacement, register_steps, window_kwh
from openbms.historian.base import RollupRow


def hours(readings: list[float]) -> list[RollupRow]:
    """One reading an hour, at :59:00 (each hour's last), starting at 0."""
    return [RollupRow("p", 3600.0 * i, 1, v, v, v, None, 3600.0, v, 3600.0 * i + 3540)
            for i, v in enumerate(readings)]


def test_a_register_that_wraps_at_its_rollover_counts_across_the_wrap():
    # A six-digit register shows 999 999 then 0: it wraps at 1 000 000.
    meter = Meter("register", 1.0, rollover=1_000_000)
    series = MeterSeries(meter, hours([999_980, 999_995, 10, 30]))
    # 999 995 → 10 is 5 to the wrap and 10 after it: 15, not −999 985 and not unknown.
    assert register_steps(meter, [0, 1, 2, 3], [999_980, 999_995, 10, 30]) == [15, 15, 20]
    assert series.energy(3540, 3 * 3600 + 3540) == pytest.approx(15 + 15 + 20)
    # Without the rollover the drop is unknown (a reset), never negative.
    plain = MeterSeries(Meter("register", 1.0), hours([999_980, 999_995, 10, 30]))
    assert plain.energy(3540, 3 * 3600 + 3540) == pytest.approx(15 + 20)


def test_a_32_bit_count_wraps_at_2_to_the_32_times_its_scale():
    # A 32-bit Wh count scaled by 0.001 to kWh in the point: it wraps at 2^32 × 0.001 kWh.
    top = 2**32 * 0.001
    meter = Meter("register", 1.0, rollover=top)
    assert register_steps(meter, [0, 1], [top - 2.5, 1.5]) == pytest.approx([4.0])


def test_a_replaced_meter_counts_from_its_new_reading_with_no_spike():
    # The old meter read 52 000; the new one starts near zero. With a rollover configured the drop
    # is no wrap either (the wrapped difference, 948 003, is more than half the range).
    for meter in (Meter("register", 1.0), Meter("register", 1.0, rollover=1_000_000)):
        steps = register_steps(meter, [0, 1, 2, 3], [51_990, 52_000, 3, 11])
        assert steps == [10, None, 8]  # the change's own step is unknown; after it, the new meter counts
    series = MeterSeries(Meter("register", 1.0), hours([51_990, 52_000, 3, 11, 20]))
    assert series.energy(3540, 4 * 3600 + 3540) == pytest.approx(10 + 8 + 9)


def test_a_configured_replacement_counts_both_meters_exactly():
    # Replaced at 01:30: the old meter read 52 004 when taken out, the new one 2 when put in.
    swap = Replacement(at=5400, old_final=52_004, new_initial=2)
    meter = Meter("register", 1.0, replacements=(swap,))
    steps = register_steps(meter, [3540, 7140, 10740], [52_000, 3, 11])
    assert steps == [(52_004 - 52_000) + (3 - 2), 8]


def test_a_register_read_as_zero_once_is_not_counted_twice():
    # 5 000, then a bad 0, then 5 001: one kWh, not the 5 001 "counted from the new meter".
    meter = Meter("register", 1.0)
    steps = register_steps(meter, [0, 600, 1200, 1800], [5_000, 0, 5_001, 5_003])
    assert steps == [None, 1, 2]
    series = MeterSeries(meter, hours([4_990, 5_000, 0, 5_001, 5_003]))
    assert series.energy(0, 5 * 3600) == pytest.approx(10 + 1 + 2)
    # A dip that stays low past GAP is a replacement: the readings after it count from it.
    assert register_steps(meter, [0, 3600, 7200, 10800], [5_000, 0, 4, 6]) == [None, 4, 2]


def test_no_step_is_ever_negative_or_a_whole_reading():
    meter = Meter("register", 1.0, rollover=1_000_000)
    readings = [10.0, 20, 5, 30, 999_990, 20, 15, 40, 0, 999_999, 3]
    steps = register_steps(meter, list(range(len(readings))), readings)
    known = [s for s in steps if s is not None]
    # Each known step is a real rise or a wrap: 10, 10 (back past 20 from the dip at 5), 30 (to the
    # wrap from 999 990 and on to 20), 20 (40, back past the 20 before the dip to 15), 4 (999 999 → 3);
    # the jumps up to 999 990 and 999 999, and the drops to 15 and 0, are unknown.
    assert steps == [10, None, 10, None, 30, None, 20, None, None, 4]
    assert all(s >= 0 for s in known) and max(known) <= 30


def test_peak_windows_of_a_register_cross_a_wrap():
    # Readings every 5 minutes, 1 kWh each, wrapping at 100.
    meter = Meter("register", 1.0, rollover=100)
    samples = [(300.0 * i, float((95 + i) % 100)) for i in range(13)]
    assert window_kwh(meter, samples, 0, 3600, 900) == [3, 3, 3, 3]
