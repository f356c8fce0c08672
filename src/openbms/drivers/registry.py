"""Which drivers exist: binding URI schemes mapped to factories, imported lazily.

The core never imports a protocol library: a driver module is imported only
when a site uses its scheme. The schemes' names live below, in
``openbms.model.schemes``: ``register_driver`` adds a plug-in's there, so the
configuration checks accept its bindings without importing this module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from openbms.drivers.modbus import points as modbus_points  # no pymodbus
from openbms.drivers.modbus import profiles as modbus_profiles
from openbms.drivers.modbus import settings as modbus_settings
from openbms.drivers.rest import settings as rest_settings  # no httpx
from openbms.errors import DriverError
from openbms.model.binding import Binding
from openbms.model.schemes import (
    known_schemes,
    register_binding_check,
    register_scheme,
    register_settings_check,
    register_site_expansion,
)
from openbms.model.site import DriverSettings
from openbms.runtime.clock import Clock

__all__ = ["create_driver", "known_drivers", "register_driver"]

Factory = Callable[[DriverSettings, Clock], Any]

#: scheme → "module:factory", or None for a driver that is planned but not installed.
#: Its keys are ``openbms.model.schemes.BUILTIN_SCHEMES`` (tests/drivers/test_registry.py checks).
_BUILTIN: dict[str, str | None] = {
    "sim": "openbms.drivers.sim.driver:SimDriver",
    "bacnet": "openbms.drivers.bacnet.driver:BACnetDriver",
    "modbus": "openbms.drivers.modbus.driver:ModbusDriver",
    "mqtt": "openbms.drivers.mqtt.driver:MQTTDriver",
    "rest": "openbms.drivers.rest.driver:RestDriver",
}
_REGISTERED: dict[str, Factory] = {}


def _mqtt_binding(binding: Binding, settings: Any) -> None:
    from openbms.drivers.mqtt.payload import check_binding, decoder_problem  # no MQTT library

    decoders = (settings or {}).get("decoders")
    if isinstance(decoders, list):  # a bad decoder is reported once, at its place, not per binding
        good = [d for i, d in enumerate(decoders) if decoder_problem(i, d) is None]
        settings = {**settings, "decoders": good}
    check_binding(binding, settings)


def _mqtt_settings(settings: Any) -> list[tuple[tuple[str | int, ...], str]]:
    from openbms.drivers.mqtt.settings import settings_problems  # no MQTT library behind it

    return settings_problems(settings)


#: What ``openbms check`` asks a builtin driver about each of its bindings, and its settings.
register_binding_check("mqtt", _mqtt_binding)
register_settings_check("mqtt", _mqtt_settings)
register_binding_check("modbus", modbus_points.check_binding)
register_settings_check("modbus", modbus_settings.settings_problems)
register_site_expansion(modbus_profiles.expand_site)
register_binding_check("rest", rest_settings.check_binding)
register_settings_check("rest", rest_settings.settings_problems)


def register_driver(scheme: str, factory: Factory) -> None:
    """Make ``scheme://`` bindings served by ``factory(settings, clock)`` (plug-ins, tests).

    Site files may use the scheme from then on; a name no binding could carry
    raises ``BindingError``.
    """
    register_scheme(scheme)
    _REGISTERED[scheme] = factory


def known_drivers() -> tuple[str, ...]:
    """Every scheme a binding may use."""
    return known_schemes()


def create_driver(scheme: str, settings: DriverSettings, clock: Clock) -> Any:
    """A new driver for ``scheme``."""
    if scheme in _REGISTERED:
        return _REGISTERED[scheme](settings, clock)
    if scheme not in _BUILTIN:
        raise DriverError(f"no driver for {scheme}:// bindings: known drivers are "
                          f"{', '.join(known_drivers())}")
    target = _BUILTIN[scheme]
    if target is None:
        raise DriverError(f"the {scheme} driver is not available in this version of openbms")
    module, _, name = target.partition(":")
    factory = getattr(importlib.import_module(module), name)
    return factory(settings, clock)
