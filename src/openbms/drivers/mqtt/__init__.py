"""The MQTT driver (``mqtt://`` bindings): plain, JSON and Sparkplug B payloads over aiomqtt.

``MQTTDriver`` is imported on first use, so the binding checks in ``payload``
(``check_binding``) can be used without importing the MQTT client library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openbms.drivers.mqtt.driver import MQTTDriver

__all__ = ["MQTTDriver"]


def __getattr__(name: str) -> Any:
    if name == "MQTTDriver":
        from openbms.drivers.mqtt.driver import MQTTDriver

        return MQTTDriver
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
