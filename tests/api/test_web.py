"""The dashboard is served by the API's process: / is the app, /assets/ its files."""

from __future__ import annotations

import os
import re

from openbms.api.routes.web import STATIC
from tests.api.live import live  # noqa: F401  (the fixture)


async def test_the_dashboard_and_its_files_are_served_without_signing_in(live):  # noqa: F811
    built = (STATIC / "index.html").is_file()
    if os.environ.get("OPENBMS_REQUIRE_SERVICES") == "1":
        assert built, "the dashboard is not built: make web"
    r = await live.get("anonymous", "/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    if not built:
        assert "make web" in r.text
        return
    scripts = re.findall(r'src="(/assets/[^"]+\.js)"', r.text)
    assert scripts, r.text
    js = await live.get("anonymous", scripts[0])
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "immutable" in js.headers["cache-control"]
    missing = await live.get("anonymous", "/assets/nope.js")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    sneaky = await live.get("anonymous", "/assets/..%2F..%2Fapi%2Froutes%2Fweb.py")
    assert sneaky.status_code == 404
