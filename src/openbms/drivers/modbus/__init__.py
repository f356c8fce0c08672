"""The Modbus driver (``modbus://`` bindings) on pymodbus: Modbus TCP, RTU on a serial line (with
pyserial), and RTU over TCP.

``ModbusDriver`` is imported on first use, so the binding and settings checks
(``points.check_binding``, ``settings.settings_problems``) run without pymodbus.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openbms.drivers.modbus.driver import ModbusDriver

__all__ = ["ModbusDriver"]


def __getattr__(name: str) -> Any:
    if name == "ModbusDriver":
        from openbms.drivers.modbus.driver import ModbusDriver

        return ModbusDriver
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
