"""Shared fixtures: real services on loopback, temporary databases."""

from __future__ import annotations

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


@pytest.fixture
def mosquitto() -> Iterator[MosquittoBroker]:
    """A real Mosquitto for one test (it may be stopped and started again: an outage)."""
    with mosquitto_server() as broker:
        yield broker
