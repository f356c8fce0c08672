"""Every resource module under openbms.api.routes is mounted, from the one explicit list."""

from __future__ import annotations

import importlib
import pkgutil

import openbms.api.routes as routes_package
from openbms.api import ApiSettings, create_app
from openbms.api.auth.permissions import access_table
from openbms.api.routes import ROUTERS


def _route_modules() -> dict[str, object]:
    return {
        info.name: importlib.import_module(f"openbms.api.routes.{info.name}")
        for info in pkgutil.iter_modules(routes_package.__path__)
    }


def test_every_routes_module_has_its_router_in_routers_once() -> None:
    modules = _route_modules()
    assert len(modules) == len(ROUTERS)
    missing = [name for name, module in modules.items() if getattr(module, "router", None) not in ROUTERS]
    assert missing == []
    assert len({id(r) for r in ROUTERS}) == len(ROUTERS)


def test_the_dashboard_catch_all_is_mounted_last(tmp_path) -> None:
    app = create_app(state_url=f"sqlite:///{tmp_path / 'state.db'}", settings=ApiSettings())
    web = importlib.import_module("openbms.api.routes.web").router
    assert ROUTERS[-1] is web
    mounted = [r.path for r in access_table(app)]
    assert mounted[-len(web.routes):] == [r.path_format for r in web.routes]
