"""Export history to CSV, JSON lines or Parquet, streaming, with a progress callback.

Every format has the same columns: ``point``, ``time`` (ISO 8601, UTC),
``ts`` (epoch seconds), ``value``, ``status``. Rollup exports add their
aggregate columns instead of ``value``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from openbms.historian.base import Historian, Rollup, RollupRow
from openbms.model.sample import Sample

__all__ = ["FORMATS", "export_history", "iso"]

Format = Literal["csv", "jsonl", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl", "parquet")

RAW_COLUMNS = ("point", "time", "ts", "value", "status")
ROLLUP_COLUMNS = (
    "point", "time", "ts", "count", "min", "max", "mean", "tw_mean", "covered", "last", "last_ts",
)


def iso(ts: float) -> str:
    """Epoch seconds as ISO 8601 UTC with a ``Z`` and milliseconds when there are any."""
    dt = datetime.fromtimestamp(ts, UTC)
    text = dt.isoformat(timespec="milliseconds" if dt.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _raw_row(s: Sample) -> tuple[Any, ...]:
    return (s.point, iso(s.ts), s.ts, s.value, s.status)


def _rollup_row(r: RollupRow) -> tuple[Any, ...]:
    return (
        r.point, iso(r.start), r.start, r.count, r.min, r.max, r.mean, r.tw_mean, r.covered,
        r.last, r.last_ts,
    )


class _Writer:
    """One output format: ``write(rows)`` then ``close()``."""

    def __init__(self, fmt: Format, out: IO[str] | Path, columns: Sequence[str]) -> None:
        self.fmt = fmt
        self.columns = tuple(columns)
        self._own = isinstance(out, Path)
        if fmt == "parquet":
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError as err:  # pragma: no cover - depends on the extra
                raise RuntimeError(
                    "Parquet export needs pyarrow: pip install 'openbms[parquet]'"
                ) from err
            if not isinstance(out, Path):
                raise ValueError("Parquet export writes to a file, not a stream")
            self._pa = pa
            self._pq_writer: Any = None
            self._pq = pq
            self._path = out
            return
        self._fh: IO[str] = out.open("w", newline="", encoding="utf-8") if isinstance(out, Path) else out
        if fmt == "csv":
            self._csv = csv.writer(self._fh)
            self._csv.writerow(self.columns)

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        if self.fmt == "csv":
            self._csv.writerows(rows)
        elif self.fmt == "jsonl":
            cols = self.columns
            self._fh.write("".join(json.dumps(dict(zip(cols, r, strict=True))) + "\n" for r in rows))
        else:
            table = self._pa.Table.from_pylist([dict(zip(self.columns, r, strict=True)) for r in rows])
            if self._pq_writer is None:
                self._pq_writer = self._pq.ParquetWriter(self._path, table.schema)
            else:
                table = table.cast(self._pq_writer.schema)
            self._pq_writer.write_table(table)

    def close(self) -> None:
        if self.fmt == "parquet":
            if self._pq_writer is None:  # an empty export still yields a readable file
                schema = self._pa.schema([(c, self._pa.string()) for c in self.columns])
                self._pq.ParquetWriter(self._path, schema).close()
            else:
                self._pq_writer.close()
        elif self._own:
            self._fh.close()
        else:
            self._fh.flush()


async def export_history(
    historian: Historian,
    points: Sequence[str],
    since: float,
    until: float,
    out: IO[str] | Path,
    fmt: Format = "csv",
    rollup: Rollup | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the history of ``points`` over ``[since, until)`` to ``out``; return rows written.

    ``progress`` is called with the number of rows of each chunk written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    writer = _Writer(fmt, out, ROLLUP_COLUMNS if rollup else RAW_COLUMNS)
    total = 0
    try:
        if rollup:
            for point in points:
                rows = [_rollup_row(r) for r in (await historian.rollups(point, rollup, since, until)).rows()]
                if rows:
                    writer.write(rows)
                total += len(rows)
                if progress:
                    progress(len(rows))
        else:
            async for chunk in historian.iter_raw(points, since, until):
                writer.write([_raw_row(s) for s in chunk])
                total += len(chunk)
                if progress:
                    progress(len(chunk))
    finally:
        writer.close()
    return total
