"""The dashboard: the built single-page app in ``openbms/web_static``, served by the API's process.

``/`` (and any path that is not the API's) answers ``index.html``; the app's
files come from ``/assets/``. A source checkout without a build answers ``/``
with a page that says how to build it (``make web``), never a bare 404.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from openbms.api.auth.permissions import public
from openbms.api.errors import not_found

__all__ = ["STATIC", "router"]

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).parents[2] / "web_static"

_NOT_BUILT = """<!doctype html><html lang="en"><meta charset="utf-8"><title>openbms</title>
<body style="font-family:system-ui;max-width:40em;margin:3em auto;line-height:1.5">
<h1>openbms</h1><p>The API is running (<a href="/docs">interactive documentation</a>), but the
dashboard has not been built in this installation. In a source checkout, run
<code>make web</code> (Node.js 20 and npm), then reload this page.</p></body></html>"""


def _index() -> Response:
    index = STATIC / "index.html"
    if not index.is_file():
        return HTMLResponse(_NOT_BUILT)
    return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/", dependencies=[public()])
async def home() -> Response:
    """The dashboard."""
    return _index()


#: The longest asset path looked up: the build's names are short; a longer one is a 404 at once.
MAX_ASSET_NAME = 255


@router.get("/assets/{name:path}", dependencies=[public()])
async def asset(name: str) -> Response:
    """The dashboard's files (content-hashed names: cached for a long time)."""
    missing = not_found(f"no dashboard file {name[:80]!r}{'…' if len(name) > 80 else ''}")
    if len(name) > MAX_ASSET_NAME or "\0" in name:
        raise missing
    try:
        path = (STATIC / "assets" / name).resolve()
        found = path.is_file() and (STATIC / "assets").resolve() in path.parents
    except (OSError, ValueError):  # a name the file system refuses (too long a component, say)
        found = False
    if not found:
        raise missing
    return FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable"})
