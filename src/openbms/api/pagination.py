"""Cursor pagination: list endpoints answer ``{"items": [...], "next_cursor": "..." | null}``.

A cursor is opaque to clients (base64url of a small JSON document, usually
the sort key of the last item sent); a cursor that does not decode is a 400.
Keyset pagination, not offsets: pages stay stable while rows are appended.

    @router.get("", response_model=Page[Thing])
    def list_things(limit: int = Limit, cursor: str | None = Cursor):
        after = decode_cursor(cursor, {"id": str})   # {} on the first page
        rows = query(after_id=after.get("id"), limit=limit + 1)
        return page(rows, limit, lambda row: {"id": row.id})

A client can send anything as a cursor, so a decoded one is checked before a
query sees it: a flat object of strings, booleans, finite numbers and integers
a database column holds (never NaN, an infinity or a 30-digit integer), or short
lists of them (a sort key); given ``fields``, exactly those keys with those
types. Anything else is the same 400.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from openbms.api.errors import ApiError

__all__ = ["Cursor", "Limit", "Page", "decode_cursor", "encode_cursor", "page"]

T = TypeVar("T")

Limit = Query(100, ge=1, le=1000, description="At most this many items.")
Cursor = Query(None, max_length=512, description="The next_cursor of the previous page.")


class Page(BaseModel, Generic[T]):
    """One page of a list, and the cursor of the next one (null on the last page)."""

    items: list[T]
    next_cursor: str | None = None


def encode_cursor(position: dict[str, Any]) -> str:
    """An opaque cursor for ``position``."""
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_INVALID = "invalid cursor: pass the next_cursor of the previous page as it was"
_INT64 = 1 << 63

#: What a cursor field may be: ``float`` takes integers too; ``int`` never takes a bool.
FieldType = type[str] | type[int] | type[float] | type[bool]


#: The most fields of a sort key held as a list (keyset pages: ``{"k": [class, ts, id]}``).
_MAX_KEY = 8


def _field(value: Any) -> bool:
    """A scalar, or a short flat list of scalars (a sort key)."""
    if isinstance(value, list):
        return len(value) <= _MAX_KEY and all(_scalar(v) for v in value)
    return _scalar(value)


def _scalar(value: Any) -> bool:
    if isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        return -_INT64 <= value < _INT64
    return isinstance(value, float) and math.isfinite(value)


def _fits(value: Any, kind: FieldType) -> bool:
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


def decode_cursor(cursor: str | None, fields: Mapping[str, FieldType] | None = None) -> dict[str, Any]:
    """The position a cursor stands for; ``{}`` for none; a 400 problem for a bad one.

    With ``fields`` (name → type), a cursor must hold exactly those fields, of those types.
    """
    if not cursor:
        return {}
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as err:
        raise ApiError(400, _INVALID) from err
    if not isinstance(position, dict) or not all(_field(v) for v in position.values()):
        raise ApiError(400, _INVALID)
    if fields is not None and (
        position.keys() != fields.keys() or not all(_fits(position[k], t) for k, t in fields.items())
    ):
        raise ApiError(400, _INVALID)
    return position


def page(
    rows: Sequence[T], limit: int, position_of: Callable[[T], dict[str, Any]]
) -> tuple[list[T], str | None]:
    """Items and next cursor, from ``rows`` fetched with ``limit + 1`` (the extra tells there is more)."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return items, (encode_cursor(position_of(items[-1])) if more and items else None)
