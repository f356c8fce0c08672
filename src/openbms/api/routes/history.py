"""``/api/v1/sites/{site}/history``: raw samples and hour or day rollups of points (``history:read``).

JSON by default; ``format=csv`` and ``format=jsonl`` stream a download with
the columns of ``openbms export`` (``openbms.historian.export``). Every
requested point must be a point of the site: any other answers the 404 an
unknown point gets, so history never tells what another site holds. A
request that would carry more than ``MAX_JSON_ROWS`` (JSON) or
``MAX_EXPORT_ROWS`` (downloads) rows is a 422 saying how to narrow it.

Trends tell the truth with two more things in each JSON series: ``kind`` and
``step`` (true when the value holds until the next sample: bool and enum
points, and number points stored on change, with a ``deadband``: draw them
as steps), and, with ``prior=true``, ``prior``: the last sample before
``since`` (null when there is none), so a point unchanged in the window is
drawn from the value it held when the window opened. Ranges without
``until`` end at the runtime's clock (the building's time).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from openbms.api.auth.permissions import require
from openbms.api.auth.principal import Principal
from openbms.api.context import get_context
from openbms.api.errors import invalid_field
from openbms.api.helpers import (
    MAX_JSON_ROWS,
    MAX_POINTS,
    finite,
    parse_time,
    requested_points,
    runtime_of,
    site_config,
)
from openbms.api.site_index import Entry, site_index
from openbms.historian.base import Historian, RawRow, RollupRow
from openbms.historian.export import RAW_COLUMNS, ROLLUP_COLUMNS, iso
from openbms.model.sample import STATUSES, Value

__all__ = ["MAX_EXPORT_ROWS", "MAX_JSON_ROWS", "MAX_POINTS", "router"]

router = APIRouter(prefix="/api/v1", tags=["history"])

MAX_EXPORT_ROWS = 5_000_000
DEFAULT_SPAN = 86_400.0
_WIDTH = {"hour": 3_600.0, "day": 86_400.0}
_MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


class SampleOut(BaseModel):
    """One stored sample."""

    ts: float = Field(description="epoch seconds")
    value: Value
    status: str


class RollupOut(BaseModel):
    """Aggregates of one bucket ``[start, start + 1 hour or day)`` (days are the site's local days)."""

    start: float
    count: int
    min: float | None
    max: float | None
    mean: float | None
    tw_mean: float | None = Field(description="time-weighted mean")
    covered: float = Field(description="seconds tw_mean covers")
    last: float | None
    last_ts: float | None


class SeriesOut(BaseModel):
    """The history of one point: ``samples`` for raw, ``rollups`` for hour and day."""

    point: str
    unit: str | None
    kind: Literal["number", "bool", "enum"]
    step: bool = Field(
        description="the value holds until the next sample (bool, enum, or stored on change): draw steps"
    )
    samples: list[SampleOut] | None = None
    rollups: list[RollupOut] | None = None
    prior: SampleOut | None = Field(
        None, description="with prior=true: the last sample before `since` (null: none stored)"
    )


class HistoryOut(BaseModel):
    """The history of several points over ``[since, until)``."""

    site: str
    since: float
    until: float
    rollup: Literal["raw", "hour", "day"]
    series: list[SeriesOut]


def _point_ids(request: Request, site_id: str, requested: Sequence[str]) -> list[Entry]:
    """The site's points named by ``requested`` (``equip/name`` or ``site/equip/name``).

    From one snapshot of the site's index: a request that awaits the store may
    outlive the configuration it started with (a point removed meanwhile), and
    its series still describe the points it resolved.
    """
    index = site_index(site_config(runtime_of(request), site_id))
    return requested_points(site_id, requested, index.entry)


def _head(entry: Entry) -> dict[str, Any]:
    """What a series says of its point: id, unit, ``kind`` and ``step``."""
    pid, _site, _equip, point = entry
    step = point.kind != "number" or point.history.deadband is not None
    return {"point": pid, "unit": point.unit, "kind": point.kind, "step": step}


#: How far back ``prior`` looks: a year; where retention dropped the raw samples, the hourly
#: rollups of two days, then the daily ones of the year, stand in.
_PRIOR_HOURS = 48
_PRIOR_DAYS = 366


async def prior_sample(historian: Historian, point: str, since: float) -> dict[str, Any] | None:
    """The last stored sample of ``point`` before ``since`` (up to a year back), or None.

    The store's newest raw sample before ``since`` (one indexed look-up, however
    many samples the point stores an hour). When retention dropped the raw
    samples, the newest rollup of the two days before, then of the year before,
    stands in: its ``last`` value at its ``last_ts``, with status ``ok``.
    """
    row = await historian.last_before(point, since)
    year = since - _PRIOR_DAYS * 86400.0
    if row is not None and row[0] >= year:
        return _sample(row)
    hour = math.floor(since / 3600.0) * 3600.0
    days_end = hour - _PRIOR_HOURS * 3600.0
    found = await _newest_rollup(historian, point, "hour", days_end, hour + 3600.0, since)
    if found is None:
        found = await _newest_rollup(historian, point, "day", year, hour + 3600.0, since)
    if found is None or found.last_ts is None:
        return None
    return {"ts": found.last_ts, "value": finite(found.last), "status": "ok"}


async def _newest_rollup(
    historian: Historian, point: str, period: Literal["hour", "day"], start: float, end: float, since: float
) -> RollupRow | None:
    """The rollup in ``[start, end)`` with the newest last sample before ``since`` (None: none)."""
    got = [r for r in (await historian.rollups(point, period, start, end)).rows()
           if r.last_ts is not None and r.last_ts < since]
    return max(got, key=lambda r: r.last_ts or 0.0) if got else None


def _sample(row: RawRow) -> dict[str, Any]:
    ts, value, status = row
    return {"ts": ts, "value": value, "status": STATUSES[status]}


def _too_many(rows: int, limit: int, fmt: str) -> Exception:
    hint = "a shorter range or a rollup (rollup=hour or day)"
    if fmt == "json":
        hint += ", or download it with format=csv or format=jsonl"
    return invalid_field(
        ["query", "since"],
        f"this asks for about {rows} rows, more than the {limit} allowed: use {hint}",
        "too_many_rows",
    )


async def _stream(
    historian: Historian, points: list[str], rollup: str, since: float, until: float, fmt: str
) -> AsyncIterator[bytes]:
    columns = RAW_COLUMNS if rollup == "raw" else ROLLUP_COLUMNS
    buf = io.StringIO()
    writer = csv.writer(buf)

    def emit(rows: list[tuple[Any, ...]]) -> bytes:
        if fmt == "csv":
            writer.writerows(rows)
        else:
            buf.write("".join(json.dumps(dict(zip(columns, r, strict=True))) + "\n" for r in rows))
        data = buf.getvalue().encode()
        buf.seek(0)
        buf.truncate()
        return data

    if fmt == "csv":
        yield emit([tuple(columns)])
    if rollup == "raw":
        async for chunk in historian.iter_raw(points, since, until):
            yield emit([(s.point, iso(s.ts), s.ts, finite(s.value), s.status) for s in chunk])
        return
    period: Literal["hour", "day"] = "day" if rollup == "day" else "hour"
    for point in points:
        rows = (await historian.rollups(point, period, since, until)).rows()
        if rows:
            yield emit([(r.point, iso(r.start), *_rollup_values(r)) for r in rows])


_ROLLUP_KEYS = ("start", "count", "min", "max", "mean", "tw_mean", "covered", "last", "last_ts")


def _rollup_values(r: RollupRow) -> tuple[Any, ...]:
    return tuple(finite(getattr(r, key)) for key in _ROLLUP_KEYS)


def _filename(site_id: str, rollup: str, since: float, fmt: str) -> str:
    stamp = datetime.fromtimestamp(since, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{site_id}-history-{rollup}-{stamp}.{fmt}"


@router.get(
    "/sites/{site_id}/history",
    response_model=HistoryOut,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            }
        }
    },
)
async def get_history(
    request: Request,
    site_id: str,
    points: list[str] = Query(
        ..., description="Point ids (equipment/name or site/equipment/name), comma-separated or repeated."
    ),
    since: str | None = Query(
        None, max_length=64, description="Start (ISO 8601 or epoch s); default until - 1 day."
    ),
    until: str | None = Query(
        None, max_length=64, description="End, excluded (ISO 8601 or epoch s); default now."
    ),
    rollup: Literal["raw", "hour", "day"] = Query("raw", description="Raw samples or hourly/daily rollups."),
    format: Literal["json", "csv", "jsonl"] = Query(
        "json", description="JSON, or a CSV / JSON lines download."
    ),
    prior: bool = Query(
        False,
        description="JSON only: each series also carries `prior`, the last sample before `since`, "
        "so a point unchanged in the range is drawn from the value it held",
    ),
    user: Principal = require("history:read", site_param="site_id"),
) -> Any:
    """History of several points of the site: raw or rolled up, as JSON or a download."""
    runtime = runtime_of(request)
    if prior and format != "json":
        raise invalid_field(["query", "prior"], "prior is for JSON answers: leave it out of a download")
    entries = _point_ids(request, site_id, points)
    end = parse_time(until, "until")
    end = runtime.clock.now() if end is None else end
    start = parse_time(since, "since")
    start = end - DEFAULT_SPAN if start is None else start
    if start >= end:
        raise invalid_field(["query", "since"], "since must be before until")
    ids = [entry[0] for entry in entries]
    historian = runtime.historian
    limit = MAX_JSON_ROWS if format == "json" else MAX_EXPORT_ROWS
    if rollup != "raw":
        rows = len(ids) * math.ceil((end - start) / _WIDTH[rollup])
        if rows > limit:
            raise _too_many(rows, limit, format)
    elif format != "json":  # a download is counted first; a JSON answer is cut at the limit below
        rows = await historian.count(ids, start, end)
        if rows > limit:
            raise _too_many(rows, limit, format)
    if format != "json":
        return StreamingResponse(
            _stream(historian, ids, rollup, start, end, format),
            media_type=_MEDIA[format],
            headers={
                "Content-Disposition": f'attachment; filename="{_filename(site_id, rollup, start, format)}"'
            },
        )
    series: list[dict[str, Any]] = []
    left = limit
    statuses = STATUSES
    tails = get_context(request).history_tails(historian)
    for entry in entries:
        pid = entry[0]
        head = _head(entry)
        if prior:
            head["prior"] = await prior_sample(historian, pid, start)
        if rollup == "raw":
            kept = await tails.samples(pid, start, end)
            if kept is not None:
                encoded, n = kept
                left -= n
                if left < 0:
                    raise _too_many(await historian.count(ids, start, end), limit, format)
                series.append({**head, "samples": orjson.Fragment(encoded)})
                continue
            got = await historian.raw_rows(pid, start, end, left + 1)
            left -= len(got)
            if left < 0:
                raise _too_many(await historian.count(ids, start, end), limit, format)
            series.append(
                {
                    **head,
                    # orjson writes NaN and infinities as null
                    "samples": [{"ts": ts, "value": v, "status": statuses[st]} for ts, v, st in got],
                }
            )
        else:
            rollups = (await historian.rollups(pid, rollup, start, end)).rows()
            series.append(
                {
                    **head,
                    "rollups": [dict(zip(_ROLLUP_KEYS, _rollup_values(r), strict=True)) for r in rollups],
                }
            )
    # Built by hand and encoded with orjson, not through the response model: a day of
    # samples is thousands of rows.
    return Response(
        orjson.dumps({"site": site_id, "since": start, "until": end, "rollup": rollup, "series": series}),
        media_type="application/json",
    )
