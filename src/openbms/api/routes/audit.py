"""``/api/v1/audit``: the audit log, newest first, for admins on every site."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from openbms.api.auth.permissions import refusals, require
from openbms.api.auth.principal import Principal
from openbms.api.context import get_context
from openbms.api.helpers import Cursor, Limit, Page, decode_cursor, page
from openbms.db import audit_entries

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditEntry(BaseModel):
    """Who did what, to what, when (epoch seconds) and from where."""

    id: int
    ts: float
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    remote_addr: str | None


@router.get("", response_model=Page[AuditEntry])
async def list_audit(
    request: Request,
    actor: str | None = Query(
        None, max_length=200, description="Exactly this actor (an e-mail, schedule:…)."
    ),
    action: str | None = Query(
        None, max_length=64, description="This action, or a prefix ending in * (auth.*)."
    ),
    target: str | None = Query(None, max_length=200, description="Exactly this target."),
    since: float | None = Query(None, description="From this time (epoch seconds, inclusive)."),
    until: float | None = Query(None, description="Up to this time (epoch seconds, exclusive)."),
    limit: int = Limit,
    cursor: str | None = Cursor,
    user: Principal = require("audit:read"),
) -> Page[AuditEntry]:
    """Audit entries, newest first, filtered (refusals with their latest counts)."""
    ctx = get_context(request)
    await refusals(request).flush(ctx)
    pos = decode_cursor(cursor, {"id": int}).get("id")
    rows = await ctx.run(
        audit_entries,
        ctx.engine,
        actor=actor,
        action=action,
        target=target,
        since=since,
        until=until,
        before_id=pos,
        limit=limit + 1,
    )
    items, nxt = page(rows, limit, lambda r: {"id": r["id"]})
    return Page[AuditEntry](items=[AuditEntry(**r) for r in items], next_cursor=nxt)
