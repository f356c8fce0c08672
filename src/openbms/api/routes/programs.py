"""``/api/v1`` routes: a site's logic programs — versions, validation, deployment, live values.

Programs are kept version by version in the state database
(``ProgramStore``, reached as ``Services.program_store``); saving a version deploys
nothing. ``deploy`` validates the version against the site's points, makes
it the active one and loads it into the running engine; ``rollback`` returns
to the version deployed before; ``disable`` stops it and releases its slots.
The store records deployments, rollbacks, enables and disables in the audit
log in the caller's name with their reason (``program.deploy`` …): a deploy
must say why, the others may; saves are audited as ``program.save``. Saving
the latest version's document again stores nothing: the answer is that
version (200, ``created`` false), so "save and deploy" twice makes one version.
Program ids are per site: two sites may each have a program ``ahu``, and
nothing a site's users see depends on another site's programs.

Documents are held to the program limits (docs/programs.md), and parsing,
validating and compiling run in worker threads, so a large program never
holds up the event loop every site's drivers, alarms and control share.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel, Field, field_validator

from openbms.api.auth.permissions import require
from openbms.api.auth.principal import Principal
from openbms.api.context import ApiContext, client_addr, get_context
from openbms.api.errors import ApiError, conflict, not_found
from openbms.api.helpers import Cursor, Limit, Page, command_source, keyset_page, runtime_of, site_config
from openbms.control.programs import (
    Program,
    ProgramEngine,
    ProgramError,
    ProgramInfo,
    ProgramIssue,
    ProgramVersion,
    parse_program,
    validate_program,
)
from openbms.control.programs.dryrun import MAX_DRY_RUN_S, DryRun, DryRuns
from openbms.control.programs.model import path_parts
from openbms.control.programs.replay import OUTPUT_POINTS, check_range, run_replay, thin
from openbms.errors import CommandError
from openbms.model.sample import Value
from openbms.service.protocols import MANUAL_SOURCES, ProgramRepository, RemoteCommands, Services

__all__ = ["router"]



router = APIRouter(prefix="/api/v1", tags=["programs"])

_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"


# ------------------------------------------------------------------------------ models


class IssueOut(BaseModel):
    """One problem of a program: where (``wires[3].to``) and what is wrong."""

    path: str
    message: str


class ValidationOut(BaseModel):
    """Whether a program could run on the site's points, and every problem if not."""

    valid: bool
    issues: list[IssueOut]


class ProgramStatusOut(BaseModel):
    """How the running engine is doing with the program."""

    version: int
    state: Literal["running", "disabled", "failed"]
    last_run: float | None
    runs: int
    writes: int
    errors: int
    last_error: str
    last_error_at: float | None
    outputs: dict[str, Value] = Field(description="Per output, the value last commanded (null: none).")
    cpu_s: float = Field(0.0, description="CPU seconds its evaluations took since it was loaded.")
    cpu_minute_s: float = Field(0.0, description="Of those, in the current minute (the budget's window).")


class ProgramSummary(BaseModel):
    """A program: its deployed and latest versions, whether it is enabled, and how it runs."""

    id: str
    site: str
    name: str
    enabled: bool
    active_version: int | None
    latest_version: int
    updated_at: float
    status: ProgramStatusOut | None = Field(description="Null when the engine does not run it.")


class ProgramDetail(ProgramSummary):
    """A version of a program (the deployed one unless asked), with the engine's live values."""

    version: int
    created_at: float
    created_by: str
    comment: str
    program: Program
    values: dict[str, Value] | None = Field(
        description="The live value of every wired port ('node.port') while the engine runs it.")
    block_states: dict[str, dict[str, Value]] | None = Field(
        None, description="Per block node its internal state while the engine runs it (PID terms p, i, "
                          "d; a timer's remaining_s; lead-lag order; staging count).")


class VersionOut(BaseModel):
    """One stored version."""

    version: int
    created_at: float
    created_by: str
    comment: str
    deployed: bool


class SaveRequest(BaseModel):
    """A new version of the program: its JSON document, and why it changed."""

    program: dict[str, Any] = Field(description="The program document (docs/programs.md).")
    comment: str = Field("", max_length=2000)


class SavedOut(BaseModel):
    """The version just saved (or the latest, when it holds the same document), and what would stop
    it from deploying (empty: it can)."""

    id: str
    version: int
    issues: list[IssueOut]
    created: bool = Field(True, description="False: the document is the latest version's; nothing was saved.")
    note: str = Field("", description="Why no version was made, when none was.")


_REASON = Field(max_length=2000, description="Why: kept in the audit log with the change.")


class DeployRequest(BaseModel):
    """The version to deploy, and why."""

    version: int = Field(ge=1)
    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S",
                        description="Why this version is deployed (required): kept in the audit log.")


class ActionRequest(BaseModel):
    """Why a program is rolled back, disabled or enabled (optional): kept in the audit log."""

    reason: str = _REASON


class ReplayRequest(BaseModel):
    """A program document (saved or not) and the range to replay it over: a ``day`` of the site's, or
    ``start`` and ``end`` (epoch s); neither: yesterday, by the server's clock and the site's time zone."""

    program: dict[str, Any] = Field(description="The program document (docs/programs.md); 'id' may be left "
                                                "out, 'site' is the URL's.")
    day: dt.date | None = Field(None, description="A day in the site's time zone.")
    start: float | None = Field(None, description="Epoch seconds (with end), instead of day.")
    end: float | None = Field(None, description="Epoch seconds (with start); at most 7 days after start.")
    step_s: float | None = Field(None, ge=1, le=86_400,
                                 description="Seconds between evaluations; default the program's period_s.")


class ReplayOutputOut(BaseModel):
    """One output: what the program would have commanded, beside what its point recorded."""

    id: str
    point: str
    priority: int
    computed: list[list[Any]] = Field(description="[t, value] changes, each held until the next.")
    recorded: list[list[Any]] = Field(description="[t, value] samples of the point (the first: its value "
                                                  "at start, when one was recorded before).")


class ReplayOut(BaseModel):
    """A replay: per output the computed and recorded series, per wired port its series (for the wires)."""

    start: float
    end: float
    step_s: float
    steps: int
    outputs: list[ReplayOutputOut]
    values: dict[str, list[list[Any]]] = Field(
        description="Per wired port ('node.port', as a running program's values) its [t, value] changes, "
                    "thinned to at most 500.")


class DryRunRequest(BaseModel):
    """The document to run live without writing (default: the latest saved version), and for how long."""

    program: dict[str, Any] | None = Field(None, description="The edited document; 'id' and 'site' are "
                                                             "the URL's. Null: the latest saved version.")
    duration_s: float = Field(MAX_DRY_RUN_S, gt=0, le=MAX_DRY_RUN_S,
                              description="Seconds of the server's clock it runs (at most 900).")


class DryRunOut(BaseModel):
    """A dry run: what the edited program computes live, in the shape of a running program's status."""

    id: str
    site: str
    running: bool
    started_by: str
    started_at: float
    until: float = Field(description="When it stops by itself (the server's clock).")
    ended_at: float | None
    would_write: int = Field(description="Commands it would have made; it made none.")
    status: ProgramStatusOut = Field(description="As a running program's: outputs are what it would "
                                                 "command, nothing is written.")
    values: dict[str, Value]
    block_states: dict[str, dict[str, Value]]


class ProgramOverrideRequest(BaseModel):
    """Hold a block's output, or an output node's point, at a value for a while: commissioning."""

    port: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_]+)?$", max_length=130,
                      description="'node.port' of a block's output, or the id of an output node (its point).")
    value: float | int | bool | str = Field(
        description="The value held (not null: to end it, DELETE); a number is finite.")
    duration_s: float = Field(3600, gt=0, le=7 * 86_400, description="How long, by the server's clock.")
    priority: int = Field(8, ge=1, le=16, description="An output node's point: the arbiter's priority.")
    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S",
                        description="Why (kept in the audit log).")

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float | int | bool | str) -> float | int | bool | str:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number: expected a number, true/false "
                             "or a state label")
        return value


class ProgramOverrideOut(BaseModel):
    """An override of a running program: a block output held inside the engine, or a point's slot."""

    port: str
    kind: Literal["block", "point"] = Field(description="block: what the block feeds sees the value, and "
                                                        "it reaches points through the program's own "
                                                        "outputs; point: the output node's point is "
                                                        "commanded at 'priority' through the arbiter.")
    value: Value
    until: float | None
    point: str | None = None
    priority: int | None = None
    command_id: str | None = None
    requested_by: str = ""
    reason: str = ""


# ------------------------------------------------------------------------------ helpers


def _issues(issues: list[ProgramIssue]) -> list[IssueOut]:
    return [IssueOut(path=i.path, message=i.message) for i in issues]


def _invalid(issues: list[ProgramIssue], prefix: list[str | int], detail: str) -> ApiError:
    errors = [{"loc": [*prefix, *path_parts(i.path)], "msg": i.message,
               "type": "program"} for i in issues]
    return ApiError(422, detail, type="urn:openbms:problem:validation-error", errors=errors)


def _parts_of(request: Request, site_id: str) -> tuple[Services, ProgramRepository, ProgramEngine]:
    runtime = runtime_of(request)
    site_config(runtime, site_id)
    if runtime.program_store is None or runtime.programs is None:
        raise ApiError(503, "the logic program engine is not running")
    return runtime, runtime.program_store, runtime.programs


def program_info(store: ProgramRepository, site_id: str, program_id: str) -> ProgramInfo:
    info = store.info(program_id, site_id)
    if info is None:
        raise not_found(f"no program {program_id!r} on site {site_id!r}")
    return info


def _status(runtime: Services, site_id: str, program_id: str) -> ProgramStatusOut | None:
    """How the program runs, or why it did not start at the last start (``failed``); None: not run."""
    status = runtime.program_status(program_id, site_id)
    if status is None:
        return None
    return _status_out(status)


def _status_out(status: Any) -> ProgramStatusOut:
    fields = dataclasses.asdict(status)
    return ProgramStatusOut.model_validate({k: fields[k] for k in ProgramStatusOut.model_fields})


def _summary(info: ProgramInfo, runtime: Services) -> ProgramSummary:
    return ProgramSummary(id=info.id, site=info.site, name=info.name, enabled=info.enabled,
                          active_version=info.active_version, latest_version=info.latest_version,
                          updated_at=info.updated_at, status=_status(runtime, info.site, info.id))


def program_detail(info: ProgramInfo, stored: ProgramVersion, runtime: Services) -> ProgramDetail:
    status = _status(runtime, info.site, info.id)
    engine = runtime.programs
    loaded = engine is not None and engine.is_loaded(info.id, info.site)
    values = engine.values(info.id, site=info.site) if engine is not None and loaded else None
    states = engine.block_states(info.id, site=info.site) if engine is not None and loaded else None
    return ProgramDetail(
        **_summary(info, runtime).model_dump(exclude={"status"}), status=status,
        version=stored.version, created_at=stored.created_at, created_by=stored.created_by,
        comment=stored.comment, program=stored.program, values=values, block_states=states)


async def current_program(ctx: ApiContext, store: ProgramRepository, runtime: Services, site_id: str,
                   program_id: str) -> ProgramDetail:
    info = await ctx.run(program_info, store, site_id, program_id)
    try:
        stored = await ctx.run(store.get, program_id, site=site_id)
    except ProgramError as err:  # e.g. a stored version the program limits now refuse
        raise conflict(f"program {program_id!r}: its version cannot be used: {err}") from None
    return program_detail(info, stored, runtime)


def _why(body: ActionRequest | None) -> str:
    return body.reason.strip() if body is not None else ""


def _check_site(program: Program, site_id: str) -> list[ProgramIssue]:
    if program.site != site_id:
        return [ProgramIssue("site", f"the program is for site {program.site!r}, not {site_id!r}")]
    return []


def _validate(document: dict[str, Any], site_id: str, engine: ProgramEngine) -> list[ProgramIssue]:
    """Every problem of a document on the site's points (in a worker thread: it may be large)."""
    try:
        parsed = parse_program(document)
    except ProgramError as err:
        return err.issues
    return _check_site(parsed, site_id) + validate_program(parsed, engine.catalog)


# ------------------------------------------------------------------------------ reading


@router.get("/sites/{site_id}/programs", response_model=Page[ProgramSummary])
async def list_programs(
    site_id: str, request: Request, limit: int = Limit, cursor: str | None = Cursor,
    user: Principal = require("programs:read", site_param="site_id"),
) -> Page[ProgramSummary]:
    """The site's programs by id, with their versions and the engine's status."""
    runtime, store, _engine = _parts_of(request, site_id)
    found = await get_context(request).run(store.list, site_id)
    items, next_cursor = keyset_page(found, lambda p: [p.id], limit, cursor)
    return Page[ProgramSummary](items=[_summary(p, runtime) for p in items], next_cursor=next_cursor)


@router.post("/sites/{site_id}/programs/validate", response_model=ValidationOut)
async def validate(
    site_id: str, request: Request,
    program: dict[str, Any] = Body(description="A program document (docs/programs.md)."),
    user: Principal = require("programs:write", site_param="site_id"),
) -> ValidationOut:
    """Check a program against the site's points without saving it: every problem, with its path."""
    _runtime, _store, engine = _parts_of(request, site_id)
    issues = await get_context(request).run(_validate, program, site_id, engine)
    return ValidationOut(valid=not issues, issues=_issues(issues))


@router.get("/sites/{site_id}/programs/{program_id}", response_model=ProgramDetail)
async def get_program(
    site_id: str, program_id: str, request: Request,
    version: int | None = Query(None, ge=1, description="Default: the deployed version, else the latest."),
    user: Principal = require("programs:read", site_param="site_id"),
) -> ProgramDetail:
    """A program's document (``version``, else the deployed one, else the latest), status, live values."""
    runtime, store, _engine = _parts_of(request, site_id)
    ctx = get_context(request)
    info = await ctx.run(program_info, store, site_id, program_id)
    try:
        stored = await ctx.run(store.get, program_id, version, site=site_id)
    except ProgramError as err:
        if any(i.message.endswith("is stored") for i in err.issues):
            raise not_found(f"program {program_id!r} has no version {version}") from None
        raise conflict(f"program {program_id!r}: its version cannot be used: {err}") from None
    return program_detail(info, stored, runtime)


@router.get("/sites/{site_id}/programs/{program_id}/versions", response_model=Page[VersionOut])
async def list_versions(
    site_id: str, program_id: str, request: Request, limit: int = Limit, cursor: str | None = Cursor,
    user: Principal = require("programs:read", site_param="site_id"),
) -> Page[VersionOut]:
    """Every stored version, oldest first, and which one is deployed."""
    _runtime, store, _engine = _parts_of(request, site_id)
    ctx = get_context(request)
    info = await ctx.run(program_info, store, site_id, program_id)
    versions = await ctx.run(store.versions, program_id, site=site_id)
    items, next_cursor = keyset_page(versions, lambda v: [v.version], limit, cursor)
    return Page[VersionOut](items=[VersionOut(
        version=v.version, created_at=v.created_at, created_by=v.created_by, comment=v.comment,
        deployed=v.version == info.active_version) for v in items], next_cursor=next_cursor)


# ------------------------------------------------------------------------------ changing


@router.put("/sites/{site_id}/programs/{program_id}", response_model=SavedOut, status_code=201,
            responses={200: {"model": SavedOut, "description": "The latest version holds this document: "
                                                                "no new version"}})
async def save_program(
    site_id: str, body: SaveRequest, request: Request, response: Response,
    program_id: str = Path(pattern=_ID_PATTERN, max_length=64),
    user: Principal = require("programs:write", site_param="site_id"),
) -> SavedOut:
    """Save a new version (nothing is deployed); ``id`` and ``site`` default to the URL's.

    A document of the wrong shape is a 422 naming each field; problems with
    the site's points do not stop the save, and are listed in ``issues``. A
    document equal to the latest version's makes no version: the answer is
    that version, 200 with ``created`` false (201 when a version is made).
    """
    _runtime, store, engine = _parts_of(request, site_id)
    ctx = get_context(request)
    document = {"id": program_id, "site": site_id, **body.program}
    try:
        program = await ctx.run(parse_program, document)
    except ProgramError as err:
        raise _invalid(err.issues, ["body", "program"], f"{len(err.issues)} invalid field(s)") from None
    wrong = [ProgramIssue("id", f"the id {program.id!r} differs from the URL's {program_id!r}")
             ] if program.id != program_id else []
    wrong += _check_site(program, site_id)
    if wrong:
        raise _invalid(wrong, ["body", "program"], f"{len(wrong)} invalid field(s)")
    try:
        version = await ctx.run(store.save, program, user.actor, body.comment)
    except ProgramError as err:  # the site has as many programs as it may
        raise _invalid(err.issues, ["body", "program"], "; ".join(i.message for i in err.issues)) from None
    issues = _issues(await ctx.run(validate_program, program, engine.catalog))
    # Decided by the store in the transaction that stored the version (or found it stored):
    # of two identical saves at once, one made the version and one did not.
    if not version.created:
        response.status_code = 200
        return SavedOut(id=program_id, version=version, issues=issues, created=False,
                        note=f"version {version} holds this document already: no new version was saved")
    await ctx.audit(user.actor, "program.save", f"{site_id}/{program_id}",
                    {"site": site_id, "version": version, "comment": body.comment}, client_addr(request))
    return SavedOut(id=program_id, version=version, issues=issues, created=True, note="")


@router.post("/sites/{site_id}/programs/{program_id}/deploy", response_model=ProgramDetail)
async def deploy(
    site_id: str, program_id: str, body: DeployRequest, request: Request,
    user: Principal = require("programs:deploy", site_param="site_id"),
) -> ProgramDetail:
    """Validate a version, make it the active one and run it (a running version hands over bumplessly).

    ``reason`` is required and kept in the audit log (``program.deploy``).
    """
    runtime, store, engine = _parts_of(request, site_id)
    ctx = get_context(request)
    await ctx.run(program_info, store, site_id, program_id)
    try:
        stored = await ctx.run(store.get, program_id, body.version, site=site_id)
    except ProgramError:
        raise not_found(f"program {program_id!r} has no version {body.version}") from None
    try:  # validated and compiled in a worker thread; the store changes only when it can run
        prepared = await ctx.run(engine.prepare, stored.program, stored.version)
    except ProgramError as err:
        raise _invalid(err.issues, ["program"],
                       f"version {body.version} cannot run: {len(err.issues)} problem(s)") from None
    await ctx.run(store.deploy, program_id, body.version, user.actor, site=site_id,
                  reason=body.reason.strip())
    engine.install(prepared)
    return await current_program(ctx, store, runtime, site_id, program_id)


@router.post("/sites/{site_id}/programs/{program_id}/rollback", response_model=ProgramDetail)
async def rollback(
    site_id: str, program_id: str, request: Request, body: ActionRequest | None = None,
    user: Principal = require("programs:deploy", site_param="site_id"),
) -> ProgramDetail:
    """Deploy again the version deployed before the current one (409 when there is none)."""
    runtime, store, engine = _parts_of(request, site_id)
    ctx = get_context(request)
    await ctx.run(program_info, store, site_id, program_id)
    try:
        version = await ctx.run(store.rollback, program_id, user.actor, site=site_id, reason=_why(body))
    except ProgramError as err:
        raise conflict("; ".join(i.message for i in err.issues)) from None
    stored = await ctx.run(store.get, program_id, version, site=site_id)
    try:
        engine.install(await ctx.run(engine.prepare, stored.program, version))
    except ProgramError as err:
        raise _invalid(err.issues, ["program"], f"version {version} is deployed again but cannot run "
                       f"on the site's points: {len(err.issues)} problem(s)") from None
    return await current_program(ctx, store, runtime, site_id, program_id)


@router.post("/sites/{site_id}/programs/{program_id}/disable", response_model=ProgramDetail)
async def disable(
    site_id: str, program_id: str, request: Request, body: ActionRequest | None = None,
    user: Principal = require("programs:deploy", site_param="site_id"),
) -> ProgramDetail:
    """Stop a program and release its slots; its active version stays for ``enable``."""
    runtime, store, engine = _parts_of(request, site_id)
    ctx = get_context(request)
    await ctx.run(program_info, store, site_id, program_id)
    await ctx.run(store.disable, program_id, user.actor, site=site_id, reason=_why(body))
    if engine.is_loaded(program_id, site_id):
        await engine.disable(program_id, site=site_id)
    return await current_program(ctx, store, runtime, site_id, program_id)


@router.post("/sites/{site_id}/programs/{program_id}/enable", response_model=ProgramDetail)
async def enable(
    site_id: str, program_id: str, request: Request, body: ActionRequest | None = None,
    user: Principal = require("programs:deploy", site_param="site_id"),
) -> ProgramDetail:
    """Run the active version again (409 when no version was ever deployed)."""
    runtime, store, engine = _parts_of(request, site_id)
    ctx = get_context(request)
    await ctx.run(program_info, store, site_id, program_id)
    try:
        await ctx.run(store.enable, program_id, user.actor, site=site_id, reason=_why(body))
    except ProgramError as err:
        raise conflict("; ".join(i.message for i in err.issues)) from None
    if engine.is_loaded(program_id, site_id):
        engine.enable(program_id, site=site_id)
    else:
        stored = await ctx.run(store.get, program_id, site=site_id)
        try:
            engine.install(await ctx.run(engine.prepare, stored.program, stored.version))
        except ProgramError as err:
            raise _invalid(err.issues, ["program"], f"version {stored.version} cannot run on the "
                           f"site's points: {len(err.issues)} problem(s)") from None
    return await current_program(ctx, store, runtime, site_id, program_id)


# ------------------------------------------------------------------------------ testing before deploying

#: Sites replaying now, and how many replays may run at once (each holds a worker thread and memory).
_REPLAYING: set[str] = set()
MAX_REPLAYS = 2
#: Recorded rows one replay may read (all its points together).
MAX_REPLAY_ROWS = 1_000_000


def _replay_range(body: ReplayRequest, runtime: Services, site_id: str) -> tuple[float, float]:
    if body.start is not None or body.end is not None:
        if body.start is None or body.end is None or body.day is not None:
            raise ApiError(422, "give a day, or both start and end (epoch seconds)")
        return body.start, body.end
    tz = ZoneInfo(site_config(runtime, site_id).site.timezone)
    day = body.day or (dt.datetime.fromtimestamp(runtime.clock.now(), tz).date() - dt.timedelta(days=1))
    start = dt.datetime.combine(day, dt.time(), tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
    return start.timestamp(), end.timestamp()


async def _recorded(runtime: Services, point: str, start: float, end: float,
                    budget: int) -> list[tuple[float, Any, int]]:
    """The point's rows from its last one before ``start`` to ``end`` included; 422 past ``budget``."""
    historian = runtime.historian
    before = await historian.last_before(point, start)
    rows = await historian.raw_rows(point, start, math.nextafter(end, math.inf), limit=budget + 1)
    if len(rows) > budget:
        raise ApiError(422, f"the replay would read more than {MAX_REPLAY_ROWS} recorded samples; "
                            "replay a shorter range")
    return ([before] if before is not None else []) + list(rows)


@router.post("/sites/{site_id}/programs/replay", response_model=ReplayOut)
async def replay(
    site_id: str, body: ReplayRequest, request: Request,
    user: Principal = require("programs:read", site_param="site_id"),
) -> ReplayOut:
    """Run a program over the recorded inputs of a day (at most 7): its outputs computed, never written.

    Each input takes, at each step, its point's last recorded value at or
    before that step (unknown unless its status was ok or overridden). The
    answer gives per output the computed series beside its point's recorded
    one, and per wired port a series for the canvas. One replay per site at
    a time (429 while one runs); it writes nothing and changes nothing.
    """
    runtime, _store, engine = _parts_of(request, site_id)
    ctx = get_context(request)
    document = {"id": "replay", **body.program, "site": site_id}
    try:
        program = await ctx.run(parse_program, document)
    except ProgramError as err:
        raise _invalid(err.issues, ["body", "program"], f"{len(err.issues)} invalid field(s)") from None
    start, end = _replay_range(body, runtime, site_id)
    try:
        check_range(program, start, end, body.step_s)
    except ProgramError as err:
        raise _invalid(err.issues, ["body"], "; ".join(i.message for i in err.issues)) from None
    if site_id in _REPLAYING or len(_REPLAYING) >= MAX_REPLAYS:
        raise ApiError(429, f"a replay is running {'for this site' if site_id in _REPLAYING else 'already'}"
                            ": try again when it has finished")
    _REPLAYING.add(site_id)
    try:
        budget = MAX_REPLAY_ROWS
        rows: dict[str, list[tuple[float, Any, int]]] = {}
        for point in dict.fromkeys(n.point for n in program.inputs):
            if point in engine.catalog:
                rows[point] = await _recorded(runtime, point, start, end, budget)
                budget -= len(rows[point])
        try:
            result = await ctx.run(run_replay, program, engine.catalog, rows, start, end, body.step_s)
        except ProgramError as err:
            raise _invalid(err.issues, ["body", "program"],
                           f"the program cannot run: {len(err.issues)} problem(s)") from None
        outputs = []
        for o in program.outputs:
            if o.id not in result.outputs:
                continue
            recorded = await _recorded(runtime, o.point, start, end, budget)
            budget -= len(recorded)
            series = [[max(ts, start), value] for ts, value, _status in recorded]
            outputs.append(ReplayOutputOut(id=o.id, point=o.point, priority=o.priority,
                                           computed=result.outputs[o.id],
                                           recorded=thin(series, OUTPUT_POINTS)))
    finally:
        _REPLAYING.discard(site_id)
    return ReplayOut(start=result.start, end=result.end, step_s=result.step_s, steps=result.steps,
                     outputs=outputs, values=result.values)


def _dry_runs(runtime: Services) -> DryRuns:
    """The process's dry runs (the assembly's, started and ended with the programs)."""
    if runtime.dry_runs is None:
        raise ApiError(503, "the logic program engine is not running")
    return runtime.dry_runs


def _dry_run_out(run: DryRun) -> DryRunOut:
    program, engine = run.program, run.engine
    return DryRunOut(
        id=program.id, site=program.site, running=run.running, started_by=run.started_by,
        started_at=run.started_at, until=run.until, ended_at=run.ended_at, would_write=run.would_write,
        status=_status_out(engine.status(program.id, site=program.site)[program.id]),
        values=engine.values(program.id, site=program.site),
        block_states=engine.block_states(program.id, site=program.site))


@router.post("/sites/{site_id}/programs/{program_id}/dry-run", response_model=DryRunOut, status_code=201)
async def start_dry_run(
    site_id: str, request: Request, body: DryRunRequest,
    program_id: str = Path(pattern=_ID_PATTERN, max_length=64),
    user: Principal = require("programs:write", site_param="site_id"),
) -> DryRunOut:
    """Run an edited program live on the live inputs for a while (at most 15 minutes), writing nothing.

    Its outputs are computed, never commanded; ``GET`` shows its values, block
    states and what its outputs would command, in the shape of a running
    program's status; ``DELETE`` stops it. One per program: a new one
    replaces it. The deployed version, if any, runs on untouched.
    """
    runtime, store, _engine = _parts_of(request, site_id)
    ctx = get_context(request)
    if body.program is None:
        await ctx.run(program_info, store, site_id, program_id)
        program = (await ctx.run(store.get, program_id, site=site_id)).program
    else:
        try:
            program = await ctx.run(parse_program, {**body.program, "id": program_id, "site": site_id})
        except ProgramError as err:
            raise _invalid(err.issues, ["body", "program"], f"{len(err.issues)} invalid field(s)") from None
    runs = _dry_runs(runtime)
    try:
        prepared = await ctx.run(runs.prepare, program, user.actor, body.duration_s)
        run = await runs.start(prepared)
    except ProgramError as err:
        raise _invalid(err.issues, ["body", "program"],
                       f"the program cannot run: {len(err.issues)} problem(s)") from None
    await ctx.audit(user.actor, "program.dry_run", f"{site_id}/{program_id}",
                    {"site": site_id, "duration_s": run.duration_s}, client_addr(request))
    return _dry_run_out(run)


@router.get("/sites/{site_id}/programs/{program_id}/dry-run", response_model=DryRunOut)
async def get_dry_run(
    site_id: str, program_id: str, request: Request,
    user: Principal = require("programs:read", site_param="site_id"),
) -> DryRunOut:
    """The program's dry run, running or ended (404 when there is none)."""
    runtime, _store, _engine = _parts_of(request, site_id)
    run = _dry_runs(runtime).get(site_id, program_id)
    if run is None:
        raise not_found(f"program {program_id!r} has no dry run")
    return _dry_run_out(run)


@router.delete("/sites/{site_id}/programs/{program_id}/dry-run", status_code=204)
async def stop_dry_run(
    site_id: str, program_id: str, request: Request,
    user: Principal = require("programs:write", site_param="site_id"),
) -> Response:
    """Stop the program's dry run (404 when there is none)."""
    runtime, _store, _engine = _parts_of(request, site_id)
    runs = _dry_runs(runtime)
    if runs.get(site_id, program_id) is None:
        raise not_found(f"program {program_id!r} has no dry run")
    await runs.stop(site_id, program_id)
    return Response(status_code=204)


# ------------------------------------------------------------------------------ commissioning overrides

#: Who held each block override and why (the engine keeps only the value and until), per app.
_OverrideNotes = dict[tuple[str, str, str], tuple[str, str]]


def _notes(request: Request) -> _OverrideNotes:
    notes: _OverrideNotes | None = getattr(request.app.state, "program_override_notes", None)
    if notes is None:
        notes = request.app.state.program_override_notes = {}
    return notes


def _running(engine: ProgramEngine, site_id: str, program_id: str) -> None:
    if not engine.is_loaded(program_id, site_id):
        raise conflict(f"program {program_id!r} is not running: deploy it to override its blocks")


@router.post("/sites/{site_id}/programs/{program_id}/overrides", response_model=ProgramOverrideOut,
             status_code=201)
async def override_program(
    site_id: str, program_id: str, body: ProgramOverrideRequest, request: Request,
    user: Principal = require("programs:deploy", site_param="site_id"),
) -> ProgramOverrideOut:
    """Override a running program for commissioning, for ``duration_s``; audited as ``program.override``.

    ``port`` ``"node.port"`` of a block's output: the engine holds that output at
    ``value`` (its block still runs; what it feeds, and through the program's
    outputs the points, see ``value``) until it expires or is released.
    ``port`` the id of an output node: its point is commanded at ``priority``
    (8, manual operator, by default) through the arbiter, timed, like any
    operator override, above the program's own slot.
    """
    runtime, _store, engine = _parts_of(request, site_id)
    ctx = get_context(request)
    _running(engine, site_id, program_id)
    stored = await ctx.run(store_get_running, runtime, site_id, program_id)
    node, dot, port = body.port.partition(".")
    output = next((o for o in stored.outputs if o.id == node), None)
    until = runtime.clock.now() + body.duration_s
    details: dict[str, Any] = {"site": site_id, "port": body.port, "value": body.value,
                               "duration_s": body.duration_s, "reason": body.reason.strip()}
    if output is not None and (not dot or port == "value"):
        if isinstance(runtime, RemoteCommands) and runtime.remote_site(site_id):
            raise ApiError(409, f"{output.point}: at a central openbms an output's point is its "
                                "edge's: override it there, or command it from here (its command "
                                "dialog, priority 9 to 16, with a duration); a block's output can "
                                "be held here", type="urn:openbms:problem:site-at-edge")
        try:
            cmd = await runtime.commands.command(output.point, body.value, body.priority,
                                                 source=command_source(user), requested_by=user.actor,
                                                 reason=body.reason.strip(), duration=body.duration_s)
        except CommandError as err:
            raise ApiError(422, str(err), type="urn:openbms:problem:command-refused",
                           title="Command refused") from err
        await ctx.audit(user.actor, "program.override", f"{site_id}/{program_id}",
                        {**details, "point": output.point, "priority": cmd.priority, "command_id": cmd.id},
                        client_addr(request))
        return ProgramOverrideOut(port=body.port, kind="point", value=cmd.value, until=cmd.expires_at,
                                  point=output.point, priority=cmd.priority, command_id=cmd.id,
                                  requested_by=user.actor, reason=cmd.reason)
    try:
        engine.override(program_id, site_id, node, port or "value", body.value, until)
    except KeyError as err:
        raise ApiError(422, f"{body.port!r} is neither a wired output of a block of program {program_id!r} "
                            "nor one of its output nodes", errors=[{"loc": ["body", "port"],
                                                                    "msg": str(err).strip("\"'"),
                                                                    "type": "program"}]) from None
    _notes(request)[(site_id, program_id, f"{node}.{port or 'value'}")] = (user.actor, body.reason.strip())
    await ctx.audit(user.actor, "program.override", f"{site_id}/{program_id}", details, client_addr(request))
    return ProgramOverrideOut(port=f"{node}.{port or 'value'}", kind="block", value=body.value, until=until,
                              requested_by=user.actor, reason=body.reason.strip())


def store_get_running(runtime: Services, site_id: str, program_id: str) -> Program:
    """The program document the engine runs (its deployed version)."""
    store = runtime.program_store
    assert store is not None
    return store.get(program_id, site=site_id).program


@router.get("/sites/{site_id}/programs/{program_id}/overrides", response_model=list[ProgramOverrideOut])
async def list_program_overrides(
    site_id: str, program_id: str, request: Request,
    user: Principal = require("programs:read", site_param="site_id"),
) -> list[ProgramOverrideOut]:
    """The program's overrides: its held block outputs, and the manual slots of its output points."""
    runtime, _store, engine = _parts_of(request, site_id)
    if not engine.is_loaded(program_id, site_id):
        return []
    notes = _notes(request)
    out = [ProgramOverrideOut(port=port, kind="block", value=value, until=until,
                              requested_by=notes.get((site_id, program_id, port), ("", ""))[0],
                              reason=notes.get((site_id, program_id, port), ("", ""))[1])
           for port, (value, until) in sorted(engine.overrides(program_id, site_id).items())]
    stored = await get_context(request).run(store_get_running, runtime, site_id, program_id)
    by_point = {o.point: o.id for o in stored.outputs}
    for held in runtime.commands.overrides(site_id):
        cmd = held.command
        if cmd.point in by_point:
            out.append(ProgramOverrideOut(port=by_point[cmd.point], kind="point", value=cmd.value,
                                          until=cmd.expires_at, point=cmd.point, priority=cmd.priority,
                                          command_id=cmd.id, requested_by=cmd.requested_by,
                                          reason=cmd.reason))
    return out


@router.delete("/sites/{site_id}/programs/{program_id}/overrides/{port}", status_code=204)
async def release_program_override(
    site_id: str, program_id: str, port: str, request: Request,
    priority: int = Query(8, ge=1, le=16, description="An output node's point: the slot to release."),
    reason: str = Query("", max_length=2000),
    user: Principal = require("programs:deploy", site_param="site_id"),
) -> Response:
    """End an override (404 when there is none); audited as ``program.release``."""
    runtime, _store, engine = _parts_of(request, site_id)
    ctx = get_context(request)
    _running(engine, site_id, program_id)
    stored = await ctx.run(store_get_running, runtime, site_id, program_id)
    node, dot, name = port.partition(".")
    output = next((o for o in stored.outputs if o.id == node), None)
    details: dict[str, Any] = {"site": site_id, "port": port, "reason": reason.strip()}
    if output is not None and (not dot or name == "value"):
        held = runtime.commands.slots(output.point)[priority - 1]
        if held is None or held.source not in MANUAL_SOURCES:  # never the program's or a schedule's
            raise not_found(f"no override of {port!r} at priority {priority}")
        await runtime.commands.release(output.point, priority, source=command_source(user),
                                       requested_by=user.actor, reason=reason.strip() or "override ended")
        details.update(point=output.point, priority=priority)
    else:
        try:
            released = engine.release_override(program_id, site_id, node, name or "value")
        except KeyError:
            released = False
        if not released:
            raise not_found(f"no override of {port!r} in program {program_id!r}")
        _notes(request).pop((site_id, program_id, f"{node}.{name or 'value'}"), None)
    await ctx.audit(user.actor, "program.release", f"{site_id}/{program_id}", details, client_addr(request))
    return Response(status_code=204)
