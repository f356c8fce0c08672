"""The binding schemes a site may use: names only, no driver behind them.

::

    drivers/registry.py ──register_driver──▶ register_scheme ──▶ known_schemes ◀── config (site files)

The drivers' registry puts the scheme of every driver it serves here (the
builtin ones are ``BUILTIN_SCHEMES``; a plug-in's when it is registered), so
the configuration checks know which ``scheme://`` bindings are valid without
importing a driver.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from openbms.errors import BindingError, ConfigIssue
from openbms.model.binding import _SCHEME, Binding

__all__ = ["BUILTIN_SCHEMES", "BindingCheck", "SettingsCheck", "binding_check", "known_schemes",
           "register_binding_check", "register_scheme", "register_settings_check",
           "register_site_expansion", "settings_check", "site_expansions"]

#: The schemes of the drivers that ship with openbms, installed or planned.
BUILTIN_SCHEMES: tuple[str, ...] = ("sim", "bacnet", "modbus", "mqtt", "rest")

_registered: set[str] = set()

#: ``check(binding, the site's drivers: <scheme>: settings or None)``: raises BindingError
#: when the driver could not read the binding (its options, its decoder).
BindingCheck = Callable[[Binding, Mapping[str, Any] | None], None]

_checks: dict[str, BindingCheck] = {}

#: ``check(the site's drivers: <scheme>: settings)``: every problem the driver would refuse them
#: for, each as (the path of its key under ``drivers: <scheme>:``, the message).
SettingsCheck = Callable[[Mapping[str, Any]], list[tuple[tuple[str | int, ...], str]]]

_settings_checks: dict[str, SettingsCheck] = {}


def register_binding_check(scheme: str, check: BindingCheck) -> None:
    """Let configuration checks ask a driver whether it could read a binding (the drivers'
    registry calls this for the builtin drivers, which keep the check free of protocol
    libraries)."""
    _checks[scheme] = check


def binding_check(scheme: str) -> BindingCheck | None:
    """The registered check of ``scheme://`` bindings, if its driver has one."""
    return _checks.get(scheme)


def register_settings_check(scheme: str, check: SettingsCheck) -> None:
    """Let configuration checks ask a driver what is wrong with its ``drivers: <scheme>:``
    settings, so a bad one is found by ``openbms check`` at its line, not when the driver starts."""
    _settings_checks[scheme] = check


def settings_check(scheme: str) -> SettingsCheck | None:
    """The registered check of the ``drivers: <scheme>:`` settings, if its driver has one."""
    return _settings_checks.get(scheme)


#: ``expand(a site file's data, its path or None, parse)``: the data with what a driver's
#: profiles add (points, device settings), the problems at keys of the site file, and those of
#: other files (a profile's) at their own file:line:column. ``parse`` is the configuration's
#: YAML reader with positions (``openbms.config._yaml.parse``), passed down to the driver.
SiteExpansion = Callable[[Any, Path | None, Callable[[str], Any]],
                         tuple[Any, list[tuple[tuple[str | int, ...], str]], list[ConfigIssue]]]

_expansions: list[SiteExpansion] = []


def register_site_expansion(expand: SiteExpansion) -> None:
    """Let a driver fill in a site file's data before it is checked (Modbus device profiles)."""
    if expand not in _expansions:
        _expansions.append(expand)


def site_expansions() -> tuple[SiteExpansion, ...]:
    """The registered expansions, in the order they were registered."""
    return tuple(_expansions)


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
