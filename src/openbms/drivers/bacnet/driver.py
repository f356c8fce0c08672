"""The BACnet/IP driver on bacpypes3: ``bacnet://<device-instance>/<object-type>,<instance>``.

Reads use ReadPropertyMultiple (present value and status flags), batched per
device; a device that rejects RPM is remembered and read object by object
with ReadProperty. Writes put the present value at a priority (1–16) and
release with null. BACnet errors, rejects and aborts (which bacpypes3 raises
as BaseException) become openbms errors here and never escape the driver.

Settings (``drivers: bacnet:`` in the site file):

- ``address``: this client's BACnet/IP address, ``ip/prefix:port``
  (default ``127.0.0.1/8:47809``; on a real network, the interface's address,
  e.g. ``192.168.1.20/24:47808``);
- ``devices``: optional map of device instance → ``ip:port`` for devices that
  Who-Is cannot find (other subnets without a BBMD);
- ``broadcast``: where Who-Is goes to resolve the others (default
  ``255.255.255.255:47808``);
- ``max_batch``: objects per ReadPropertyMultiple (default 25, which fits one
  APDU without segmentation);
- ``max_in_flight``: requests outstanding at once across devices (default 16);
- ``cov``: subscribe to changes of value (default true); ``cov_lifetime``
  (seconds, default 300; renewed every half lifetime, which also restores
  subscriptions lost when a device restarts); ``cov_confirmed`` (default false).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from bacpypes3.apdu import AbortPDU, ErrorPDU, ErrorRejectAbortNack, RejectPDU
from bacpypes3.app import Application
from bacpypes3.basetypes import BinaryPV
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.networkport import NetworkPortObject
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import Null, ObjectIdentifier

from openbms.drivers.base import ChangeCallback, DriverBase, Reading
from openbms.errors import DeviceUnreachable, DriverError, PointError, WriteRefused
from openbms.model.binding import Binding
from openbms.model.sample import FAULT, OK, OVERRIDDEN, STALE, Value
from openbms.model.site import DriverSettings
from openbms.runtime.clock import Clock

__all__ = ["BACnetDriver"]

log = logging.getLogger(__name__)

_WRITE_REFUSALS = {"write-access-denied", "value-out-of-range", "invalid-data-type",
                   "invalid-array-index", "optional-functionality-not-supported"}


def _plain(value: Any) -> Value:
    """A bacpypes3 value as a plain Python value (no BACnet types past the driver)."""
    if isinstance(value, BinaryPV) or type(value).__name__ == "BinaryPV":
        return str(value) == "active"
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    return str(value)


def _status(flags: Any) -> str:
    """Sample status from BACnet status flags (fault, out-of-service, overridden)."""
    if flags is None:
        return OK
    text = str(flags)
    if "fault" in text:
        return FAULT
    if "out-of-service" in text or "outOfService" in text:
        return STALE
    if "overridden" in text:
        return OVERRIDDEN
    return OK


class BACnetDriver(DriverBase):
    """BACnet/IP client."""

    name = "bacnet"

    def __init__(self, settings: DriverSettings | None = None, clock: Clock | None = None) -> None:
        self.settings = settings or DriverSettings()
        extra = self.settings.model_extra or {}
        self.address: str = str(extra.get("address", "127.0.0.1/8:47809"))
        self.broadcast: str = str(extra.get("broadcast", "255.255.255.255:47808"))
        # 25 objects of present value + status flags fit one 1476-byte APDU unsegmented.
        self._max_batch = int(extra.get("max_batch", 25))
        # Requests in flight at once, across devices: a BACnet network (and many small
        # controllers) cannot take hundreds of simultaneous requests.
        self._in_flight = asyncio.Semaphore(int(extra.get("max_in_flight", 16)))
        self._static: dict[str, str] = {str(k): str(v) for k, v in
                                        (extra.get("devices") or {}).items()}
        self._addresses: dict[str, Address] = {}
        self._objids: dict[str, ObjectIdentifier] = {}
        self._no_rpm: set[str] = set()
        self._cov = bool(extra.get("cov", True))
        self._cov_lifetime = int(extra.get("cov_lifetime", 300))
        self._cov_confirmed = bool(extra.get("cov_confirmed", False))
        self._cov_tasks: list[asyncio.Task[None]] = []
        self._subscriptions: list[Any] = []
        self.app: Application | None = None
        self.rpm_requests = 0
        self.rp_requests = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind the client's UDP socket."""
        device = DeviceObject(objectIdentifier=("device", 4194302), objectName="openbms",
                              vendorIdentifier=999, maxApduLengthAccepted=1476,
                              segmentationSupported="segmented-both")
        port = NetworkPortObject(self.address, objectIdentifier=("network-port", 1),
                                 objectName="NetworkPort-1")
        try:
            self.app = Application.from_object_list([device, port])
            # The socket is bound by a task: a started driver has it ready.
            for layer in self.app.link_layers.values():
                server = getattr(layer, "server", None)
                if server is not None:
                    await asyncio.wait_for(asyncio.gather(*server._transport_tasks), 10)
        except (OSError, ValueError, TimeoutError) as err:
            if self.app is not None:
                self.app.close()
                self.app = None
            raise DriverError(f"bacnet: cannot bind {self.address}: {err}") from err

    async def stop(self) -> None:
        """Cancel subscriptions (best effort), close the socket."""
        for task in self._cov_tasks:
            task.cancel()
        await asyncio.gather(*self._cov_tasks, return_exceptions=True)
        self._cov_tasks.clear()
        for scm in self._subscriptions:
            if scm.refresh_subscription_handle:
                scm.refresh_subscription_handle.cancel()
        self._subscriptions.clear()
        if self.app is not None:
            self.app.close()
            self.app = None

    def max_batch(self, device: str) -> int:
        return self._max_batch

    # ------------------------------------------------------------------ addressing

    def _objid(self, binding: Binding) -> ObjectIdentifier:
        oid = self._objids.get(binding.path)
        if oid is None:
            try:
                oid = ObjectIdentifier(binding.path)
            except (ValueError, TypeError, KeyError) as err:
                raise PointError(f"{binding}: {binding.path!r} is not a BACnet object such as "
                                 "'analog-input,3'") from err
            self._objids[binding.path] = oid
        return oid

    async def _address(self, device: str) -> Address:
        addr = self._addresses.get(device)
        if addr is not None:
            return addr
        if device in self._static:
            addr = Address(self._static[device])
        else:
            try:
                instance = int(device)
            except ValueError:
                raise PointError(f"bacnet device {device!r} is not a device instance number") from None
            assert self.app is not None
            i_ams = await self.app.who_is(instance, instance, Address(self.broadcast), timeout=2)
            if not i_ams:
                raise DeviceUnreachable(f"bacnet device {device} did not answer Who-Is "
                                        f"(sent to {self.broadcast})")
            addr = i_ams[0].pduSource
        self._addresses[device] = addr
        return addr

    # ------------------------------------------------------------------ reads

    async def read(self, device: str, bindings: Sequence[Binding]) -> list[Reading]:
        if self.app is None:
            raise DriverError("the bacnet driver is not started")
        addr = await self._address(device)
        objids: list[ObjectIdentifier | None] = []
        out: dict[int, Reading] = {}
        for i, b in enumerate(bindings):
            try:
                objids.append(self._objid(b))
            except PointError as err:
                objids.append(None)
                out[i] = Reading(None, FAULT, str(err))
        wanted = [(i, o) for i, o in enumerate(objids) if o is not None]
        if wanted:
            if device in self._no_rpm:
                out.update(await self._read_each(device, addr, wanted))
            else:
                try:
                    out.update(await self._read_multiple(device, addr, wanted))
                except RejectPDU as err:
                    log.info("bacnet device %s rejects ReadPropertyMultiple (%s): reading "
                             "object by object", device, err)
                    self._no_rpm.add(device)
                    out.update(await self._read_each(device, addr, wanted))
        return [out[i] for i in range(len(bindings))]

    async def _read_multiple(self, device: str, addr: Address,
                             wanted: list[tuple[int, ObjectIdentifier]]) -> dict[int, Reading]:
        assert self.app is not None
        request: list[Any] = []
        for _, oid in wanted:
            request += [oid, ["present-value", "status-flags"]]
        self.rpm_requests += 1
        try:
            async with self._in_flight:
                result = await self.app.read_property_multiple(addr, request)
        except RejectPDU:
            raise
        except ErrorRejectAbortNack as err:
            raise self._translate(device, err) from None
        values: dict[tuple[Any, str], Any] = {}
        for oid, prop, _index, value in result:
            values[(tuple(oid), str(prop))] = value
        out: dict[int, Reading] = {}
        for i, oid in wanted:
            pv = values.get((tuple(oid), "present-value"))
            if pv is None or type(pv).__name__ == "ErrorType":
                why = getattr(pv, "errorCode", None) if pv is not None else "missing from the reply"
                out[i] = Reading(None, FAULT, f"bacnet device {device}: {oid[0]},{oid[1]}: {why}")
            else:
                out[i] = Reading(_plain(pv), _status(values.get((tuple(oid), "status-flags"))))
        return out

    async def _read_each(self, device: str, addr: Address,
                         wanted: list[tuple[int, ObjectIdentifier]]) -> dict[int, Reading]:
        assert self.app is not None
        out: dict[int, Reading] = {}
        for i, oid in wanted:
            self.rp_requests += 1
            try:
                async with self._in_flight:
                    pv = await self.app.read_property(addr, oid, "present-value")
            except ErrorPDU as err:
                out[i] = Reading(None, FAULT, f"bacnet device {device}: {oid[0]},{oid[1]}: {err}")
                continue
            except ErrorRejectAbortNack as err:
                raise self._translate(device, err) from None
            out[i] = Reading(_plain(pv), OK)
        return out

    @staticmethod
    def _translate(device: str, err: BaseException) -> Exception:
        if isinstance(err, AbortPDU):
            return DeviceUnreachable(f"bacnet device {device}: aborted ({err})")
        if isinstance(err, RejectPDU):
            return PointError(f"bacnet device {device}: request rejected ({err})")
        return PointError(f"bacnet device {device}: {err}")

    # ------------------------------------------------------------------ writes

    async def write(self, binding: Binding, value: Value, priority: int | None) -> None:
        if self.app is None:
            raise DriverError("the bacnet driver is not started")
        if priority is not None and not 1 <= priority <= 16:
            raise WriteRefused(f"{binding}: priority {priority} is outside 1–16")
        oid = self._objid(binding)
        addr = await self._address(binding.device)
        kind = binding.path.split(",")[0]
        encoded: Any
        if value is None:
            encoded = Null(())
        elif kind.startswith("binary"):
            encoded = "active" if value else "inactive"
        elif kind.startswith("multi-state"):
            encoded = int(value)
        else:
            encoded = float(value)
        try:
            await self.app.write_property(addr, oid, "present-value", encoded, priority=priority)
        except ErrorPDU as err:
            reason = str(err)
            if reason in _WRITE_REFUSALS or "write" in reason or "range" in reason:
                raise WriteRefused(f"{binding}: the device refused the write: {reason}") from None
            raise PointError(f"{binding}: {reason}") from None
        except AbortPDU as err:
            raise DeviceUnreachable(f"{binding}: aborted ({err})") from None
        except ErrorRejectAbortNack as err:
            raise WriteRefused(f"{binding}: rejected ({err})") from None

    async def priority_array(self, binding: Binding) -> list[Value]:
        """The 16 slots of a commandable object's priority array (None where empty)."""
        assert self.app is not None
        addr = await self._address(binding.device)
        try:
            array = await self.app.read_property(addr, self._objid(binding), "priority-array")
        except ErrorRejectAbortNack as err:
            raise self._translate(binding.device, err) from None
        out: list[Value] = []
        for slot in array:
            kind = getattr(slot, "_choice", None)
            out.append(None if kind in (None, "null") else _plain(getattr(slot, kind)))
        return out

    async def subscribe(self, device: str, bindings: Sequence[Binding],
                        on_change: ChangeCallback) -> bool:
        """SubscribeCOV to every object of a device; False (poll instead) if the device refuses.

        Subscriptions are all or nothing per device, so no point is left unpolled.
        """
        if not self._cov or self.app is None:
            return False
        addr = await self._address(device)
        subs: list[tuple[Binding, Any]] = []
        try:
            for b in bindings:
                scm = self.app.change_of_value(
                    addr, self._objid(b), issue_confirmed_notifications=self._cov_confirmed,
                    lifetime=self._cov_lifetime)
                await scm.__aenter__()
                # We renew ourselves: bacpypes3 stops renewing after one failed renewal.
                if scm.refresh_subscription_handle:
                    scm.refresh_subscription_handle.cancel()
                subs.append((b, scm))
        except (ErrorRejectAbortNack, PointError) as err:
            log.info("bacnet device %s refuses change-of-value subscriptions (%s): polling",
                     device, err)
            for _, scm in subs:
                self.app._cov_contexts.pop((scm.address, scm.subscriber_process_identifier), None)
            return False
        self._subscriptions += [scm for _, scm in subs]
        for b, scm in subs:
            self._cov_tasks.append(asyncio.create_task(self._notifications(b, scm, on_change)))
        self._cov_tasks.append(asyncio.create_task(self._renew(device, [scm for _, scm in subs])))
        return True

    async def _notifications(self, binding: Binding, scm: Any, on_change: ChangeCallback) -> None:
        """Turn one subscription's notifications into change callbacks."""
        status = OK
        value: Value = None
        while True:
            prop, raw = await scm.get_value()
            if str(prop) == "present-value":
                value = _plain(raw)
                on_change(binding, value, status)
            elif str(prop) == "status-flags":
                new = _status(raw)
                if new != status and value is not None:  # a status change alone is news too
                    on_change(binding, value, new)
                status = new

    async def _renew(self, device: str, subs: list[Any]) -> None:
        """Renew a device's subscriptions every half lifetime; restores them after a restart."""
        failing = False
        while True:
            await asyncio.sleep(max(1.0, self._cov_lifetime / 2))
            errors = 0
            for scm in subs:
                try:
                    await scm.refresh_subscription()
                except ErrorRejectAbortNack:
                    errors += 1
                if scm.refresh_subscription_handle:
                    scm.refresh_subscription_handle.cancel()
            if errors and not failing:
                log.warning("bacnet device %s: %d subscriptions could not be renewed; retrying",
                            device, errors)
            elif failing and not errors:
                log.warning("bacnet device %s: subscriptions renewed again", device)
            failing = bool(errors)
