"""Shared fixtures: real services on loopback, temporary databases."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.fixtures.services import MosquittoBroker, mosquitto_server, postgres_server


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL for the session (skipped, or failed in CI, when unavailable)."""
    with postgres_server() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A new SQLite state database."""
    return f"sqlite:///{tmp_path / 'state.db'}"


#: Modules that use the demo's fixed addresses (127.0.20.x, its client port 47809) or look for
#: a running demo there: under pytest-xdist (make test) they run one after another on one worker.
_DEMO_ADDRESSES = ("tests/cli/test_demo.py", "tests/cli/test_bench_soak.py",
                   "tests/cli/test_sim_fault.py", "tests/sim/building/test_demo_site.py")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group tests for pytest-xdist (``--dist loadgroup``): those that share fixed addresses on
    one worker, and the browser tests on one worker, which starts their session's demo building
    and Chromium once (each worker would start its own).

    First of the hook's implementations: xdist's own (on each worker) reads the groups' marks,
    and it ran before this one, so these groups were never kept together."""
    for item in items:
        if item.nodeid.startswith(_DEMO_ADDRESSES):
            item.add_marker(pytest.mark.xdist_group("demo-addresses"))
        elif item.nodeid.startswith("tests/e2e/"):
            item.add_marker(pytest.mark.xdist_group("e2e"))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Under ``--dist loadgroup``, check that xdist kept the groups (on each worker, its hook has
    put ``@group`` on the node ids by now). They were lost, silently, when the marks came after
    xdist's hook, and are with pytest 9.2 (pytest-xdist #1386): the demo's tests then ran side by
    side on its fixed addresses and ports, and failed now and then."""
    if not getattr(session.config.option, "loadgroup", False):  # not a worker of --dist loadgroup
        return
    lost = [i.nodeid for i in session.items if i.get_closest_marker("xdist_group") and "@" not in i.nodeid]
    if lost:
        raise pytest.UsageError(f"pytest-xdist did not group {len(lost)} tests (e.g. {lost[0]}): the marks "
                                "come too late, or this pytest breaks --dist loadgroup (pytest-xdist #1386: "
                                "pytest<9.2 works)")


@pytest.fixture(autouse=True)
def _cli_width_follows_columns() -> None:
    """The CLI's rich consoles freeze COLUMNS as it was when they were made (at collection,
    in whatever environment the worker has); tests give COLUMNS per invocation."""
    common = sys.modules.get("openbms.cli.common")
    if common is not None:
        for console in (common.console, common.err_console):
            console._width = None


@pytest.fixture
def mosquitto() -> Iterator[MosquittoBroker]:
    """A real Mosquitto for one test (it may be stopped and started again: an outage)."""
    with mosquitto_server() as broker:
        yield broker
