"""``/api/v1`` routes: commands."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["commands"])
