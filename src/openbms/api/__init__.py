"""The HTTP API: FastAPI on uvicorn, in the runtime's process.

``create_app`` builds it; ``permissions`` holds the route declarations
(``public``, ``authenticated``, ``require``) and the registry of routes.
"""

from __future__ import annotations

from openbms.api.app import create_app
from openbms.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
