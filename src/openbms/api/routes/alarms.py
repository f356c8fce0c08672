"""``/api/v1`` routes: alarms."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["alarms"])
