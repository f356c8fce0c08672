"""The saturating load of ``openbms bench api``: wrk against a running API, and its report read back."""

# ruff: noqa: F811  (the live fixture is imported, then named as a parameter)
from __future__ import annotations

import os
import shutil

import pytest

from openbms.bench.api import _wrk_load
from tests.api.live import Live, live  # noqa: F401


def _wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        if os.environ.get("OPENBMS_REQUIRE_SERVICES") == "1":
            pytest.fail("wrk is not installed: apt-get install wrk")
        pytest.skip("wrk is not installed: apt-get install wrk")
    return wrk


async def test_wrk_load_reports_requests_latency_and_errors(live: Live, tmp_path):
    wrk = _wrk()
    token = live.clients["viewer"].headers["Authorization"].removeprefix("Bearer ")
    got = await _wrk_load(wrk, tmp_path, live.url, token, "/api/v1/sites/hq/points?limit=100", 4, 1)
    assert got["requests"] > 10 and got["errors"] == 0
    assert 0 < got["p50"] <= got["p95"] < 5000 and 0.5 < got["seconds"] < 10
    assert got["cpu"] > 0  # the server's own CPU, measured in this process

    # Refused requests are counted as errors, not as answers: a token of nobody gets 401s.
    refused = await _wrk_load(wrk, tmp_path, live.url, "not-a-token", "/api/v1/sites/hq/points", 2, 1)
    assert refused["errors"] == refused["requests"] > 0
