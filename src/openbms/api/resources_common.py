"""What the site, point, history and device routes share: the running site, config edits, paging.

Configuration edits go one way only: a route builds a new ``SiteConfig`` from
the running one and hands it to ``Runtime.apply_site``, which validates it,
writes the site's YAML file, syncs the state database and applies it. So the
YAML files (configuration as code) and the API never disagree. Edits of one
runtime are serialised here, because ``apply_site`` only sees the result of
a read-modify-write, and two concurrent edits must not lose one another.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import ValidationError
from starlette.requests import Request

from openbms.api.auth.principal import Principal
from openbms.api.context import client_addr, get_context
from openbms.api.errors import ApiError, bad_request, not_found, site_not_found
from openbms.api.pagination import decode_cursor, page
from openbms.errors import ConfigError
from openbms.model.site import Equipment, Point, SiteConfig

__all__ = [
    "VALIDATION",
    "audit",
    "change_site",
    "find_equipment",
    "find_point",
    "finite",
    "paginate",
    "replace_equipment",
    "runtime_of",
    "site_config",
    "validation_problem",
]

T = TypeVar("T")
SiteT = TypeVar("SiteT", bound=SiteConfig)

VALIDATION = "urn:openbms:problem:validation-error"

_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


def edit_lock(runtime: Any) -> asyncio.Lock:
    """The one lock every configuration change of a runtime holds while it reads a site, changes
    it and applies it (points, spaces, equipment, schedules, calendars alike), so that two
    changes never start from the same configuration and one of them is lost."""
    lock = _locks.get(runtime)
    if lock is None:
        lock = _locks[runtime] = asyncio.Lock()
    return lock


def finite(value: Any) -> Any:
    """``value``, or None for NaN and infinities (JSON has no such numbers)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def runtime_of(request: Request) -> Any:
    """The running openbms Runtime; 503 when the API runs without one."""
    runtime = get_context(request).runtime
    if runtime is None:
        raise ApiError(503, "this API runs without a building runtime: no sites are loaded")
    return runtime


def site_config(request: Request, site_id: str) -> SiteConfig:
    """The running configuration of ``site_id`` (the route has checked the caller sees it)."""
    for cfg in runtime_of(request).sites:
        if cfg.site.id == site_id:
            return cfg
    raise site_not_found(site_id)


def find_equipment(cfg: SiteConfig, equip_id: str) -> Equipment:
    """An equipment of the site, or 404."""
    for equip in cfg.equipment:
        if equip.id == equip_id:
            return equip
    raise not_found(f"no equipment {equip_id!r} in site {cfg.site.id!r}")


def find_point(cfg: SiteConfig, equip_id: str, name: str) -> tuple[Equipment, Point]:
    """A point of the site by equipment and name, or 404 (the same for an unknown equipment)."""
    for equip in cfg.equipment:
        if equip.id == equip_id:
            for point in equip.points:
                if point.name == name:
                    return equip, point
    raise not_found(f"no point {f'{cfg.site.id}/{equip_id}/{name}'!r}")


def validation_problem(err: ValidationError, prefix: Sequence[str | int] = ("body",)) -> ApiError:
    """A pydantic error of a merged or rebuilt model, as the 422 FastAPI gives for a request body."""
    errors = [
        {
            "loc": [*prefix, *(p if isinstance(p, int) else str(p) for p in e["loc"])],
            "msg": e["msg"].removeprefix("Value error, "),
            "type": e["type"],
        }
        for e in err.errors(include_url=False, include_context=False, include_input=False)
    ]
    return ApiError(422, f"{len(errors)} invalid field(s)", type=VALIDATION, errors=errors)


def _config_problem(err: ConfigError, removal: bool) -> ApiError:
    # The file, line and column point into a YAML file the caller never wrote (and
    # name a server path): the message says what is wrong, in the site's terms.
    errors = [{"loc": ["body"], "msg": issue.message, "type": "config_error"} for issue in err.issues]
    if removal:  # no body to blame: what is left refers to what goes
        detail = "; ".join(issue.message for issue in err.issues)
        return ApiError(409, f"still in use: {detail}", errors=errors)
    return ApiError(
        422,
        f"the change makes the site configuration invalid: {len(errors)} problem(s)",
        type=VALIDATION,
        errors=errors,
    )


async def change_site(
    request: Request, site_id: str, change: Callable[[SiteConfig], SiteConfig], *, removal: bool = False
) -> SiteConfig:
    """Apply ``change`` to the running configuration of ``site_id``; the configuration now running.

    ``change`` may raise ``ApiError`` (404, 409, 422). A change the whole site
    rejects (references, bindings, units) is a 422 listing every problem, or
    for a ``removal`` (a DELETE, which has no body to blame) a 409.
    """
    runtime = runtime_of(request)
    async with edit_lock(runtime):
        new = change(site_config(request, site_id))
        try:
            await runtime.apply_site(new)
        except ConfigError as err:
            raise _config_problem(err, removal) from err
        return site_config(request, site_id)


def replace_equipment(cfg: SiteT, equip: Equipment) -> SiteT:
    """``cfg`` with ``equip`` replacing the equipment of the same id (private attributes kept)."""
    return cfg.model_copy(
        update={"equipment": tuple(equip if e.id == equip.id else e for e in cfg.equipment)}
    )


async def audit(request: Request, user: Principal, action: str, target: str, details: dict[str, Any]) -> None:
    """Record a configuration change."""
    await get_context(request).audit(user.actor, action, target, details, client_addr(request))


def paginate(
    items: Sequence[T], key: Callable[[T], str], limit: int, cursor: str | None
) -> tuple[list[T], str | None]:
    """A page of ``items`` (sorted by ``key``) after the cursor's key, and the next cursor."""
    after = decode_cursor(cursor, {"after": str}).get("after")
    if after is not None:
        if not isinstance(after, str):
            raise bad_request("invalid cursor: pass the next_cursor of the previous page as it was")
        items = [item for item in items if key(item) > after]
    return page(items[: limit + 1], limit, lambda item: {"after": key(item)})
