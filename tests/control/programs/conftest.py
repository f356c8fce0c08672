"""Test-only blocks, registered in the catalogue for the test that asks for them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from openbms.control.blocks import BLOCKS
from tests.control.programs.rig import STEPS, Probe


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The ``probe`` block kind; yields the list of tags in step order."""
    monkeypatch.setitem(BLOCKS, "probe", Probe)
    STEPS.clear()
    yield STEPS
    STEPS.clear()
