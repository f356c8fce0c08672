"""``/openapi.json`` and ``/docs``: Swagger UI from files served here, so it works with no internet."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from openbms.api.auth.permissions import public
from openbms.api.errors import not_found

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_ASSETS = Path(fastapi_offline.__file__).with_name("static")
_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css", "favicon.png": "image/png"}


@router.get("/openapi.json", dependencies=[public()])
async def openapi(request: Request) -> JSONResponse:
    """The OpenAPI document."""
    return JSONResponse(request.app.openapi())


@router.get("/docs", dependencies=[public()])
async def docs(request: Request) -> HTMLResponse:
    """Swagger UI."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title=f"{request.app.title} API",
        swagger_js_url="/docs/static/swagger-ui-bundle.js",
        swagger_css_url="/docs/static/swagger-ui.css",
        swagger_favicon_url="/docs/static/favicon.png",
        swagger_ui_parameters={"persistAuthorization": False, "validatorUrl": None},
    )


@router.get("/docs/static/{name}", dependencies=[public()])
async def docs_asset(name: str) -> FileResponse:
    """The Swagger UI files, from the installed package."""
    if name not in _FILES:
        raise not_found(f"no such file: {name}")
    return FileResponse(
        _ASSETS / name, media_type=_FILES[name], headers={"Cache-Control": "public, max-age=86400"}
    )
