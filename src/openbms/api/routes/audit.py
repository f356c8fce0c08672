"""``/api/v1/audit``: the audit log, newest first, for admins on every site."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from openbms.api.auth.permissions import refusals, require
from openbms.api.auth.principal import Principal
from openbms.api.context import ApiContext, get_context
from openbms.api.helpers import Cursor, Limit, Page, decode_cursor, page
from openbms.db.schema import audit_log

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


def _query(
    ctx: ApiContext,
    *,
    actor: str | None,
    action: str | None,
    target: str | None,
    since: float | None,
    until: float | None,
    before_id: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    q = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if actor:
        q = q.where(audit_log.c.actor == actor)
    if action:
        q = q.where(
            audit_log.c.action.like(action[:-1].replace("%", r"\%").replace("_", r"\_") + "%", escape="\\")
            if action.endswith("*")
            else audit_log.c.action == action
        )
    if target:
        q = q.where(audit_log.c.target == target)
    if since is not None:
        q = q.where(audit_log.c.ts >= since)
    if until is not None:
        q = q.where(audit_log.c.ts < until)
    if before_id is not None:
        q = q.where(audit_log.c.id < before_id)
    with ctx.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


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
        _query,
        ctx,
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
