"""A NaN or infinite reading becomes a fault without a value, never a number (issue 12, item 1)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from openbms.model.sample import FAULT, OFFLINE, OK, STALE, finite_or_fault


def test_nan_and_infinities_are_faults_without_a_value():
    for bad in (math.nan, math.inf, -math.inf, float("-nan")):
        assert finite_or_fault(bad, OK) == (None, FAULT)
        assert finite_or_fault(bad, STALE) == (None, FAULT)


@given(value=st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(), st.booleans(),
                       st.text(max_size=5), st.none()),
       status=st.sampled_from([OK, STALE, FAULT, OFFLINE]))
def test_every_other_value_passes_unchanged(value, status):
    out_value, out_status = finite_or_fault(value, status)
    assert out_value is value and out_status == status
