"""The driver interface: what BACnet, Modbus, MQTT, REST and sim drivers implement.

A driver only reads and writes. Polling schedules, batching, timeouts,
retries, backoff and offline marking belong to the DriverManager, so a
driver stays small. Native values become plain Python values here; nothing
protocol-specific passes this boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from openbms.model.binding import Binding
from openbms.model.sample import Reading, Value

__all__ = ["ChangeCallback", "Driver", "DriverBase"]

class ChangeCallback(Protocol):
    """Called by a subscribing driver when a device reports a change: (binding, value, status,
    and the change's own time when the message carries one; None: the manager stamps it)."""

    def __call__(self, binding: Binding, value: Value, status: str, ts: float | None = None,
                 /) -> None: ...


@runtime_checkable
class Driver(Protocol):
    """A protocol driver. ``name`` is the binding URI scheme it serves."""

    name: str

    async def start(self) -> None:
        """Open sockets and sessions."""
        ...

    async def stop(self) -> None:
        """Close everything; pending calls fail."""
        ...

    def device_key(self, binding: Binding) -> str:
        """The device a binding belongs to: reads are grouped and health is tracked per device."""
        ...

    def max_batch(self, device: str) -> int:
        """How many bindings one ``read`` of this device may carry."""
        ...

    async def read(self, device: str, bindings: Sequence[Binding]) -> list[Reading]:
        """Read bindings of one device, one Reading per binding in order.

        A problem with one point is a Reading with status ``fault`` and an
        error; a device that does not answer raises DeviceUnreachable.
        """
        ...

    async def write(self, binding: Binding, value: Value, priority: int | None) -> None:
        """Write ``value`` at ``priority`` (1–16; None when the protocol has none).

        ``value`` None releases that priority. Raises WriteRefused or DeviceUnreachable.
        """
        ...

    async def subscribe(
        self, device: str, bindings: Sequence[Binding], on_change: ChangeCallback
    ) -> bool:
        """Ask the device to report changes; False when it cannot (the manager then polls)."""
        ...

    async def discover(self, **options: Any) -> list[dict[str, Any]]:
        """Find devices and points; each dict describes one point (optional capability)."""
        ...

    async def units(self, device: str, bindings: Sequence[Binding]) -> list[str | None]:
        """The unit each binding's device reports, as a canonical symbol (None: not known).

        The manager compares them with the points' configured units once per device.
        """
        ...


class DriverBase:
    """Defaults a driver may inherit: async context manager, devices by URI authority,
    a fixed batch size, no change subscriptions, no discovery."""

    name: str = ""
    batch_size: int = 100

    async def start(self) -> None:
        """Open sockets and sessions (nothing by default)."""

    async def stop(self) -> None:
        """Close everything (nothing by default)."""

    async def __aenter__(self) -> DriverBase:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def device_key(self, binding: Binding) -> str:
        """The URI authority names the device."""
        return binding.device

    def max_batch(self, device: str) -> int:
        """``batch_size`` bindings per read."""
        return self.batch_size

    async def subscribe(
        self, device: str, bindings: Sequence[Binding], on_change: ChangeCallback
    ) -> bool:
        """No change notifications: the manager polls."""
        return False

    async def discover(self, **options: Any) -> list[dict[str, Any]]:
        """Nothing to discover."""
        return []

    async def units(self, device: str, bindings: Sequence[Binding]) -> list[str | None]:
        """Devices that do not describe their units."""
        return [None] * len(bindings)
