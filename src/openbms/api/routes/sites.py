"""``/api/v1`` routes: sites."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["sites"])
