"""``/api/v1/sites/{site}/program-templates``: programs with their points as parameters, per equipment kind.

A template is made from a program written for one piece of equipment (its
points become roles: their Brick class, else their name) or sent whole, and
kept per site in the state database. Applying it to every piece of
equipment of its type (or of a Brick class, or a list) answers one program
per piece of equipment, validated against the site's points, for review;
with ``save`` they are saved as new versions (never deployed), each audited
as ``program.save``. Reading needs ``programs:read``; the rest
``programs:write``. See docs/programs.md, "Templates".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from openbms.api.auth.permissions import require
from openbms.api.auth.principal import Principal
from openbms.api.context import client_addr, get_context
from openbms.api.errors import ApiError, not_found
from openbms.api.helpers import runtime_of, site_config
from openbms.api.routes.programs import IssueOut, program_info
from openbms.control.programs import ProgramError, ProgramIssue, parse_program, validate_program
from openbms.control.programs.templates import Template, TemplateStore, apply_template, make_template
from openbms.model.site import EquipmentType

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["programs"])

_ID = r"^[a-z0-9][a-z0-9_.-]*$"


class TemplateOut(BaseModel):
    """A template: its program document with roles for its equipment's points."""

    id: str
    name: str
    description: str
    equipment_type: str
    brick_class: str = Field(description="The Brick class of the equipment it applies to (VAV, AHU…).")
    roles: list[str] = Field(description="The roles its points take: '$brick:<class>' or '$name:<point>'.")
    program: dict[str, Any]


class TemplateList(BaseModel):
    items: list[TemplateOut]


class SaveTemplateRequest(BaseModel):
    """Either a program (a saved one by ``program_id``, or a document) and the ``equipment`` it was written
    for, or a whole ``template`` (``equipment_type`` and a ``program`` with roles)."""

    program_id: str | None = Field(None, description="A saved program: its latest version.")
    program: dict[str, Any] | None = Field(None, description="A program document (instead of program_id).")
    equipment: str | None = Field(None, description="The equipment the program was written for.")
    equipment_type: EquipmentType | None = Field(None, description="With a whole template's program.")
    name: str = Field("", max_length=200)
    description: str = Field("", max_length=4000)


class ApplyRequest(BaseModel):
    """Which equipment (default: every piece of the template's type), and whether to save the programs."""

    equipment: list[str] | None = Field(None, max_length=1000, description="Equipment ids.")
    brick_class: str | None = Field(None, max_length=100, description="Every piece of this Brick class.")
    save: bool = Field(False, description="Save each program as a new version (none is deployed).")
    comment: str = Field("", max_length=2000)


class GeneratedOut(BaseModel):
    """The program a template gives one piece of equipment."""

    equipment: str
    program_id: str | None
    program: dict[str, Any] | None = Field(description="Null when a role could not be bound.")
    issues: list[IssueOut] = Field(description="Roles not bound, and the program's validation problems.")
    version: int | None = Field(None, description="The version saved (save: true).")
    created: bool = Field(False, description="False: not saved, or the latest version held it already.")


class ApplyOut(BaseModel):
    template: str
    items: list[GeneratedOut]


def _store(request: Request, site_id: str) -> TemplateStore:
    runtime = runtime_of(request)
    site_config(runtime, site_id)
    ctx = get_context(request)
    return TemplateStore(ctx.engine, ctx.building_now)


def _out(t: Template) -> TemplateOut:
    return TemplateOut(id=t.id, name=t.name, description=t.description, equipment_type=t.equipment_type,
                       brick_class=t.brick_class, roles=t.roles(), program=t.program)


def _invalid(issues: list[ProgramIssue], detail: str) -> ApiError:
    errors = [{"loc": ["body", *i.path.split(".")], "msg": i.message, "type": "template"} for i in issues]
    return ApiError(422, detail, type="urn:openbms:problem:validation-error", errors=errors)


@router.get("/sites/{site_id}/program-templates", response_model=TemplateList)
async def list_templates(site_id: str, request: Request,
                         user: Principal = require("programs:read", site_param="site_id")) -> TemplateList:
    """The site's program templates by id."""
    store = _store(request, site_id)
    return TemplateList(items=[_out(t) for t in await get_context(request).run(store.list, site_id)])


@router.get("/sites/{site_id}/program-templates/{template_id}", response_model=TemplateOut)
async def get_template(site_id: str, template_id: str, request: Request,
                       user: Principal = require("programs:read", site_param="site_id")) -> TemplateOut:
    """One template."""
    store = _store(request, site_id)
    found = await get_context(request).run(store.get, site_id, template_id)
    if found is None:
        raise not_found(f"no program template {template_id!r} on site {site_id!r}")
    return _out(found)


@router.put("/sites/{site_id}/program-templates/{template_id}", response_model=TemplateOut, status_code=201,
            responses={200: {"model": TemplateOut, "description": "An existing template replaced"}})
async def save_template(
    site_id: str, body: SaveTemplateRequest, request: Request, response: Response,
    template_id: str = Path(pattern=_ID, max_length=48),
    user: Principal = require("programs:write", site_param="site_id"),
) -> TemplateOut:
    """Make a template of a program written for one piece of equipment, or keep a whole template."""
    runtime = runtime_of(request)
    cfg = site_config(runtime, site_id)
    store = _store(request, site_id)
    ctx = get_context(request)
    try:
        if body.equipment_type is not None:
            if body.program is None or body.equipment is not None or body.program_id is not None:
                raise ProgramError([ProgramIssue("program", "a whole template is 'equipment_type' and "
                                                            "'program' (with roles), nothing else")])
            template = Template(id=template_id, name=body.name, description=body.description,
                                equipment_type=body.equipment_type,
                                program={**body.program, "id": "template", "site": site_id})
            await ctx.run(parse_program, template.program)  # its shape; roles are points to come
        else:
            if body.equipment is None or (body.program is None) == (body.program_id is None):
                raise ProgramError([ProgramIssue(
                    "equipment", "give 'equipment' and either 'program_id' or 'program' (or 'equipment_type' "
                                 "and 'program')")])
            if body.program_id is not None:
                programs = runtime.program_store
                if programs is None:
                    raise ApiError(503, "the logic program engine is not running")
                await ctx.run(program_info, programs, site_id, body.program_id)
                program = (await ctx.run(programs.get, body.program_id, site=site_id)).program
            else:
                program = await ctx.run(parse_program, {"id": "template", **(body.program or {}),
                                                        "site": site_id})
            template = await ctx.run(make_template, program, cfg, body.equipment, template_id, body.name,
                                     body.description)
        created = await ctx.run(store.save, site_id, template)
    except ProgramError as err:
        raise _invalid(err.issues, "; ".join(i.message for i in err.issues)) from None
    except ValueError as err:  # the template model's own checks
        raise ApiError(422, str(err)) from None
    await ctx.audit(user.actor, "program_template.save", f"{site_id}/{template_id}",
                    {"site": site_id, "equipment_type": template.equipment_type}, client_addr(request))
    if not created:
        response.status_code = 200
    return _out(template)


@router.delete("/sites/{site_id}/program-templates/{template_id}", status_code=204)
async def delete_template(site_id: str, template_id: str, request: Request,
                          user: Principal = require("programs:write", site_param="site_id")) -> Response:
    """Forget a template (the programs made from it stay)."""
    store = _store(request, site_id)
    ctx = get_context(request)
    if not await ctx.run(store.delete, site_id, template_id):
        raise not_found(f"no program template {template_id!r} on site {site_id!r}")
    await ctx.audit(user.actor, "program_template.delete", f"{site_id}/{template_id}", {"site": site_id},
                    client_addr(request))
    return Response(status_code=204)


@router.post("/sites/{site_id}/program-templates/{template_id}/apply", response_model=ApplyOut)
async def apply(
    site_id: str, template_id: str, body: ApplyRequest, request: Request,
    user: Principal = require("programs:write", site_param="site_id"),
) -> ApplyOut:
    """One program per piece of equipment, validated, for review; ``save``: saved, never deployed."""
    runtime = runtime_of(request)
    cfg = site_config(runtime, site_id)
    store = _store(request, site_id)
    ctx = get_context(request)
    template = await ctx.run(store.get, site_id, template_id)
    if template is None:
        raise not_found(f"no program template {template_id!r} on site {site_id!r}")
    engine, programs = runtime.programs, runtime.program_store
    if engine is None or programs is None:
        raise ApiError(503, "the logic program engine is not running")
    try:
        generated = await ctx.run(apply_template, template, cfg, body.equipment, body.brick_class)
    except ProgramError as err:
        raise _invalid(err.issues, "; ".join(i.message for i in err.issues)) from None
    items = []
    for g in generated:
        if g.program is None:
            items.append(GeneratedOut(equipment=g.equipment, program_id=None, program=None, version=None,
                                      created=False,
                                      issues=[IssueOut(path=i.path, message=i.message) for i in g.issues]))
            continue
        issues = await ctx.run(validate_program, g.program, engine.catalog)
        item = GeneratedOut(equipment=g.equipment, program_id=g.program.id, program=g.program.to_json_dict(),
                            issues=[IssueOut(path=i.path, message=i.message) for i in issues], version=None,
                            created=False)
        if body.save:
            try:
                saved = await ctx.run(programs.save, g.program, user.actor,
                                      body.comment or f"from template {template_id}")
            except ProgramError as err:  # the site has as many programs as it may
                item.issues += [IssueOut(path=i.path, message=i.message) for i in err.issues]
            else:
                item.version, item.created = int(saved), bool(saved.created)
                if saved.created:
                    await ctx.audit(user.actor, "program.save", f"{site_id}/{g.program.id}",
                                    {"site": site_id, "version": int(saved), "template": template_id,
                                     "comment": body.comment}, client_addr(request))
        items.append(item)
    return ApplyOut(template=template_id, items=items)
