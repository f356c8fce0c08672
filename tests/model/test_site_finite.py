"""Whatever numbers a point is given, a valid point holds only finite, bounded ones (issue 12, item 1)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from openbms.model.site import MAX_INTERVAL_S, MAX_VALUE, DriverSettings, Point, Site, Space

ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)
NUMBER = st.one_of(ANY_FLOAT, st.integers(min_value=-(10**20), max_value=10**20))


@given(lo=NUMBER, hi=NUMBER, default=NUMBER, poll=NUMBER, gap=NUMBER)
def test_a_valid_point_holds_only_finite_bounded_numbers(lo, hi, default, poll, gap):
    try:
        p = Point(name="sp", writable=True, relinquish_default=default, poll=poll,
                  limits={"min": lo, "max": hi, "min_interval": gap})
    except ValidationError:
        sane = all(isinstance(x, int) or math.isfinite(x) for x in (lo, hi, default, poll, gap)) and \
            abs(lo) <= MAX_VALUE and abs(hi) <= MAX_VALUE and lo <= hi and abs(default) <= MAX_VALUE \
            and 0 < poll <= MAX_INTERVAL_S and 0 <= gap <= MAX_INTERVAL_S
        assert not sane, "a sane point was refused"
        return
    assert p.limits is not None
    for value in (p.limits.min, p.limits.max, p.relinquish_default):
        assert isinstance(value, float) and math.isfinite(value) and abs(value) <= MAX_VALUE
    assert p.poll is not None and 0 < p.poll <= MAX_INTERVAL_S
    assert p.limits.min_interval is not None and 0 <= p.limits.min_interval <= MAX_INTERVAL_S


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_areas_and_driver_settings_refuse_nan_and_infinities(bad):
    with pytest.raises(ValidationError, match="finite"):
        Space(id="z", area_m2=bad)
    with pytest.raises(ValidationError, match="finite"):
        Site(id="hq", area_m2=bad)
    with pytest.raises(ValidationError, match="finite"):
        DriverSettings(poll_interval=bad)
    with pytest.raises(ValidationError, match="finite"):
        DriverSettings.model_validate({"jitter": {"max": bad}})
