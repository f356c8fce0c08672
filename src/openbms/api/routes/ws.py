"""``/api/v1`` routes: ws."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["ws"])
