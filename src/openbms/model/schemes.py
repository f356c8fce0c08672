"""The binding schemes a site may use: names only, no driver behind them.

::

    drivers/registry.py ──register_driver──▶ register_scheme ──▶ known_schemes ◀── config (site files)

The drivers' registry puts the scheme of every driver it serves here (the
builtin ones are ``BUILTIN_SCHEMES``; a plug-in's when it is registered), so
the configuration checks know which ``scheme://`` bindings are valid without
importing a driver.
"""

from __future__ import annotations

from openbms.errors import BindingError
from openbms.model.binding import _SCHEME

__all__ = ["BUILTIN_SCHEMES", "known_schemes", "register_scheme"]

#: The schemes of the drivers that ship with openbms, installed or planned.
BUILTIN_SCHEMES: tuple[str, ...] = ("sim", "bacnet", "modbus", "mqtt", "rest")

_registered: set[str] = set()


def register_scheme(scheme: str) -> None:
    """Make ``scheme://`` bindings valid in site files (the drivers' registry calls this).

    A name no binding could carry (``parse_binding`` refuses it) is refused here,
    where the mistake is, rather than as an unknown driver in every site file.
    """
    if not isinstance(scheme, str) or not _SCHEME.match(scheme):
        raise BindingError(f"cannot register the binding scheme {scheme!r}: expected lower-case letters, "
                         "digits, '+', '.' or '-' starting with a letter, such as 'knx' or 'modbus-rtu'")
    _registered.add(scheme)


def known_schemes() -> tuple[str, ...]:
    """Every scheme a binding may use, sorted: the builtin ones and every registered one."""
    return tuple(sorted({*BUILTIN_SCHEMES, *_registered}))
