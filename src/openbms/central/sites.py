"""The sites the centre serves, built from the configurations its edges published.

An edge keeps control authority: its drivers, schedules, alarm rules and
programs run there, and only there. The centre's copy of a site keeps what the
API and the dashboard show (the site, its spaces, equipment and points with
their units, tags and history policies, calendars, energy settings and
tariffs) and drops the rest: no binding (the centre polls nothing), no
``mqtt:`` (it bridges nothing), no schedules, alarm rules, notifications or
programs, and no point is writable there: the centre's runtime holds no
priority array. A command made through the centre's API is queued for the edge
(``remote.py``), whose published configuration says which points it lets write. History keeps each
point's retention but not its change-of-value filter (``deadband``,
``max_interval``): the edge's bridge sends every sample of its bus, and the
centre keeps every sample it receives, whichever worker takes it (a filter's
state would be split among the workers of a shared subscription).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from openbms.model.site import SiteConfig

__all__ = ["central_site"]

log = logging.getLogger(__name__)

#: What the edge runs and the centre does not.
_EDGE_ONLY = ("drivers", "mqtt", "schedules", "alarms", "notifications", "programs")
_WRITING = ("binding", "poll", "writable", "limits", "relinquish_default", "command")
#: A history policy's change-of-value filter (its retention stays).
_FILTER = ("deadband", "max_interval")


def _point(point: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in point.items() if k not in _WRITING}
    history = out.get("history")
    if isinstance(history, dict):
        out["history"] = {k: v for k, v in history.items() if k not in _FILTER}
    return out


def central_site(config: dict[str, Any]) -> SiteConfig:
    """The centre's copy of a published configuration; ValueError says what is wrong with it."""
    data = {k: v for k, v in config.items() if k not in _EDGE_ONLY}
    equipment = []
    for equip in data.get("equipment") or ():
        if not isinstance(equip, dict):
            equipment.append(equip)
            continue
        points = [_point(p) if isinstance(p, dict) else p for p in equip.get("points") or ()]
        equipment.append({**equip, "points": points})
    data["equipment"] = equipment
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as err:
        site = (config.get("site") or {}).get("id") if isinstance(config.get("site"), dict) else None
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ValueError(f"site {site!r}: its published configuration is not one this openbms "
                         f"reads: {where}: {first['msg']} ({err.error_count()} problem(s))") from None
