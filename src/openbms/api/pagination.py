"""Cursor pagination: list endpoints answer ``{"items": [...], "next_cursor": "..." | null}``.

A cursor is opaque to clients (base64url of a small JSON document, usually
the sort key of the last item sent); a cursor that does not decode is a 400.
Keyset pagination, not offsets: pages stay stable while rows are appended.

    @router.get("", response_model=Page[Thing])
    def list_things(limit: int = Limit, cursor: str | None = Cursor):
        after = decode_cursor(cursor)            # {} on the first page
        rows = query(after_id=after.get("id"), limit=limit + 1)
        return page(rows, limit, lambda row: {"id": row.id})
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
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


def decode_cursor(cursor: str | None) -> dict[str, Any]:
    """The position a cursor stands for; ``{}`` for none; a 400 problem for a bad one."""
    if not cursor:
        return {}
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as err:
        raise ApiError(400, "invalid cursor: pass the next_cursor of the previous page as it was") from err
    if not isinstance(position, dict):
        raise ApiError(400, "invalid cursor: pass the next_cursor of the previous page as it was")
    return position


def page(
    rows: Sequence[T], limit: int, position_of: Callable[[T], dict[str, Any]]
) -> tuple[list[T], str | None]:
    """Items and next cursor, from ``rows`` fetched with ``limit + 1`` (the extra tells there is more)."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return items, (encode_cursor(position_of(items[-1])) if more and items else None)
