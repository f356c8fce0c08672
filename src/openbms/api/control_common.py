"""What the control routes (commands, alarms, schedules, programs) share.

The running :class:`~openbms.service.runtime.Runtime` and a site's configuration
as it runs, who a caller is in a command or an alarm's history, keyset
pagination of lists kept in memory, and pydantic errors turned into the
field-level 422 problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from pydantic import ValidationError
from starlette.requests import HTTPConnection

from openbms.api.auth.principal import Principal
from openbms.api.context import get_context
from openbms.api.errors import ApiError, site_not_found
from openbms.api.pagination import decode_cursor, encode_cursor
from openbms.model.site import Point, SiteConfig

__all__ = [
    "command_source",
    "keyset_page",
    "pydantic_problem",
    "runtime_of",
    "site_config",
    "site_point",
    "validation_problem",
]

T = TypeVar("T")


def runtime_of(conn: HTTPConnection) -> Any:
    """The running Runtime; a 503 problem when the API runs without one (tests, tools)."""
    runtime = get_context(conn).runtime
    if runtime is None:
        raise ApiError(503, "the control runtime is not running in this process")
    return runtime


def site_config(runtime: Any, site_id: str) -> SiteConfig:
    """The configuration a site runs with; the site 404 when it does not run here."""
    for cfg in runtime.sites:
        if cfg.site.id == site_id:
            found: SiteConfig = cfg
            return found
    raise site_not_found(site_id)


def site_point(cfg: SiteConfig, equip_id: str, name: str) -> tuple[str, Point]:
    """A point of the site by equipment and name, with its id; a 404 problem when there is none."""
    point_id = f"{cfg.site.id}/{equip_id}/{name}"
    for pid, _equip, point in cfg.points():
        if pid == point_id:
            return pid, point
    raise ApiError(404, f"no point {point_id!r}")


def command_source(user: Principal) -> str:
    """``api`` for a machine (an API token), ``operator`` for a person signed in."""
    return "api" if user.via == "api_token" else "operator"


def validation_problem(errors: Sequence[dict[str, Any]]) -> ApiError:
    """The 422 validation problem with its field-level list (``{loc, msg, type}`` each)."""
    return ApiError(
        422,
        f"{len(errors)} invalid field(s)",
        type="urn:openbms:problem:validation-error",
        errors=list(errors),
    )


def pydantic_problem(err: ValidationError, prefix: Iterable[str | int] = ("body",)) -> ApiError:
    """A pydantic ``ValidationError`` as the 422 problem, each location under ``prefix``."""
    head = list(prefix)
    return validation_problem([
        {"loc": head + [p if isinstance(p, int) else str(p) for p in e["loc"]],
         "msg": str(e["msg"]), "type": str(e["type"])}
        for e in err.errors(include_url=False)
    ])


def keyset_page(
    items: Sequence[T],
    key: Callable[[T], list[Any]],
    limit: int,
    cursor: str | None,
) -> tuple[list[T], str | None]:
    """A page of ``items`` (already sorted by ``key``, ascending) after ``cursor``.

    The cursor holds the sort key of the last item sent, so a page stays
    right while items come and go (unlike an offset).
    """
    position = decode_cursor(cursor)
    after = position.get("k")
    if position:
        if position.keys() != {"k"} or not isinstance(after, list) or not after:
            raise ApiError(400, "invalid cursor: pass the next_cursor of the previous page as it was")
        try:
            items = [i for i in items if key(i) > after]
        except TypeError as err:
            raise ApiError(400, "invalid cursor: pass the next_cursor of the previous page as it was") \
                from err
    chosen = list(items[:limit])
    more = len(items) > limit
    return chosen, (encode_cursor({"k": key(chosen[-1])}) if more and chosen else None)
