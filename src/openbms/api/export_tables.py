"""Analytics answers as files: CSV and Excel .xlsx, the same for every analytics route.

::

    route's answer ──(route: which columns)──▶ Table(s): columns with units, rows of numbers and times
      ──export_response(tables, "csv" | "xlsx", filename, tz)──▶ a download with a Content-Disposition name

A time column holds epoch seconds and is written in the site's local time with
its UTC offset (``2026-03-29T03:00:00+01:00``): the reader sees the site's
clock and can still tell the hour a clock went back twice. Each header says the
column's unit (``actual (kWh)``). In a workbook numbers stay numbers (Excel
can add them up); an unknown value is an empty cell. CSV carries the first
table only (one table is what a CSV reader expects); a workbook has a sheet per
table. The workbook is written with XlsxWriter, write-only and pure Python.
No text becomes a formula: in CSV a text cell starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return gets a leading ``'`` (a spreadsheet shows it as
text); in a workbook text is written as a string cell, never as a formula.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi.responses import Response, StreamingResponse

__all__ = ["CSV_TYPE", "EXPORT_RESPONSES", "XLSX_TYPE", "Column", "ExportFormat", "Table", "export_response",
           "filename_of"]

ExportFormat = Literal["csv", "xlsx"]
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The downloads a route with ``format=`` answers besides its JSON, for its OpenAPI ``responses=``.
EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "JSON, or with format=csv or format=xlsx a file download",
          "content": {"text/csv": {"schema": {"type": "string"}},
                      XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}},
}


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its name, its unit (said in the header) and what it holds.

    ``time``: epoch seconds, written as the site's local time with its offset;
    ``number``: a number (None, NaN and infinities are empty); ``text``: as given;
    ``value``: a number as a number, anything else as text (a summary's mixed column).
    """

    name: str
    unit: str | None = None
    kind: Literal["time", "number", "text", "value"] = "number"

    def header(self, tz: ZoneInfo) -> str:
        """``name (unit)``; a time column says the zone its times are in."""
        unit = tz.key if self.kind == "time" else self.unit
        return f"{self.name} ({unit})" if unit else self.name


@dataclass(frozen=True, slots=True)
class Table:
    """A sheet: its name (at most 31 characters, Excel's limit), columns and rows (one value per column)."""

    name: str
    columns: tuple[Column, ...]
    rows: Sequence[Sequence[Any]]


def filename_of(*parts: str) -> str:
    """A safe file name stem from parts (site, meter, what): letters, digits, dots, dashes, underscores."""
    return "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", p).strip("-") for p in parts if p)


def _time(value: Any, tz: ZoneInfo) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return datetime.fromtimestamp(float(value), tz).isoformat()


def _number(value: Any) -> float | int | None:
    if value is None or isinstance(value, bool):
        return None if value is None else int(value)
    if isinstance(value, int):
        return value
    number = float(value)
    return number if math.isfinite(number) else None


def _cells(table: Table, tz: ZoneInfo) -> list[list[Any]]:
    """Each row's values ready to write: times as text, numbers as numbers or None."""
    out = []
    for row in table.rows:
        if len(row) != len(table.columns):
            raise ValueError(f"a row of {table.name!r} has {len(row)} values for {len(table.columns)} "
                             "columns")
        cells: list[Any] = []
        for column, value in zip(table.columns, row, strict=True):
            if column.kind == "time":
                cells.append(_time(value, tz))
            elif column.kind == "number" or (column.kind == "value" and isinstance(value, int | float)):
                cells.append(_number(value))
            else:
                cells.append("" if value is None else str(value))
        out.append(cells)
    return out


#: What a spreadsheet opening a CSV takes as the start of a formula (OWASP's CSV injection list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(value: Any) -> Any:
    """A text cell a spreadsheet shows as text: one starting like a formula gets a leading quote
    (a point named ``=HYPERLINK(…)`` is a name, not a formula to run). Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv(table: Table, tz: ZoneInfo) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_csv_text(c.header(tz)) for c in table.columns])
    for cells in _cells(table, tz):
        writer.writerow(["" if v is None else _csv_text(v) for v in cells])
    return buffer.getvalue().encode("utf-8")


def _xlsx(tables: Sequence[Table], tz: ZoneInfo) -> bytes:
    import xlsxwriter  # loaded when a workbook is asked for, not with the API

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True})
    seen: set[str] = set()
    for table in tables:
        name = re.sub(r"[\[\]:*?/\\]", "-", table.name)[:31] or "Sheet"
        while name.lower() in seen:
            name = name[:28] + f"-{len(seen)}"
        seen.add(name.lower())
        sheet = book.add_worksheet(name)
        for j, column in enumerate(table.columns):
            sheet.write_string(0, j, column.header(tz), bold)
            sheet.set_column(j, j, 26 if column.kind == "time" else max(12, len(column.header(tz)) + 2))
        for i, cells in enumerate(_cells(table, tz), start=1):
            for j, value in enumerate(cells):
                if value is None or value == "":
                    continue
                if isinstance(value, int | float):
                    sheet.write_number(i, j, value)
                else:
                    sheet.write_string(i, j, value)
        sheet.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue()


def export_response(tables: Sequence[Table], format: ExportFormat, filename: str, tz: ZoneInfo) -> Response:
    """The tables as a CSV (the first table) or .xlsx (a sheet each) download named ``filename.csv|xlsx``.

    The file is written when the response is sent, in a worker thread (a streaming response's plain
    iterator runs in the server's thread pool): a workbook of thousands of rows takes seconds, which on
    the event loop would stall every site's control and every other request meanwhile."""
    if not tables:
        raise ValueError("nothing to export: no table")

    def body() -> Iterator[bytes]:
        yield _csv(tables[0], tz) if format == "csv" else _xlsx(tables, tz)

    return StreamingResponse(body(), media_type=CSV_TYPE if format == "csv" else XLSX_TYPE,
                             headers={"Content-Disposition": f'attachment; filename="{filename}.{format}"'})
