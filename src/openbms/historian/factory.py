"""Pick the history store a configuration names: ``sqlite:///PATH`` or a plain path (SQLite),
or ``postgresql://USER@HOST[:PORT]/DB`` (PostgreSQL, ``historian/postgres.py``).

This is the one place a store is constructed: another store adds its scheme
here and its module beside ``sqlite.py``, implements ``Historian``
(``base.py``) and passes the conformance suite
(``tests/historian/test_conformance.py``).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from openbms.errors import HistorianError
from openbms.historian.base import Historian
from openbms.historian.sqlite import SQLiteHistorian
from openbms.runtime.clock import Clock

__all__ = ["SCHEMES", "open_historian"]

#: URL schemes open_historian understands, for error messages and documentation.
SCHEMES = ("sqlite", "postgresql")

#: Schemes of PostgreSQL URLs: libpq's two, and SQLAlchemy's with the psycopg driver named.
_PG_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")

_SQLITE_PREFIX = "sqlite:///"


def open_historian(
    url: str | Path, *, clock: Clock | None = None, readonly: bool = False, **options: Any
) -> Historian:
    """A new, not yet started history store for ``url``.

    ``url`` is ``sqlite:///PATH`` (SQLAlchemy's form: ``sqlite:///data/h.db`` is
    relative, ``sqlite:////srv/h.db`` absolute) or a file path, or
    ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?PARAMS]`` (libpq's form;
    ``postgres://`` and SQLAlchemy's ``postgresql+psycopg://`` too). ``readonly``
    opens it for queries beside the process that owns it. ``options`` are the
    store's tuning settings (for SQLite: ``flush_interval``, ``cache_mb``…,
    see ``SQLiteHistorian``). A URL of any other scheme, an SQLite URL
    without a file, or an option the store does not have raise HistorianError
    saying what is supported; the URL itself is not repeated (it may carry a
    password).
    """
    if isinstance(url, str) and url.strip().split("://", 1)[0].lower() in _PG_SCHEMES:
        return _open_postgres(url.strip(), clock=clock, readonly=readonly, **options)
    path = _sqlite_path(url)
    _check_options(SQLiteHistorian, "SQLite", options)
    try:
        store: Historian = SQLiteHistorian(path, clock=clock, readonly=readonly, **options)
    except ValueError as err:
        raise HistorianError(f"SQLite history store: {err}") from None
    return store


def _open_postgres(url: str, *, clock: Clock | None, readonly: bool, **options: Any) -> Historian:
    """The PostgreSQL store; psycopg is imported here, so SQLite users need none of it."""
    try:
        from openbms.historian.postgres import PostgresHistorian
    except ImportError as err:  # pragma: no cover - the postgres extra is part of the dev install
        raise HistorianError(
            f"PostgreSQL history store: {err}; install openbms[postgres]") from None
    rest = url.split("://", 1)[1]
    if not rest.split("?", 1)[0].strip("/"):
        raise HistorianError(
            "history store: a PostgreSQL URL is postgresql://USER@HOST[:PORT]/DB (no host given)")
    _check_options(PostgresHistorian, "PostgreSQL", options)
    try:
        return PostgresHistorian(f"postgresql://{rest}", clock=clock, readonly=readonly, **options)
    except ValueError as err:
        raise HistorianError(f"PostgreSQL history store: {err}") from None


def _sqlite_path(url: str | Path) -> Path:
    """The file an SQLite URL or a plain path names."""
    if isinstance(url, Path):
        return url
    text = url.strip()
    if "://" not in text:
        if not text:
            raise HistorianError("history store: empty location; expected sqlite:///PATH or a file path")
        return Path(text)
    scheme = text.split("://", 1)[0].lower()
    if scheme != "sqlite":
        raise HistorianError(
            f"history store: scheme {scheme!r} is not supported; expected one of "
            "sqlite:///PATH, postgresql://USER@HOST/DB or a file path"
        )
    if not text.startswith(_SQLITE_PREFIX):
        raise HistorianError(
            "history store: an SQLite URL is sqlite:///PATH (three slashes, then the file)"
        )
    rest = text[len(_SQLITE_PREFIX):]
    if "?" in rest:
        raise HistorianError(
            "history store: an SQLite URL takes no ?query; give settings as history options"
        )
    if not rest or rest == ":memory:":
        raise HistorianError(
            "history store: the SQLite history needs a file: sqlite:///PATH (not in memory)"
        )
    return Path(rest)


def _check_options(cls: type, store: str, options: dict[str, Any]) -> None:
    """Refuse options the store's constructor does not take, naming the ones it does."""
    known = [
        name for name, p in inspect.signature(cls).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in ("clock", "readonly")
    ]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise HistorianError(
            f"{store} history store: unknown option{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)}; expected {', '.join(known)}"
        )
