"""The Modbus driver (TCP, RTU, RTU over TCP): a device's points read in the fewest requests,
writes by type.

::

    manager ──read(device, bindings)──▶ point_spec (once per binding)
        ──plan──▶ spans (per table, within gap / max_registers / max_bits, not across breaks)
        ──Gateway.read (one connection per host:port or serial line, shared by its unit ids)
        ──▶ decode ──▶ Readings
              │ illegal-data-address on a span: split it, remember the break, retry the halves;
              │ a point refused alone faults with the exception's name, the others read on
              │ other exceptions: the span's points fault with the exception's name
              └ no answer, refused connection, garbled frame: DeviceUnreachable (the manager
                retries, marks the device offline once, and brings it back when it answers)
    arbiter ──write(binding, value)──▶ encode ──▶ write coil(s) / register(s) ──▶ WriteRefused
                                                  with the exception's name when refused

A driver only reads and writes: polling, retries, backoff and offline marking
are the driver manager's. Per sample only ``decode`` runs (struct, no model,
no logging).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from openbms.drivers.base import DriverBase
from openbms.drivers.modbus.client import ILLEGAL_DATA_ADDRESS, Gateway, ModbusRefused, write_point
from openbms.drivers.modbus.plan import Breaks, Span, plan
from openbms.drivers.modbus.points import BIT_TABLES, WRITABLE, PointSpec, decode, encode, point_spec
from openbms.drivers.modbus.settings import PLACE, DeviceConfig, Endpoint, read_devices
from openbms.errors import BindingError, DriverError, WriteRefused
from openbms.model.binding import Binding
from openbms.model.sample import FAULT, Reading, Value
from openbms.model.site import DriverSettings
from openbms.runtime.clock import Clock, WallClock

__all__ = ["ModbusDriver"]

log = logging.getLogger(__name__)


class ModbusDriver(DriverBase):
    """Points on Modbus devices over TCP, RTU or RTU over TCP
    (``modbus://DEVICE/TABLE/ADDRESS?type=…``)."""

    name = "modbus"
    #: A device's points in one read, so they merge into the fewest requests.
    batch_size = 1000

    def __init__(self, settings: DriverSettings | None = None, clock: Clock | None = None) -> None:
        self.settings = settings or DriverSettings()
        self.clock: Clock = clock or WallClock()
        try:
            self.devices: dict[str, DeviceConfig] = read_devices(dict(self.settings.model_extra or {}))
        except ValueError as err:
            raise DriverError(str(err)) from None
        self.gateways: dict[Endpoint, Gateway] = {}
        self.breaks: dict[str, Breaks] = {}  # device → where it refused to read across
        self._specs: dict[str, PointSpec | str] = {}  # binding URI → its spec, or why it has none

    async def stop(self) -> None:
        """Close every gateway's connection."""
        for gateway in self.gateways.values():
            gateway.close()

    def gateway(self, device: DeviceConfig) -> Gateway:
        """The device's gateway or serial line connection (made on first use)."""
        gw = self.gateways.get(device.endpoint)
        if gw is None:
            gw = self.gateways[device.endpoint] = Gateway(device.endpoint,
                                                          timeout=self.settings.timeout)
        return gw

    def _spec(self, binding: Binding) -> PointSpec | str:
        spec = self._specs.get(binding.uri)
        if spec is None:
            device = self.devices.get(binding.device)
            try:
                spec = point_spec(binding, device.order if device else "ABCD")
            except BindingError as err:
                spec = str(err)
            self._specs[binding.uri] = spec
        return spec

    def _device(self, binding: Binding) -> DeviceConfig:
        device = self.devices.get(binding.device)
        if device is None:
            raise DriverError(f"{binding}: no Modbus device {binding.device!r} under {PLACE}: "
                              f"devices: (known: {', '.join(self.devices) or 'none'})")
        return device

    # ------------------------------------------------------------------ reads

    async def read(self, device: str, bindings: Sequence[Binding]) -> list[Reading]:
        """Read a device's points in merged requests; one Reading per binding, in order."""
        readings: list[Reading | None] = [None] * len(bindings)
        config = self.devices.get(device)
        if config is None:
            error = (f"no Modbus device {device!r} under {PLACE}: devices: "
                     f"(known: {', '.join(self.devices) or 'none'})")
            return [Reading(None, FAULT, error)] * len(bindings)
        specs: list[PointSpec] = []
        index: list[int] = []  # specs[k] is bindings[index[k]]
        for i, binding in enumerate(bindings):
            spec = self._spec(binding)
            if isinstance(spec, str):
                readings[i] = Reading(None, FAULT, spec)
                continue
            limit = config.max_bits if spec.table in BIT_TABLES else config.max_registers
            if spec.size > limit:
                readings[i] = Reading(None, FAULT, f"{binding}: {spec.size} registers; the device "
                                      f"reads at most {limit} at a time (max_registers)")
                continue
            specs.append(spec)
            index.append(i)
        breaks = self.breaks.setdefault(device, Breaks())
        gateway = self.gateway(config)
        for span in plan(specs, config.gap, config.max_registers, config.max_bits, breaks):
            await self._read_span(gateway, config, breaks, specs, span, index, readings)
        return [r if r is not None else Reading(None, FAULT, "not read") for r in readings]

    async def _read_span(self, gateway: Gateway, config: DeviceConfig, breaks: Breaks,
                         specs: list[PointSpec], span: Span, index: list[int],
                         readings: list[Reading | None], trial: Breaks | None = None) -> bool:
        """Read one span into ``readings``; True when the device refused an address in it."""
        try:
            raw = await gateway.read(config.unit, span.table, span.start, span.count, config.delay)
        except ModbusRefused as err:
            if err.code != ILLEGAL_DATA_ADDRESS:
                for k in span.members:
                    readings[index[k]] = Reading(None, FAULT, f"{err.name}: {err}")
                return False
            if len(span.members) == 1:  # this point's own address: it alone faults, read alone
                spec = specs[span.members[0]]
                if (span.table, spec.address) not in breaks.faulted:
                    breaks.faulted.add((span.table, spec.address))
                    log.warning("modbus://%s: %s %d answers %s; its point faults, the others "
                                "read on", config.name, span.table, spec.address, err.name)
                breaks.add(span.table, spec.address)
                breaks.add(span.table, spec.end)
                readings[index[span.members[0]]] = Reading(None, FAULT, f"{err.name}: {err}")
                return True
            half = len(span.members) // 2
            left, right = span.members[:half], span.members[half:]
            split = specs[right[0]].address
            tried = (trial or breaks).copy()
            tried.add(span.table, split)
            refused = False
            for part in (left, right):
                for sub in plan(specs, config.gap, config.max_registers, config.max_bits, tried,
                                only=part):
                    refused |= await self._read_span(gateway, config, breaks, specs, sub, index,
                                                     readings, tried)
            if not refused:  # both halves read: the registers between them are what it refused
                breaks.add(span.table, split)
            return True
        start = span.start
        for k in span.members:
            spec = specs[k]
            offset = spec.address - start
            readings[index[k]] = Reading(decode(spec, raw[offset:offset + spec.size]))
        return False

    # ------------------------------------------------------------------ writes

    async def write(self, binding: Binding, value: Value, priority: int | None) -> None:
        """Write a coil or holding register(s) by the point's type (Modbus has no priorities)."""
        spec = self._spec(binding)
        if isinstance(spec, str):
            raise WriteRefused(spec)
        device = self._device(binding)
        if spec.table not in WRITABLE:
            raise WriteRefused(f"{binding}: {spec.table} is read-only; Modbus writes coils and "
                               "holding registers")
        if value is None:
            raise WriteRefused(f"{binding}: Modbus has no priority to release; give the point a "
                               "relinquish_default to write instead")
        try:
            words = encode(spec, value)
        except ValueError as err:
            raise WriteRefused(f"{binding}: {err}") from None
        gateway = self.gateway(device)
        try:
            await write_point(gateway, device.unit, spec, words, device.delay)
        except ModbusRefused as err:
            raise WriteRefused(f"{binding}: {err.name}: {err}") from err
