"""``/api/v1`` routes: history."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["history"])
