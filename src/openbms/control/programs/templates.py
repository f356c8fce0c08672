"""Program templates: a program whose points are parameters, applied to every piece of equipment of a kind.

A template is a program document in which the points of one piece of
equipment are written by their role in it instead of their id::

    {"point": "$brick:Zone_Air_Temperature_Sensor"}   the equipment's point of that Brick class
    {"point": "$name:zone-temp"}                       the equipment's point of that name

Points of other equipment (an outdoor-air sensor every box shares) keep
their ids. ``make_template`` turns a program written for one piece of
equipment into a template (by Brick class where the point has a class no
other point of the equipment has, else by name); ``apply_template`` binds a
template to each piece of equipment of a type (``vav``) or Brick class
(``VAV``), one program per piece of equipment, each listing what could not
be bound. Nothing here validates against the site's points or stores
anything: the caller validates each program and saves it (never deploys).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from pydantic import Field

from openbms.control.programs.model import Program, ProgramError, ProgramIssue, _Strict, parse_program
from openbms.db import load_state, save_state
from openbms.model.site import Equipment, EquipmentType, SiteConfig

__all__ = ["BRICK_EQUIPMENT", "MAX_TEMPLATES", "Generated", "Template", "TemplateStore", "apply_template",
           "bind", "equipment_of", "make_template"]

#: The Brick class of each equipment type (what "apply to every VAV" means).
BRICK_EQUIPMENT: dict[str, str] = {
    "ahu": "AHU", "vav": "VAV", "fcu": "FCU", "rtu": "RTU", "chiller": "Chiller", "boiler": "Boiler",
    "pump": "Pump", "fan": "Fan", "cooling-tower": "Cooling_Tower", "heat-exchanger": "Heat_Exchanger",
    "meter": "Meter", "thermostat": "Thermostat", "sensor": "Sensor", "lighting": "Lighting_System",
    "plant": "Central_Plant", "weather": "Weather_Station", "other": "Equipment",
}

_ROLE = re.compile(r"^\$(brick|name):(.+)$")
_ID_SAFE = re.compile(r"[^a-z0-9_.-]+")


class Template(_Strict):
    """A program with its equipment's points as roles, for equipment of one type."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=48)
    name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=4000)
    equipment_type: EquipmentType
    program: dict[str, Any] = Field(description="The program document; its equipment's points are roles.")

    @property
    def brick_class(self) -> str:
        return BRICK_EQUIPMENT[self.equipment_type]

    def roles(self) -> list[str]:
        """Every role the template's inputs and outputs use, in order."""
        found: dict[str, None] = {}
        for key in ("inputs", "outputs"):
            for node in self.program.get(key, ()):
                point = node.get("point") if isinstance(node, dict) else None
                if isinstance(point, str) and _ROLE.match(point):
                    found.setdefault(point)
        return list(found)


@dataclass
class Generated:
    """The program a template gives one piece of equipment, and what could not be bound."""

    equipment: str
    program: Program | None
    issues: list[ProgramIssue] = field(default_factory=list)


def equipment_of(cfg: SiteConfig, equip_id: str) -> Equipment | None:
    return next((e for e in cfg.equipment if e.id == equip_id), None)


def make_template(program: Program, cfg: SiteConfig, equip_id: str, template_id: str, name: str = "",
                  description: str = "") -> Template:
    """``program``, written for ``equip_id``, with that equipment's points as roles."""
    equip = equipment_of(cfg, equip_id)
    if equip is None:
        raise ProgramError([ProgramIssue("equipment", f"site {cfg.site.id!r} has no equipment {equip_id!r}")])
    prefix = f"{cfg.site.id}/{equip.id}/"
    classes: dict[str, int] = {}
    for p in equip.points:
        if p.brick:
            classes[p.brick] = classes.get(p.brick, 0) + 1
    by_name = {p.name: p for p in equip.points}
    document = program.to_json_dict()
    used = 0
    for key in ("inputs", "outputs"):
        for node in document[key]:
            point_id = node["point"]
            if not point_id.startswith(prefix) or point_id[len(prefix):] not in by_name:
                continue  # another equipment's point: shared by every program the template makes
            point = by_name[point_id[len(prefix):]]
            unique = point.brick is not None and classes.get(point.brick) == 1
            node["point"] = f"$brick:{point.brick}" if unique else f"$name:{point.name}"
            used += 1
    if not used:
        raise ProgramError([ProgramIssue("equipment", f"the program reads and writes no point of "
                                                      f"{equip.id!r}: nothing to make a parameter of")])
    document["id"], document["site"] = "template", cfg.site.id
    return Template(id=template_id, name=name or program.name, description=description or program.description,
                    equipment_type=equip.type, program=document)


def bind(role: str, cfg: SiteConfig, equip: Equipment) -> tuple[str | None, str]:
    """The point id a role names on ``equip``, or None and why not."""
    match = _ROLE.match(role)
    if match is None:
        return role, ""
    how, what = match.groups()
    if how == "name":
        found = [p for p in equip.points if p.name == what]
        wanted = f"no point named {what!r}"
    else:
        found = [p for p in equip.points if p.brick == what]
        wanted = f"no point of Brick class {what!r}"
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            return None, f"{len(found)} points of Brick class {what!r} ({names}): the role is ambiguous"
    if not found:
        return None, f"{equip.id!r} has {wanted}"
    return cfg.point_id(equip, found[0]), ""


def _program_id(template_id: str, equip_id: str) -> str:
    return _ID_SAFE.sub("-", f"{template_id}-{equip_id}".lower())[:64]


def apply_template(template: Template, cfg: SiteConfig, equipment: Iterable[str] | None = None,
                   brick_class: str | None = None) -> list[Generated]:
    """One program per piece of equipment: those named, else every one of the template's type (or of
    ``brick_class``). Roles it cannot bind are issues at the node's ``point``, the program then None."""
    if equipment is not None:
        targets: list[Equipment] = []
        missing = []
        for equip_id in equipment:
            e = equipment_of(cfg, equip_id)
            if e is None:
                missing.append(equip_id)
            else:
                targets.append(e)
        if missing:
            raise ProgramError([ProgramIssue("equipment", f"site {cfg.site.id!r} has no equipment "
                                                          f"{', '.join(map(repr, missing))}")])
    else:
        wanted = brick_class or template.brick_class
        targets = [e for e in cfg.equipment if BRICK_EQUIPMENT[e.type] == wanted]
    out = []
    for equip in targets:
        document = {**template.program, "id": _program_id(template.id, equip.id), "site": cfg.site.id,
                    "name": f"{template.name or template.id}: {equip.name or equip.id}"[:200]}
        issues = []
        for key in ("inputs", "outputs"):
            nodes = []
            for i, node in enumerate(document.get(key, ())):
                point, why = bind(node.get("point", ""), cfg, equip)
                if point is None:
                    issues.append(ProgramIssue(f"{key}[{i}].point", why))
                nodes.append({**node, "point": point if point is not None else node.get("point")})
            document[key] = nodes
        if issues:
            out.append(Generated(equip.id, None, issues))
            continue
        try:
            out.append(Generated(equip.id, parse_program(document)))
        except ProgramError as err:
            out.append(Generated(equip.id, None, err.issues))
    return out


#: Templates one site may keep.
MAX_TEMPLATES = 200
_LOCK = threading.Lock()  # one read-modify-write of a site's templates at a time in this process


class TemplateStore:
    """A site's templates in the state database (``runtime_state``, key ``program-templates:<site>``)."""

    def __init__(self, engine: sa.Engine, now: Callable[[], float]) -> None:
        self.engine = engine
        self._now = now

    @staticmethod
    def _key(site: str) -> str:
        return f"program-templates:{site}"

    def _all(self, site: str) -> dict[str, Any]:
        stored = load_state(self.engine, self._key(site))
        return stored if isinstance(stored, dict) else {}

    def list(self, site: str) -> list[Template]:
        """The site's templates by id."""
        return [Template.model_validate(v) for _k, v in sorted(self._all(site).items())]

    def get(self, site: str, template_id: str) -> Template | None:
        found = self._all(site).get(template_id)
        return None if found is None else Template.model_validate(found)

    def save(self, site: str, template: Template) -> bool:
        """Keep ``template`` (replacing one of its id); whether it is new."""
        with _LOCK:
            stored = self._all(site)
            new = template.id not in stored
            if new and len(stored) >= MAX_TEMPLATES:
                raise ProgramError([ProgramIssue("id", f"site {site!r} has {len(stored)} templates, "
                                                       f"the most it may keep")])
            stored[template.id] = template.model_dump(mode="json")
            save_state(self.engine, self._key(site), stored, self._now())
            return new

    def delete(self, site: str, template_id: str) -> bool:
        with _LOCK:
            stored = self._all(site)
            if stored.pop(template_id, None) is None:
                return False
            save_state(self.engine, self._key(site), stored, self._now())
            return True
