"""open_historian: the store a URL or a path names, and a clear refusal of anything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from openbms.errors import HistorianError, OpenBMSError
from openbms.historian import Historian, open_historian
from openbms.historian.postgres import PostgresHistorian
from openbms.historian.sqlite import SQLiteHistorian
from openbms.model import Sample
from openbms.runtime.clock import ManualClock

T0 = 1_700_000_000.0


@pytest.mark.parametrize("form", ["url", "path", "str"])
async def test_an_sqlite_url_or_a_path_opens_the_sqlite_store_with_the_clock_given(tmp_path, form):
    path = tmp_path / "h.db"
    where = {"url": f"sqlite:///{path}", "path": path, "str": str(path)}[form]
    clock = ManualClock(T0)
    h = open_historian(where, clock=clock, flush_interval=0.5)
    assert isinstance(h, SQLiteHistorian)
    assert (h.path, h.clock, h.flush_interval, h.readonly) == (path, clock, 0.5, False)
    async with h:
        h.ingest([Sample("s/e/a", T0, 1.0)])
    assert path.exists()


def test_a_relative_sqlite_url_is_relative_as_in_sqlalchemy():
    h = open_historian("sqlite:///data/history.db")
    assert isinstance(h, SQLiteHistorian) and h.path == Path("data/history.db")


async def test_readonly_opens_beside_the_owner(tmp_path):
    path = tmp_path / "h.db"
    async with open_historian(path, clock=ManualClock(T0)) as owner:
        owner.ingest([Sample("s/e/a", T0, 1.0)])
        await owner.flush()
        reader: Historian = open_historian(f"sqlite:///{path}", readonly=True)
        async with reader:
            assert await reader.raw("s/e/a", 0, 2e9) == [Sample("s/e/a", T0, 1.0)]


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://openbms:s3cret@db.example/openbms",
     "scheme 'mysql' is not supported; expected one of sqlite:///PATH, postgresql://USER@HOST/DB "
     "or a file path"),
    ("postgresql://", "postgresql://USER@HOST[:PORT]/DB (no host given)"),
    ("mqtt://broker/history", "scheme 'mqtt' is not supported"),
    ("sqlite://h.db", "sqlite:///PATH (three slashes"),
    ("sqlite:///", "needs a file"),
    ("sqlite:///:memory:", "needs a file"),
    ("sqlite:///h.db?cache=shared", "takes no ?query"),
    ("  ", "empty location"),
])
def test_anything_else_is_refused_saying_what_is_supported_without_repeating_a_password(url, says):
    with pytest.raises(HistorianError) as info:
        open_historian(url)
    assert says in str(info.value)
    assert "s3cret" not in str(info.value)
    assert isinstance(info.value, OpenBMSError)


def test_an_unknown_or_bad_option_is_refused_naming_the_options_there_are(tmp_path):
    expected = r"unknown option flush_intervall; expected flush_count, flush_interval"
    with pytest.raises(HistorianError, match=expected):
        open_historian(tmp_path / "h.db", flush_intervall=1.0)
    with pytest.raises(HistorianError, match=r"SQLite history store: max_hold must be in \(0, 3600\]"):
        open_historian(tmp_path / "h.db", max_hold=0)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_a_postgresql_url_opens_the_postgres_store_with_a_libpq_url(scheme):
    clock = ManualClock(T0)
    h = open_historian(f"{scheme}://openbms:s3cret@db.example:5433/bms?sslmode=require",
                       clock=clock, flush_interval=0.5, partitions_ahead=4)
    assert isinstance(h, PostgresHistorian) and isinstance(h, Historian)
    assert h.conninfo == "postgresql://openbms:s3cret@db.example:5433/bms?sslmode=require"
    assert (h.clock, h.flush_interval, h.partitions_ahead, h.readonly) == (clock, 0.5, 4, False)


def test_a_bad_postgresql_option_is_refused_without_repeating_a_password():
    with pytest.raises(HistorianError, match=r"PostgreSQL history store: unknown option cache_mb; "
                                             r"expected flush_count, flush_interval") as info:
        open_historian("postgresql://openbms:s3cret@db.example/bms", cache_mb=8)
    assert "s3cret" not in str(info.value)
    with pytest.raises(HistorianError, match=r"PostgreSQL history store: partitions_ahead must be"):
        open_historian("postgresql://openbms:s3cret@db.example/bms", partitions_ahead=-1)


async def test_an_unreachable_postgresql_server_is_a_historian_error_without_the_password():
    from tests.fixtures.services import free_port

    h = open_historian(f"postgresql://openbms:s3cret@127.0.0.1:{free_port()}/bms",
                       connect_timeout=5)
    with pytest.raises(HistorianError, match="cannot open the PostgreSQL history") as info:
        await h.start()
    assert "s3cret" not in str(info.value)
