"""The JSON Schemas of command/response over MQTT, made from pydantic models.

``docs/schemas/mqtt/{name}.request.json`` and ``{name}.response.json`` for each command of
``openbms.api.mqtt_commands.COMMANDS`` are written by this module and checked against it by a
test (``tests/api/test_mqtt_schemas.py``), which also validates real responses with these
models. The request handler itself checks requests by hand (no model per request on the write
path); the models say the same and are what clients can validate against. Write them again after
a change with::

    python -m openbms.api.mqtt_schemas docs/schemas/mqtt
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from openbms.api.mqtt_commands import (
    COMMANDS,
    DEFAULT_HISTORY_EVENTS,
    DEFAULT_HISTORY_SAMPLES,
    ERROR_CODES,
    MAX_COUNT_POINTS,
    MAX_HISTORY_DAYS,
    MAX_HISTORY_EVENTS,
    MAX_HISTORY_SAMPLES,
)
from openbms.api.routes.commands import CommandOut, PriorityArray
from openbms.api.routes.programs import ProgramDetail
from openbms.api.routes.sites import EquipmentOut, SiteOut
from openbms.model.sample import Value
from openbms.model.site import Space

__all__ = ["REQUESTS", "RESPONSES", "schemas", "write_schemas"]

_ID = Field(default=None, min_length=1, max_length=128, pattern=r"^[\x20-\x7e]+$",
            description="The correlation id, echoed in the response; required unless the MQTT v5 "
                        "correlation data is given. A duplicate id is answered once.")
_TOKEN = Field(default=None, description="An openbms API token, when the MQTT v5 user property "
                                         "'authorization: Bearer …' does not carry it.")
_POINT = Field(min_length=1, max_length=400,
               description="A point of the site: equipment/name or site/equipment/name.")


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = _ID
    token: str | None = _TOKEN


class WriteRequest(_Request):
    """Set a point at a priority (the site's mqtt.commands.priority by default) through the arbiter."""

    point: str = _POINT
    value: bool | int | float | str = Field(
        description="A number, true/false, or an enum state (its label, or its number from 1).")
    priority: int | None = Field(default=None, ge=1, le=16)
    duration_s: float | None = Field(default=None, gt=0, le=366 * 86400,
                                     description="A timed override: released by itself after this long.")
    reason: str | None = Field(default=None, min_length=1, max_length=500,
                               description="Kept with the command (default 'over MQTT').")


class ReleaseRequest(_Request):
    """Empty a point's slot at a priority (the site's mqtt.commands.priority by default)."""

    point: str = _POINT
    priority: int | None = Field(default=None, ge=1, le=16)
    reason: str | None = Field(default=None, min_length=1, max_length=500)


class ReadRequest(_Request):
    """The current values of up to 100 points."""

    points: list[str] | str = Field(description="A list of points, or one text of comma-separated points.")


class PriorityArrayRequest(_Request):
    """A writable point's 16 slots."""

    point: str = _POINT


class ProgramGetRequest(_Request):
    """A logic program: a version, else the deployed one, else the latest."""

    program: str = Field(min_length=1, max_length=200)
    version: int | None = Field(default=None, ge=1)


class ProgramDeployRequest(_Request):
    """Validate a stored version of a program, make it the active one and run it."""

    program: str = Field(min_length=1, max_length=200)
    version: int = Field(ge=1)
    reason: str = Field(min_length=1, max_length=2000, description="Kept in the audit log.")


class ConfigRequest(_Request):
    """The site's configuration: the site, its spaces and its equipment, as the REST API shows them."""


_TIME_DOC = ("An ISO 8601 time with its offset (2026-12-07T10:00:00Z, 2026-12-07T11:00:00+01:00) "
             "or UTC epoch seconds.")
_RANGE_DOC = f"[since, until): at most {MAX_HISTORY_DAYS} days."


class HistoryCounts(BaseModel):
    """Per point and hour, how many samples the edge's historian holds (its hourly rollups' count).
    The range is widened to whole UTC hours."""

    model_config = ConfigDict(extra="forbid")

    since: str | float = Field(description=_TIME_DOC + " " + _RANGE_DOC)
    until: str | float = Field(description=_TIME_DOC)
    points: list[str] | None = Field(
        default=None, min_length=1, max_length=MAX_COUNT_POINTS,
        description="Points (equipment/name or site/equipment/name); default: every point of the "
                    "site. Points × hours at most 200 000.")


class HistorySamples(BaseModel):
    """One point's stored samples in ``[since, until)``, in time order, ``limit`` at a time."""

    model_config = ConfigDict(extra="forbid")

    point: str = _POINT
    since: str | float = Field(description=_TIME_DOC + " " + _RANGE_DOC)
    until: str | float = Field(description=_TIME_DOC)
    limit: int = Field(default=DEFAULT_HISTORY_SAMPLES, ge=1, le=MAX_HISTORY_SAMPLES)
    after: float | None = Field(default=None,
                                description="The previous answer's next: the samples after it.")


class HistoryEvents(BaseModel):
    """The site's alarm changes or command changes in ``[since, until)``, each as the bridge
    publishes it, in time order, ``limit`` at a time. A command appears once, at its latest change
    (the edge keeps each command's latest state), if that change is in the range."""

    model_config = ConfigDict(extra="forbid")

    since: str | float = Field(description=_TIME_DOC + " " + _RANGE_DOC)
    until: str | float = Field(description=_TIME_DOC)
    kind: Literal["alarm", "command"]
    limit: int = Field(default=DEFAULT_HISTORY_EVENTS, ge=1, le=MAX_HISTORY_EVENTS)
    after: str | None = Field(default=None, min_length=3, max_length=200,
                              description="The previous answer's next: the changes after it.")


class HistoryRequest(_Request):
    """The edge's history, read-only (a backfill from the centre): exactly one of counts, samples
    or events."""

    counts: HistoryCounts | None = None
    samples: HistorySamples | None = None
    events: HistoryEvents | None = None

    @model_validator(mode="after")
    def _one_form(self) -> HistoryRequest:
        if [self.counts, self.samples, self.events].count(None) != 2:
            raise ValueError("expected exactly one of counts, samples or events")
        return self


class PointValue(BaseModel):
    """A point's current value (all null before its first sample)."""

    model_config = ConfigDict(extra="forbid")

    point: str
    value: Value
    status: str | None
    ts: float | None


class CommandResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: CommandOut


class ReadResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: list[PointValue]


class ProgramResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    program: ProgramDetail


class ConfigResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: SiteOut
    spaces: list[Space]
    equipment: list[EquipmentOut]


class PointHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    point: str
    hours: list[tuple[float, int]] = Field(
        description="[hour start (UTC epoch seconds), samples] of each hour holding any, in order.")


class HistoryCountsResult(BaseModel):
    """The counts asked for: ``since`` and ``until`` are the range widened to whole hours."""

    model_config = ConfigDict(extra="forbid")

    since: float
    until: float
    points: list[PointHours]


class HistorySamplesResult(BaseModel):
    """A page of one point's samples; ``next`` (the last one's time) asks for the following page as
    ``after``, null when there is none."""

    model_config = ConfigDict(extra="forbid")

    point: str
    samples: list[tuple[float, Value, str]] = Field(
        description="[time (UTC epoch seconds), value, status] in time order.")
    next: float | None


class AlarmChange(BaseModel):
    """An alarm change as the bridge publishes it on ``{prefix}/{site}/alarms``."""

    model_config = ConfigDict(extra="forbid")

    alarm_id: str
    rule_id: str
    point: str
    ts: float
    action: str
    from_state: str
    to_state: str
    value: Value
    message: str
    who: str | None
    note: str | None
    priority: int
    alarm_class: str
    shelved: bool
    flap_count: int
    site: str


class CommandChange(BaseModel):
    """A command change as the bridge publishes it on ``{prefix}/{site}/commands``."""

    model_config = ConfigDict(extra="forbid")

    id: str
    point: str
    value: Value
    priority: int
    release: bool
    status: str
    error: str
    source: str
    requested_by: str
    updated_at: float


class HistoryEventsResult(BaseModel):
    """A page of alarm or command changes in time order; ``next`` asks for the following page as
    ``after``, null when there is none. ``since`` and ``until``: the range asked, in epoch seconds."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["alarm", "command"]
    since: float
    until: float
    events: list[AlarmChange] | list[CommandChange]
    next: str | None


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Literal[tuple(ERROR_CODES)]  # type: ignore[valid-type]
    message: str
    field: str | None = Field(description="The request's field it is about, if one.")


class ErrorResponse(BaseModel):
    """A refused or failed request: nothing was done (see error.code)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None
    ok: Literal[False]
    error: ErrorDetail


def _ok(result: Any, name: str) -> type[BaseModel]:
    return type(f"{name}Response", (BaseModel,), {
        "__annotations__": {"id": str | None, "ok": Literal[True], "result": result},
        "model_config": ConfigDict(extra="forbid"),
        "__doc__": f"The answer to a {name} request.",
    })


#: Each command's request model.
REQUESTS: Mapping[str, type[BaseModel]] = {
    "write": WriteRequest, "release": ReleaseRequest, "read": ReadRequest,
    "priority-array": PriorityArrayRequest, "program-get": ProgramGetRequest,
    "program-deploy": ProgramDeployRequest, "config": ConfigRequest, "history": HistoryRequest,
}
_RESULTS: Mapping[str, Any] = {
    "write": CommandResult, "release": CommandResult, "read": ReadResult,
    "priority-array": PriorityArray, "program-get": ProgramResult, "program-deploy": ProgramResult,
    "config": ConfigResult, "history": HistoryCountsResult | HistorySamplesResult | HistoryEventsResult,
}
#: Each command's successful response model (an error response is ``ErrorResponse``).
RESPONSES: Mapping[str, type[BaseModel]] = {
    name: _ok(result, "".join(w.title() for w in name.split("-"))) for name, result in _RESULTS.items()
}
assert set(REQUESTS) == set(RESPONSES) == set(COMMANDS), "a command without its schemas"


def schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema, for every command's request and response."""
    out: dict[str, dict[str, Any]] = {}
    for name in COMMANDS:
        request = REQUESTS[name].model_json_schema()
        response = TypeAdapter(RESPONSES[name] | ErrorResponse).json_schema()  # type: ignore[arg-type]
        for kind, schema in (("request", request), ("response", response)):
            out[f"{name}.{kind}.json"] = {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": f"openbms MQTT command {name}: {kind}",
                **schema,
            }
    return out


def write_schemas(folder: Path) -> list[Path]:
    """Write every schema into ``folder``; the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, schema in schemas().items():
        path = folder / filename
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover - a maintainer's command
    for written_path in write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas/mqtt")):
        print(written_path)
