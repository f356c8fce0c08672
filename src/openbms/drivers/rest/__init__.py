"""The REST driver (``rest://`` bindings) on httpx: vendor cloud APIs described by an HTTP profile.

``RestDriver`` is imported on first use, so the binding and settings checks
(``settings.check_binding``, ``settings.settings_problems``) run without httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openbms.drivers.rest.driver import RestDriver

__all__ = ["RestDriver"]


def __getattr__(name: str) -> Any:
    if name == "RestDriver":
        from openbms.drivers.rest.driver import RestDriver

        return RestDriver
    raise AttributeError(name)
