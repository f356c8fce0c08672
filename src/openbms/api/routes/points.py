"""``/api/v1`` routes: points."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["points"])
