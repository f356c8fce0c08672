"""The BACnet/IP driver on bacpypes3: ``bacnet://<device-instance>/<object-type>,<instance>``.

Reads use ReadPropertyMultiple (present value and status flags), batched per
device so that each acknowledgement fits one APDU of the device's size (from
its I-Am; halved if the device still aborts for size), with the request and
the acknowledgement coded by :mod:`.wire` rather than by bacpypes3's generic
sequences (the polling hot path).

Rejects, aborts and replies can be spoofed by anyone who can send a datagram
from a device's address, so none of them switches a device to a slower way
for good: RPM is given up only after rejects in a row, and every switch (to
ReadProperty, to smaller requests, to bacpypes3's decoder) is tried back after
a back-off that doubles while the device keeps it up::

    RPM ──reject──▶ RPM (1 of 3) ──reject──▶ RPM (2 of 3) ──reject──▶ ReadProperty
     ▲  ◀─────────────── an accepted RPM resets the count ──────┘        │
     │                                                                   │ after the back-off
     └───────────── accepted ◀── one RPM probe ◀─────────────────────────┘
                                     └─ rejected: ReadProperty, back-off doubled (capped)

The reads of a request that was rejected are made with ReadProperty. An
object whose present value the lean codec cannot read (constructed, or of a
type it does not know) is decoded by bacpypes3 from the same reply, that object
alone; what neither reads is a ``fault`` for that point, never for the device.
A device whose acknowledgement's structure the lean codec cannot parse (but
bacpypes3 can) is read through bacpypes3's own RPM, and the lean codec is tried
again after the same back-off. Writes put the present value at a priority (1–16) and
release with null. BACnet errors, rejects and aborts (which bacpypes3 raises
as BaseException) become openbms errors here and never escape the driver.
What the network makes bacpypes3 (or this driver) log is rate-limited: see
:mod:`.noise`.

Settings (``drivers: bacnet:`` in the site file):

- ``address``: this client's BACnet/IP address, ``ip/prefix:port``
  (default ``127.0.0.1/8:47809``; on a real network, the interface's address,
  e.g. ``192.168.1.20/24:47808``);
- ``devices``: optional map of device instance → ``ip:port`` for devices that
  Who-Is cannot find (other subnets without a BBMD);
- ``broadcast``: where Who-Is goes to resolve the others (default
  ``255.255.255.255:47808``);
- ``max_batch``: objects the driver manager hands over per read (default 250);
  the driver splits them into requests whose replies fit each device's APDU
  (learned from its I-Am: 52 objects in 1476 bytes, 17 in 480), capped by
  ``max_objects`` if set;
- ``max_in_flight``: requests outstanding at once across devices (default 16);
- ``rpm_refusals``: consecutive rejects of ReadPropertyMultiple before a device
  is read object by object (default 3); ``rpm_reprobe``: seconds until RPM is
  tried again (default 600, doubled after each refused probe up to
  ``rpm_reprobe_max``, default 3600); a device whose requests were made smaller
  after aborts for size is given its announced size again after the same
  back-off (doubled each time it has to shrink again, same cap);
- ``cov``: subscribe to changes of value (default true); ``cov_lifetime``
  (seconds, default 300; renewed every half lifetime, which also restores
  subscriptions lost when a device restarts); ``cov_confirmed`` (default false);
  ``cov_confirm``: seconds between checks that a subscribed device is still there
  (default: the poll interval; see :meth:`BACnetDriver.confirm`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from bacpypes3.apdu import (
    AbortPDU,
    AbortReason,
    APCISequence,
    ComplexAckPDU,
    ConfirmedRequestPDU,
    ErrorPDU,
    ErrorRejectAbortNack,
    RejectPDU,
)
from bacpypes3.app import Application
from bacpypes3.basetypes import BinaryPV, EngineeringUnits, ErrorClass, ErrorCode, HostNPort, IPMode
from bacpypes3.comm import ServiceAccessPoint
from bacpypes3.constructeddata import AnyAtomic
from bacpypes3.errors import DecodingError, RejectException
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.networkport import NetworkPortObject
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import BitString, Boolean, Date, Null, ObjectIdentifier, Time
from bacpypes3.vendor import get_vendor_info

from openbms.drivers.bacnet import netlayer, noise, wire
from openbms.drivers.bacnet.address import check_address, device_address
from openbms.drivers.base import ChangeCallback, DriverBase
from openbms.errors import DeviceUnreachable, DriverError, PointError, WriteRefused
from openbms.model.binding import Binding
from openbms.model.sample import FAULT, OK, OVERRIDDEN, STALE, Reading, Value
from openbms.model.site import DriverSettings
from openbms.model.units import from_bacnet
from openbms.runtime.clock import Clock, WallClock

__all__ = ["BACnetDriver"]

log = logging.getLogger(__name__)
# What devices, or anyone spoofing them, can make happen at will: rate-limited (see noise.py).
noise_log = logging.getLogger(noise.NOISE_LOGGER)

#: Put in a subscription's queue after the values of each notification: they are one sample.
_END_OF_NOTIFICATION = object()

_WRITE_REFUSALS = {"write-access-denied", "value-out-of-range", "invalid-data-type",
                   "invalid-array-index", "optional-functionality-not-supported"}


def _atomic(value: Any) -> Value:
    """A bacpypes3 atomic value as the plain value the lean codec gives (see :mod:`.wire`).

    Raises TypeError for a constructed value (a sequence such as a color's x/y pair).
    """
    if isinstance(value, AnyAtomic):  # a schedule's present value: its atomic value
        value = value.get_value()
    if isinstance(value, BinaryPV):
        return str(value) == "active"
    if isinstance(value, Boolean | bool):
        return bool(value)
    if value is None or isinstance(value, Null):
        return None
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        if type(value) is str and value.startswith("-no "):  # bacpypes3's "-no object class-"
            raise TypeError(f"unknown to bacpypes3 ({value.strip('-')})")
        return str(value)
    if isinstance(value, BitString):
        return wire.bits_text(value)
    if isinstance(value, bytes):
        return bytes(value).hex()
    if isinstance(value, Date):
        return wire.date_text(value[0], value[1], value[2])
    if isinstance(value, Time):
        return wire.time_text(value[0], value[1], value[2], value[3])
    if isinstance(value, ObjectIdentifier):
        return f"{int(value[0])},{int(value[1])}"
    raise TypeError(f"a constructed value ({type(value).__name__}), not a number, flag, text or time")


def _plain(value: Any) -> Value:
    """A bacpypes3 value as a plain Python value (no BACnet types past the driver)."""
    try:
        return _atomic(value)
    except TypeError:
        return str(value)


_VENDOR = get_vendor_info(0)  # ASHRAE's object types and their properties' datatypes


def _generic_present_value(otype: int, value: Any) -> tuple[Value, str | None, bool]:
    """bacpypes3's reading of one present value (an ``Any`` from an RPM ack).

    (value, why not, whether bacpypes3 calls the value's encoding invalid for its type).
    """
    object_class = _VENDOR.get_object_class(otype)
    if object_class is None:
        return None, (f"object type {otype} is not one bacpypes3 knows, so neither decoder "
                      "reads its present value"), False
    datatype = object_class.get_property_type("present-value")
    if datatype is None:
        return None, f"object type {otype} has no present value bacpypes3 knows the type of", False
    try:
        return _atomic(value.cast_out(datatype)), None, False
    except TypeError as err:
        return None, f"its present value is {err}", False
    except Exception as err:  # bacpypes3's decoders raise many kinds
        return (None, f"its present value does not decode ({type(err).__name__}: {err})",
                isinstance(err, DecodingError | RejectException))


# Aborts that mean "the reply does not fit": the batch is too big for this device.
_TOO_BIG = {int(AbortReason.bufferOverflow), int(AbortReason.segmentationNotSupported),
            int(AbortReason.apduTooLong)}


def _status_bits(flags: int | None) -> str:
    """Sample status from the status-flags octet (in-alarm, fault, overridden, out-of-service)."""
    if not flags:
        return OK
    if flags & 0x40:
        return FAULT
    if flags & 0x10:
        return STALE
    if flags & 0x20:
        return OVERRIDDEN
    return OK


def _error_text(code: str) -> str:
    """'2/31' (error class/code numbers) as 'property/unknown-object'."""
    try:
        cls, num = (int(x) for x in code.split("/"))
        return f"{ErrorClass(cls)}/{ErrorCode(num)}"
    except (ValueError, TypeError, KeyError):
        return code


# Object types with a ``units`` property.
_UNIT_TYPES = {"analog-input", "analog-output", "analog-value", "large-analog-value",
               "integer-value", "positive-integer-value", "accumulator", "pulse-converter",
               "loop"}


def _unit_symbol(value: Any) -> str | None:
    """A bacpypes3 EngineeringUnits value as an openbms unit symbol (None: unknown or an error)."""
    if value is None or type(value).__name__ == "ErrorType":
        return None
    unit = from_bacnet(str(value))
    return unit.symbol if unit is not None else None


def _units_number_symbol(number: Any) -> str | None:
    """A BACnet engineering-units number (the lean codec's reading) as an openbms unit symbol."""
    if not isinstance(number, int) or isinstance(number, bool):
        return None
    try:
        return _unit_symbol(EngineeringUnits(number))
    except (ValueError, TypeError, KeyError):  # a number bacpypes3 does not name (proprietary)
        return None


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


def _routers(value: Any) -> dict[int, str]:
    """The ``routers`` setting: network number → the router's ``ip:port``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DriverError("drivers.bacnet.routers: expected a map of network number to the "
                          f"router's ip:port, e.g. {{2: 192.168.1.40:47808}}, got {value!r}")
    out: dict[int, str] = {}
    for key, text in value.items():
        try:
            network = int(key)
        except (TypeError, ValueError):
            network = 0
        if isinstance(key, bool) or not 1 <= network <= 65_534:
            raise DriverError(f"drivers.bacnet.routers: {key!r} is not a network number "
                              "(1–65534)")
        address = device_address(str(text), f"drivers.bacnet.routers.{network}")
        if address.addrType != Address.localStationAddr or "/" in str(text):
            raise DriverError(f"drivers.bacnet.routers.{network}: {text!r} is not a BACnet/IP "
                              "address: expected ip:port, e.g. 192.168.1.40:47808")
        out[network] = str(text)
    return out


def _number(extra: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    """A numeric setting within [low, high], or a DriverError that names it."""
    value = extra.get(name, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not low <= number <= high:  # NaN fails the comparison too
        raise DriverError(f"drivers.bacnet.{name}: expected a number from {low:g} to {high:g}, "
                          f"got {value!r}")
    return number


class BACnetDriver(DriverBase):
    """BACnet/IP client."""

    name = "bacnet"

    def __init__(self, settings: DriverSettings | None = None, clock: Clock | None = None) -> None:
        self.settings = settings or DriverSettings()
        self._clock: Clock = clock or WallClock()
        extra = self.settings.model_extra or {}
        self._rpm_refusals = int(_number(extra, "rpm_refusals", 3, 1, 100))
        self._rpm_reprobe = _number(extra, "rpm_reprobe", 600.0, 0.001, 86_400.0)
        self._rpm_reprobe_max = max(self._rpm_reprobe,
                                    _number(extra, "rpm_reprobe_max", 3600.0, 0.001, 7 * 86_400.0))
        self.address: str = str(extra.get("address", "127.0.0.1/8:47809"))
        self.broadcast: str = str(extra.get("broadcast", "255.255.255.255:47808"))
        self._max_batch = int(_number(extra, "max_batch", 250, 1, 10_000))
        self._max_objects = int(_number(extra, "max_objects", 0, 0, 10_000))  # a cap; 0: the device's APDU
        self._objects: dict[str, int] = {}  # per device: objects per RPM request
        self._announced: dict[str, int] = {}  # ... as its I-Am says
        self._shrunk: dict[str, float] = {}  # when to try the announced size again (monotonic)
        self._shrink_backoff: dict[str, float] = {}
        self._regrown: dict[str, float] = {}  # when the announced size was asked for again (monotonic)
        self._keys: dict[str, tuple[int, int]] = {}
        self._requests: dict[tuple[int, ...], bytes] = {}  # encoded RPM service data
        self._lean: set[tuple[Address, int]] = set()  # requests whose ack we decode ourselves
        # Devices whose replies need bacpypes3's decoder: when to try ours again (monotonic).
        self._no_lean: dict[str, float] = {}
        self._lean_backoff: dict[str, float] = {}
        # Objects whose present value neither decoder reads, logged once each (bounded).
        self._undecodable: set[tuple[str, tuple[int, int]]] = set()
        # Requests in flight at once, across devices: a BACnet network (and many small
        # controllers) cannot take hundreds of simultaneous requests.
        self._max_in_flight = int(_number(extra, "max_in_flight", 16, 1, 1_000))
        self._in_flight = asyncio.Semaphore(self._max_in_flight)
        devices = extra.get("devices") or {}
        if not isinstance(devices, dict):
            raise DriverError("drivers.bacnet.devices: expected a map of device instance to its "
                              f"address, e.g. {{1001: 192.168.1.31:47808, 2005: '2:5'}}, got "
                              f"{devices!r}")
        self._static: dict[str, str] = {str(k): str(v) for k, v in devices.items()}
        for key, text in self._static.items():
            device_address(text, f"drivers.bacnet.devices.{key}")
        self._routers: dict[int, str] = _routers(extra.get("routers"))
        self.bbmd: str | None = str(extra["bbmd"]) if extra.get("bbmd") else None
        self._bbmd_ttl = int(_number(extra, "bbmd_ttl", 300, 1, 65_535))
        # Seconds a registration may take before it is reported as not answered.
        self._registration_grace = 10.0
        self._registration_problem: str | None = None
        # Resolutions in progress (a device's Who-Is, a network's router), shared by callers.
        self._resolving: dict[object, asyncio.Future[Any]] = {}
        # Devices (and networks) looked up again after they stopped answering: not before (monotonic).
        self._forgotten: dict[str, float] = {}
        self._background: set[asyncio.Future[Any]] = set()
        self._addresses: dict[str, Address] = {}
        self._objids: dict[str, ObjectIdentifier] = {}
        # RPM refusals: rejects in a row (until the threshold), then when to probe RPM again
        # (monotonic) and the back-off that set that time.
        self._refused: dict[str, int] = {}
        self._no_rpm: dict[str, float] = {}
        self._backoff: dict[str, float] = {}
        self._cov = bool(extra.get("cov", True))
        self._cov_lifetime = int(_number(extra, "cov_lifetime", 300, 1, 86_400))
        self._cov_confirmed = bool(extra.get("cov_confirmed", False))
        self._cov_confirm = _number(extra, "cov_confirm", float(self.settings.poll_interval),
                                    0.1, 3600.0)
        self._cov_tasks: list[asyncio.Task[None]] = []
        self._subscriptions: list[Any] = []
        # (device, object) -> whether it has a priority array: read once, at its first write.
        self._commandable: dict[tuple[str, str], bool] = {}
        self.app: Application | None = None
        self.rpm_requests = 0
        self.rp_requests = 0
        self.rpm_rejects = 0
        self.decode_errors = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind the client's UDP socket (a malformed address, or one this machine has not, is a
        one-line :class:`DriverError`, not bacpypes3's traceback)."""
        check_address(self.address, "drivers.bacnet.address")
        device = DeviceObject(objectIdentifier=("device", 4194302), objectName="openbms",
                              vendorIdentifier=999, maxApduLengthAccepted=1476,
                              segmentationSupported="segmented-both")
        port = NetworkPortObject(self.address, objectIdentifier=("network-port", 1),
                                 objectName="NetworkPort-1")
        if self.bbmd:
            check_address(self.bbmd, "drivers.bacnet.bbmd", bind=False)
            # A foreign device: bacpypes3 registers with the BBMD, renews at each TTL, and
            # sends broadcasts there as Distribute-Broadcast-To-Network.
            port.bacnetIPMode = IPMode.foreign
            port.fdBBMDAddress = HostNPort(self.bbmd)
            port.fdSubscriptionLifetime = self._bbmd_ttl
        try:
            self.app = Application.from_object_list([device, port])
            for network, router in self._routers.items():
                for snet in list(self.app.nsap.adapters):
                    await self.app.nsap.router_info_cache.update_path_info(
                        snet, Address(router), {network})
            self._guard_routes(self.app)
            self._hook_acks(self.app)
            self._hook_notifications(self.app)
            noise.install()
            noise.attribute_senders(self.app)
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
        if self.bbmd:
            self._cov_tasks.append(asyncio.create_task(self._watch_registration()))

    def _foreign_link(self) -> Any:
        """bacpypes3's foreign-device link layer, or None when not a foreign device."""
        if not self.bbmd or self.app is None:
            return None
        for layer in self.app.link_layers.values():
            if hasattr(layer, "bbmdRegistrationStatus"):
                return layer
        return None

    def problems(self) -> list[str]:
        """What keeps the driver from reaching devices, for the health check: a registration
        with the BBMD that failed (once reported)."""
        return [self._registration_problem] if self._registration_problem else []

    def registration(self) -> str | None:
        """The foreign-device registration with ``bbmd``: 'registered', 'registering',
        'refused' (the BBMD answered the registration with a NAK), 'lost' (it refused a
        broadcast: it has forgotten the registration, e.g. it restarted), 'expired' (renewals
        went unanswered past the TTL), or None when not a foreign device."""
        layer = self._foreign_link()
        if layer is None:
            return None
        status = layer.bbmdRegistrationStatus
        # 0x0060: a Distribute-Broadcast-To-Network NAK: the BBMD no longer has us (restarted).
        return {0: "registered", -1: "registering", -2: "expired", 0x60: "lost"}.get(
            status, "refused")

    async def _watch_registration(self) -> None:
        """Keep the registration with the BBMD going, and say when it fails and comes back:
        without it no broadcast (Who-Is, Who-Is-Router-To-Network) reaches the devices.

        bacpypes3 (0.0.110) retries an unanswered registration every 5 s, but after a NAK
        it ignores every later answer, after an expiry it stops for good, and an answer from
        any other address makes it ignore the BBMD's: from each of these (and at once when the
        BBMD refuses a broadcast, having forgotten us), registration is started again here,
        every 5 s.
        """
        reported = "registered"
        since = retried = self._clock.monotonic()
        while True:
            await asyncio.sleep(min(1.0, self._registration_grace / 4))
            now, t = self.registration(), self._clock.monotonic()
            if now == "registered":
                since = t
            elif (now in ("refused", "expired", "lost")
                  or (now == "registering" and t - since >= self._registration_grace)) \
                    and (t - retried >= 5.0 or now == "lost"):
                # bacpypes3 stops after a NAK or an expiry, and ignores the BBMD's answers after
                # an answer from elsewhere: start it again.
                retried = t
                layer = self._foreign_link()
                layer._stop_tracking_registration()
                layer.bbmdRegistrationStatus = -2
                layer.register(Address(self.bbmd), self._bbmd_ttl)
            if now == "registering" and t - since < self._registration_grace:
                continue  # a registration takes a round trip
            if (now == "registered") == (reported == "registered"):
                continue
            if now == "registered":
                self._registration_problem = None
                log.warning("bacnet: registered as a foreign device with BBMD %s (TTL %d s)",
                            self.bbmd, self._bbmd_ttl)
            else:
                why = {"refused": "was refused (the BBMD answered with a NAK: does it accept "
                                  "foreign devices?)",
                       "expired": "expired (renewals were not answered)",
                       "lost": "was lost (the BBMD refused a broadcast: did it restart?)"}.get(
                    str(now), "is not answered (is the BBMD at that address and port?)")
                self._registration_problem = (
                    f"bacnet: registration as a foreign device with BBMD {self.bbmd} {why}; "
                    "broadcasts (Who-Is) do not reach its network")
                log.warning("%s until it is: retrying every 5 s", self._registration_problem)
            reported = str(now)

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
        pending = [*self._resolving.values(), *self._background]
        for pending_task in pending:
            pending_task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        layer = self._foreign_link()
        if layer is not None:
            # Leave the BBMD's table now rather than TTL + 30 s from now.
            if layer.bbmdRegistrationStatus == 0 and self.bbmd:
                netlayer.transport(self.app).sendto(netlayer.unregister_datagram(),
                                                    netlayer.host_port(self.bbmd))
            layer._stop_tracking_registration()
        if self.app is not None:
            # bacpypes3 keeps each transaction's retry timer after its request was cancelled; one
            # firing after the socket closed fails in a task nobody awaits ("Task exception was
            # never retrieved" at every stop with a read in flight). Stop them first.
            asap = self.app.asap
            for transaction in (*asap.clientTransactions, *asap.serverTransactions):
                transaction.stop_timer()
            self.app.close()
            self.app = None

    def max_batch(self, device: str) -> int:
        return self._max_batch

    def max_in_flight(self) -> int:
        """Requests outstanding at once: the driver manager starts no more reads than this, so a
        read's timeout measures the device, not the queue behind the other devices' reads."""
        return self._max_in_flight

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
            self._keys[binding.path] = (int(oid[0]), int(oid[1]))
        return oid

    async def resolve(self, device: str) -> Address:
        """Where a device is (see :meth:`_address`), for requests made outside the driver."""
        if self.app is None:
            raise DriverError("the bacnet driver is not started")
        return await self._address(device)

    async def _address(self, device: str) -> Address:
        """Where a device is: its ``devices:`` entry, the address in its binding (``net:mac``,
        ``ip:port``), or where its I-Am came from (a global Who-Is for its instance)."""
        addr = self._addresses.get(device)
        if addr is not None:
            return addr
        if device in self._static:
            addr = device_address(self._static[device], f"drivers.bacnet.devices.{device}")
        elif not device.isdigit():
            addr = device_address(device, f"bacnet device {device!r}")
        else:
            i_am = await self._shared(("who-is", device), lambda: self._who_is(int(device)))
            addr = i_am.pduSource
            self._learn(device, i_am)
        if addr.addrType == Address.remoteStationAddr:
            await self._shared(("route", addr.addrNet), lambda: self._route(device, addr.addrNet))
        self._addresses[device] = addr
        return addr

    def _forget(self, device: str) -> None:
        """After a device stopped answering: resolve it again on its next read (at most once a
        minute per device and per network), and drop a route to its network that was learnt
        (not one under ``routers:``)."""
        now = self._clock.monotonic()
        if now < self._forgotten.get(device, 0.0):
            return
        self._forgotten[device] = now + 60.0
        addr = self._addresses.pop(device, None)
        if (addr is None or addr.addrType != Address.remoteStationAddr or self.app is None
                or addr.addrNet in self._routers):
            return
        key = f"network {addr.addrNet}"
        if now < self._forgotten.get(key, 0.0):
            return
        self._forgotten[key] = now + 60.0
        cache = self.app.nsap.router_info_cache
        for snet in list(self.app.nsap.adapters):
            task = asyncio.ensure_future(cache.delete_path_info(snet, addr.addrNet))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _shared(self, key: object, make: Any) -> Any:
        """The result of ``make()``, or, when the same resolution is under way, of that one (one
        Who-Is for a device however many reads wait for it). A waiter that is cancelled leaves
        the resolution running for the others; the entry goes when it ends, however it ends."""
        running = self._resolving.get(key)
        if running is None:
            running = asyncio.ensure_future(make())
            self._resolving[key] = running

            def done(task: asyncio.Future[Any], key: object = key) -> None:
                if self._resolving.get(key) is task:
                    del self._resolving[key]
                if not task.cancelled():
                    task.exception()  # retrieved: the waiters raise it, if any are left

            running.add_done_callback(done)
        return await asyncio.shield(running)

    async def _registered(self, seconds: float = 3.0) -> None:
        """With a BBMD: wait (a little) for the registration, since broadcasts it is sent before
        are refused."""
        for _ in range(int(seconds / 0.05)):
            if self.registration() in (None, "registered"):
                return
            await asyncio.sleep(0.05)

    async def _who_is(self, instance: int) -> Any:
        """The I-Am of one device: one global Who-Is for its instance, broadcast (or through the
        BBMD) as :mod:`.netlayer` says, so routers pass it to the networks behind them."""
        assert self.app is not None
        await self._registered()
        waiting = netlayer.collect_i_ams(self.app, instance, instance, 2.0)
        netlayer.send(self.app, lambda f: netlayer.who_is_datagram(instance, instance, f),
                      [self.broadcast], self.bbmd)
        i_ams = await waiting
        if not i_ams:
            via = f"through BBMD {self.bbmd}" if self.bbmd else f"sent to {self.broadcast}"
            raise DeviceUnreachable(f"bacnet device {instance} did not answer Who-Is ({via})")
        return i_ams[0]

    async def _route(self, device: str, network: int) -> None:
        """Make sure bacpypes3 knows a router to ``network``: the one under ``routers:`` (known
        from the start), else the one answering Who-Is-Router-To-Network (broadcast, or through
        the BBMD)."""
        assert self.app is not None
        if await netlayer.wait_for_route(self.app, network, 0):
            return
        await self._registered()
        netlayer.send(self.app, lambda f: netlayer.who_is_router_datagram(network, f),
                      [self.broadcast], self.bbmd)
        if await netlayer.wait_for_route(self.app, network, 2.0) is None:
            via = f"through BBMD {self.bbmd}" if self.bbmd else f"broadcast to {self.broadcast}"
            raise DeviceUnreachable(
                f"bacnet device {device}: no router to network {network} answered "
                f"Who-Is-Router-To-Network ({via}); name it under drivers.bacnet.routers "
                f"({network}: ip:port) if broadcasts do not reach it")

    def _guard_routes(self, app: Application) -> None:
        """Routers under ``routers:`` are fixed: bacpypes3 would move a network to any host that
        says it routes there (an I-Am-Router-To-Network, or any message with a source network),
        which anyone on the network can send. A learnt route that moves is logged."""
        cache = app.nsap.router_info_cache
        update = cache.update_path_info
        fixed = set(self._routers)

        async def update_path_info(snet: int | None, address: Address, dnets: Any) -> None:
            keep = set()
            for net in dnets:
                if net in fixed:
                    continue
                known = await cache.get_path_info(snet, net)
                if known and known[0] != address:
                    noise_log.warning(
                        "bacnet network %s: %s says it is the router to it, not %s: using %s "
                        "(if both are, two networks have number %s; name the right one under "
                        "drivers.bacnet.routers)", net, address, known[0], address, net)
                keep.add(net)
            if keep:
                await update(snet, address, keep)

        cache.update_path_info = update_path_info

    def _learn(self, device: str, i_am: Any) -> None:
        """Objects per request from a device's I-Am (max APDU length accepted)."""
        try:
            size = int(i_am.maxAPDULengthAccepted)
        except (TypeError, ValueError):
            return
        objects = wire.max_objects(size)
        self._objects[device] = min(objects, self._max_objects) if self._max_objects else objects
        self._announced[device] = self._objects[device]

    async def _objects_per_request(self, device: str, addr: Address) -> int:
        """How many objects one RPM of this device may ask for (learned once)."""
        due = self._shrunk.get(device)
        if due is not None and self._clock.monotonic() >= due:
            self._regrow(device)
        known = self._objects.get(device)
        if known is not None:
            return known
        assert self.app is not None
        i_ams: list[Any] = []
        if device in self._static or not device.isdigit():
            # A directed Who-Is: the device's I-Am says how big a reply it can send.
            number = int(device) if device.isdigit() else None
            try:
                i_ams = await self.app.who_is(number, number, addr, timeout=1)
            except ErrorRejectAbortNack:
                i_ams = []
        if i_ams:
            self._learn(device, i_ams[0])
            return self._objects[device]
        # Not learned (tried again next time): BACnet/IP's usual size, halved on a size abort;
        # behind a router, an MS/TP frame's (a bigger request would not cross the router).
        guess = wire.max_objects(480 if addr.addrType == Address.remoteStationAddr else 1476)
        return min(guess, self._max_objects) if self._max_objects else guess

    def _regrow(self, device: str) -> None:
        """Ask for the announced number of objects again (the aborts for size may have been spoofed)."""
        del self._shrunk[device]
        self._regrown[device] = self._clock.monotonic()
        announced = self._announced.get(device)
        if announced is None:
            self._objects.pop(device, None)  # learned or guessed again
        else:
            self._objects[device] = announced
        noise_log.info("bacnet device %s: asking for %s objects per request again", device,
                       announced or "as many")

    def _hook_acks(self, app: Application) -> None:
        """Let the acknowledgements of our own RPM requests past bacpypes3's generic decoder.

        The application service access point decodes every complex ack into a
        ``Sequence``; for requests the lean path sent (and only those: discovery's
        RPMs on the same application are decoded as usual) the undecoded ack goes
        on to the waiting future and :func:`wire.decode_rpm_ack` reads its bytes.
        """
        asap = app.asap
        generic = asap.sap_response
        lean = self._lean

        async def sap_response(apdu: Any) -> None:
            try:
                if (type(apdu) is ComplexAckPDU and apdu.apduService == wire.SERVICE_RPM
                        and (apdu.pduSource, apdu.apduInvokeID) in lean):
                    await ServiceAccessPoint.sap_response(asap, apdu)
                else:
                    await generic(apdu)
            except asyncio.InvalidStateError:
                # A late reply to a request that timed out or was cancelled (at shutdown):
                # bacpypes3 would set the result of a future that is done already.
                noise_log.debug("bacnet: a late reply from %s dropped", apdu.pduSource)

        asap.sap_response = sap_response

    @staticmethod
    def _hook_notifications(app: Application) -> None:
        """Mark the end of each COV notification in its subscription's queue.

        bacpypes3 queues a notification's values one by one (present value, then status
        flags), so they would be applied one at a time: a value with the old status first.
        The mark lets :meth:`_notifications` apply them together.
        """
        for name in ("do_UnconfirmedCOVNotificationRequest", "do_ConfirmedCOVNotificationRequest"):
            handler = getattr(app, name)

            async def marked(apdu: Any, handler: Any = handler) -> None:
                await handler(apdu)  # a confirmed one for no subscription raises: no mark
                scm = app._cov_contexts.get((apdu.pduSource, apdu.subscriberProcessIdentifier))
                if scm is not None and apdu.monitoredObjectIdentifier == \
                        scm.monitored_object_identifier:
                    scm.queue.put_nowait(_END_OF_NOTIFICATION)

            setattr(app, name, marked)

    # ------------------------------------------------------------------ reads

    async def read(self, device: str, bindings: Sequence[Binding]) -> list[Reading]:
        if self.app is None:
            raise DriverError("the bacnet driver is not started")
        try:
            return await self._read(device, bindings)
        except (DeviceUnreachable, TimeoutError, OSError, asyncio.CancelledError):
            # Not answering (a timeout cancels the read): look the device (and its route) up
            # again, since it, its router, or a spoofed I-Am may have moved it.
            self._forget(device)
            raise

    async def _read(self, device: str, bindings: Sequence[Binding]) -> list[Reading]:
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
            try:
                if not self._use_rpm(device):
                    out.update(await self._read_each(device, addr, wanted))
                else:
                    if self._use_lean(device):
                        out.update(await self._read_lean(device, addr, wanted, bindings))
                    else:
                        size = await self._objects_per_request(device, addr)
                        for i in range(0, len(wanted), size):
                            out.update(await self._read_multiple(device, addr,
                                                                 wanted[i : i + size]))
                    if device in self._refused or device in self._no_rpm:
                        self._rpm_accepted(device)
            except RejectPDU as err:
                self._rpm_refused(device, err)
                out.update(await self._read_each(device, addr, wanted))
        return [out[i] for i in range(len(bindings))]

    def _use_rpm(self, device: str) -> bool:
        """RPM, unless the device refused it and its next probe is not due yet."""
        probe_at = self._no_rpm.get(device)
        return probe_at is None or self._clock.monotonic() >= probe_at

    def _rpm_accepted(self, device: str) -> None:
        self._refused.pop(device, None)
        if self._no_rpm.pop(device, None) is not None:
            self._backoff.pop(device, None)
            log.info("bacnet device %s accepts ReadPropertyMultiple again: reading by RPM", device)

    def _rpm_refused(self, device: str, err: BaseException) -> None:
        """Count a reject of RPM; read object by object after enough of them in a row.

        Anyone who can send a datagram from the device's address can reject a
        request for it, so the evidence has to repeat, and RPM is probed again later.
        """
        self.rpm_rejects += 1
        if device in self._no_rpm:  # a probe was refused: the device still means it
            backoff = min(self._backoff.get(device, self._rpm_reprobe) * 2, self._rpm_reprobe_max)
            self._backoff[device] = backoff
            self._no_rpm[device] = self._clock.monotonic() + backoff
            noise_log.info("bacnet device %s still rejects ReadPropertyMultiple (%s): trying "
                           "again in %.0f s", device, err, backoff)
            return
        refused = self._refused.get(device, 0) + 1
        if refused < self._rpm_refusals:
            self._refused[device] = refused
            noise_log.info("bacnet device %s rejected ReadPropertyMultiple (%s): %d of %d "
                           "in a row before reading object by object", device, err, refused,
                           self._rpm_refusals)
            return
        self._refused.pop(device, None)
        self._backoff[device] = self._rpm_reprobe
        self._no_rpm[device] = self._clock.monotonic() + self._rpm_reprobe
        log.info("bacnet device %s rejected ReadPropertyMultiple %d times in a row (%s): reading "
                 "object by object, and trying RPM again in %.0f s", device, refused, err,
                 self._rpm_reprobe)

    async def _read_lean(self, device: str, addr: Address, wanted: list[tuple[int, ObjectIdentifier]],
                         bindings: Sequence[Binding]) -> dict[int, Reading]:
        """RPM in requests that fit the device's APDU, all at once (the in-flight limit paces)."""
        size = await self._objects_per_request(device, addr)
        chunks = [wanted[i : i + size] for i in range(0, len(wanted), size)]
        keys = [[self._keys[bindings[i].path] for i, _ in chunk] for chunk in chunks]
        if len(chunks) == 1:
            results = [await self._rpm(device, addr, keys[0])]
        else:
            results = await asyncio.gather(*(self._rpm(device, addr, k) for k in keys))
        out: dict[int, Reading] = {}
        for chunk, chunk_keys, result in zip(chunks, keys, results, strict=True):
            if result is None:  # the codec could not read this device's reply
                out.update(await self._read_multiple(device, addr, chunk))
                continue
            for (i, _), key in zip(chunk, chunk_keys, strict=True):
                got = result.get(key)
                if got is None:
                    out[i] = Reading(None, FAULT, f"bacnet device {device}: {key[0]},{key[1]}: "
                                     "missing from the reply")
                elif got[2] is not None:
                    out[i] = Reading(None, FAULT, f"bacnet device {device}: {key[0]},{key[1]}: "
                                     f"{_error_text(got[2])}")
                else:
                    out[i] = Reading(got[0], _status_bits(got[1]))
        return out

    async def _rpm(self, device: str, addr: Address,
                   keys: list[tuple[int, int]]) -> dict[tuple[int, int], wire.ObjectResult] | None:
        """One lean RPM; None when the reply does not parse (the device is then read generically)."""
        assert self.app is not None
        data = self._requests.get(tuple(k for key in keys for k in key))
        if data is None:
            data = wire.encode_rpm_request(keys)
            if len(self._requests) < 100_000:
                self._requests[tuple(k for key in keys for k in key)] = data
        apdu = ConfirmedRequestPDU(wire.SERVICE_RPM)
        apdu.pduDestination = addr
        apdu.put_data(data)
        self.rpm_requests += 1
        try:
            async with self._in_flight:
                future = self.app.request(apdu)
                mark = (addr, apdu.apduInvokeID)
                self._lean.add(mark)
                try:
                    ack = await future
                finally:
                    self._lean.discard(mark)
        except RejectPDU:
            raise
        except AbortPDU as err:
            if getattr(err, "apduAbortRejectReason", None) in _TOO_BIG and len(keys) > 1:
                half = max(1, len(keys) // 2)
                self._objects[device] = half
                if device not in self._shrunk:
                    now = self._clock.monotonic()
                    backoff = self._shrink_backoff.get(device, self._rpm_reprobe)
                    regrown = self._regrown.pop(device, None)
                    # Aborted again within a back-off of asking for the announced size: the device
                    # means it, wait longer. Later (or the first time): one Abort, perhaps spoofed,
                    # costs one back-off of the base length, never a longer one for good.
                    backoff = (min(backoff * 2, self._rpm_reprobe_max)
                               if regrown is not None and now - regrown < backoff else self._rpm_reprobe)
                    self._shrink_backoff[device] = backoff
                    self._shrunk[device] = now + backoff
                noise_log.warning("bacnet device %s: a reply for %d objects is too big; asking for "
                                  "%d at a time", device, len(keys), half)
                parts = [await self._rpm(device, addr, keys[i : i + half])
                         for i in range(0, len(keys), half)]
                if any(p is None for p in parts):
                    return None
                return {k: v for p in parts if p is not None for k, v in p.items()}
            raise self._translate(device, err) from None
        except ErrorRejectAbortNack as err:
            raise self._translate(device, err) from None
        if isinstance(ack, APCISequence) or not isinstance(ack, ComplexAckPDU):
            return None
        try:
            result = wire.decode_rpm_ack(bytes(ack.pduData))
        except wire.WireError as err:
            self.decode_errors += 1
            try:
                APCISequence.decode(ack)
            except Exception:  # bacpypes3's decoders raise many kinds
                # Garbage, not a limit of our codec: this read fails, the next may not.
                raise PointError(f"bacnet device {device}: malformed ReadPropertyMultiple "
                                 f"reply: {err}") from None
            self._lean_refused(device, err)
            return None
        undecodable = {key for key, got in result.items()
                       if got[2] is not None and got[2].startswith(wire.UNDECODABLE)}
        if undecodable:  # bacpypes3's decoder for those objects only, from the same reply
            generic = self._generic_objects(device, ack, undecodable, result)
            if generic is None:
                self._lean_refused(device, wire.WireError("no object of the reply decodes"))
                return None
            result.update(generic)
        if device in self._no_lean:  # a probe of our decoder worked
            del self._no_lean[device]
            self._lean_backoff.pop(device, None)
            log.info("bacnet device %s: its ReadPropertyMultiple replies are decoded by the lean "
                     "codec again", device)
        return result

    def _generic_objects(self, device: str, ack: ComplexAckPDU, keys: set[tuple[int, int]],
                         lean: dict[tuple[int, int], wire.ObjectResult],
                         ) -> dict[tuple[int, int], wire.ObjectResult] | None:
        """Present values the lean codec could not read, as bacpypes3 reads them (per object).

        None when no object of the reply is readable and bacpypes3 calls every value invalid
        for its type: garbage (perhaps spoofed) rather than one odd object, a failed read.
        """
        self.decode_errors += len(keys)
        out: dict[tuple[int, int], wire.ObjectResult] = {}
        malformed = 0
        try:
            decoded = APCISequence.decode(ack)
            results = list(decoded.listOfReadAccessResults)
        except Exception as err:  # bacpypes3's decoders raise many kinds
            results = []
            failed = f"bacpypes3 cannot decode the reply either ({type(err).__name__}: {err})"
        else:
            failed = "bacpypes3 finds no present value for it in the reply"
        for result in results:
            oid = result.objectIdentifier
            key = (int(oid[0]), int(oid[1]))
            if key not in keys or key in out:
                continue
            for element in result.listOfResults:
                if (int(element.propertyIdentifier) != wire.PRESENT_VALUE
                        or element.readResult.propertyValue is None):
                    continue
                value, why, bad = _generic_present_value(key[0], element.readResult.propertyValue)
                malformed += bad
                out[key] = (value, lean[key][1], None if why is None else
                            f"{lean[key][2]}; {why}")
        if malformed and malformed == len(keys) == len(lean):
            return None
        for key in keys - out.keys():
            out[key] = (None, lean[key][1], f"{lean[key][2]}; {failed}")
        for key, (_, _, why) in out.items():
            if (why is not None and (device, key) not in self._undecodable
                    and len(self._undecodable) < 10_000):  # once per object
                self._undecodable.add((device, key))
                log.info("bacnet device %s: object %d,%d is a fault: %s", device, key[0],
                         key[1], why)
        return out

    def _use_lean(self, device: str) -> bool:
        """Our decoder, unless this device's replies needed bacpypes3's and no probe is due."""
        probe_at = self._no_lean.get(device)
        return probe_at is None or self._clock.monotonic() >= probe_at

    def _lean_refused(self, device: str, err: Exception) -> None:
        """Use bacpypes3's decoder for a while (a spoofed reply may be what did not parse)."""
        if device in self._no_lean:  # the probe failed too
            backoff = min(self._lean_backoff.get(device, self._rpm_reprobe) * 2,
                          self._rpm_reprobe_max)
            noise_log.info("bacnet device %s: its ReadPropertyMultiple replies still need the "
                           "generic decoder (%s); trying ours again in %.0f s", device, err, backoff)
        else:
            backoff = self._rpm_reprobe
            log.warning("bacnet device %s: its ReadPropertyMultiple replies need the generic "
                        "decoder (%s); using it for this device, and trying ours again in %.0f s",
                        device, err, backoff)
        self._lean_backoff[device] = backoff
        self._no_lean[device] = self._clock.monotonic() + backoff

    async def units(self, device: str, bindings: Sequence[Binding]) -> list[str | None]:
        """The ``units`` property of each analog object, as a canonical symbol (once per device)."""
        if self.app is None:
            raise DriverError("the bacnet driver is not started")
        addr = await self._address(device)
        wanted: list[tuple[int, ObjectIdentifier]] = []
        for i, b in enumerate(bindings):
            try:
                oid = self._objid(b)
            except PointError:
                continue
            if str(oid[0]) in _UNIT_TYPES:
                wanted.append((i, oid))
        found: dict[int, str | None] = {}
        size = await self._objects_per_request(device, addr)
        for start in range(0, len(wanted), size):
            chunk = wanted[start : start + size]
            try:
                if device in self._no_rpm:
                    raise RejectPDU()
                if self._use_lean(device):
                    lean = await self._lean_units(addr, [(int(o[0]), int(o[1])) for _, o in chunk])
                    if lean is not None:
                        for i, oid in chunk:
                            got = lean.get((int(oid[0]), int(oid[1])))
                            found[i] = _units_number_symbol(got[0] if got and got[2] is None else None)
                        continue
                request: list[Any] = []
                for _, oid in chunk:
                    request += [oid, ["units"]]
                async with self._in_flight:
                    result = await self.app.read_property_multiple(addr, request)
                by_oid = {tuple(oid): value for oid, _prop, _index, value in result}
                for i, oid in chunk:
                    found[i] = _unit_symbol(by_oid.get(tuple(oid)))
            except RejectPDU:
                for i, oid in chunk:
                    try:
                        async with self._in_flight:
                            found[i] = _unit_symbol(await self.app.read_property(addr, oid, "units"))
                    except ErrorRejectAbortNack:
                        found[i] = None
            except ErrorRejectAbortNack as err:
                raise self._translate(device, err) from None
        return [found.get(i) for i in range(len(bindings))]

    async def _lean_units(self, addr: Address, keys: list[tuple[int, int]],
                          ) -> dict[tuple[int, int], wire.ObjectResult] | None:
        """The units of ``keys`` through the lean codec; None when the reply is not one it reads
        (the caller asks bacpypes3, whose generic decoding cost 6 ms a request at 1 000 devices)."""
        assert self.app is not None
        apdu = ConfirmedRequestPDU(wire.SERVICE_RPM)
        apdu.pduDestination = addr
        apdu.put_data(wire.encode_rpm_request(keys, units=True))
        try:
            async with self._in_flight:
                future = self.app.request(apdu)
                mark = (addr, apdu.apduInvokeID)
                self._lean.add(mark)
                try:
                    ack = await future
                finally:
                    self._lean.discard(mark)
        except (RejectPDU, TimeoutError, OSError):
            raise
        except ErrorRejectAbortNack:  # asked again through bacpypes3, which says what it was
            return None
        if isinstance(ack, APCISequence) or not isinstance(ack, ComplexAckPDU):
            return None
        try:
            return wire.decode_rpm_ack(bytes(ack.pduData), wire.UNITS)
        except wire.WireError:
            return None

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
        except (DecodingError, RejectException) as err:  # bacpypes3 cannot read the reply either
            raise PointError(f"bacnet device {device}: malformed ReadPropertyMultiple reply "
                             f"({type(err).__name__}: {err})") from None
        except (TimeoutError, OSError):
            raise
        except Exception as err:  # an object type or value its decoder does not know: per object
            noise_log.debug("bacnet device %s: bacpypes3 cannot type its ReadPropertyMultiple reply "
                           "(%s: %s): reading object by object", device, type(err).__name__, err)
            return await self._read_each(device, addr, wanted)
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
                try:
                    value = _atomic(pv)
                except TypeError as err:
                    out[i] = Reading(None, FAULT, f"bacnet device {device}: {oid[0]},{oid[1]}: "
                                     f"its present value is {err}")
                    continue
                out[i] = Reading(value, _status(values.get((tuple(oid), "status-flags"))))
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
            except (TimeoutError, OSError):
                raise
            except Exception as err:  # bacpypes3 does not know the object type or the value's
                out[i] = Reading(None, FAULT, f"bacnet device {device}: {oid[0]},{oid[1]}: its "
                                 f"present value does not decode ({type(err).__name__}: {err})")
                continue
            try:
                out[i] = Reading(_atomic(pv), OK)
            except TypeError as err:
                out[i] = Reading(None, FAULT, f"bacnet device {device}: {oid[0]},{oid[1]}: its "
                                 f"present value is {err}")
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
        if (value is None or priority is not None) and not await self.commandable(binding):
            if value is None:
                raise WriteRefused(f"{binding}: not commandable (no priority array): there is no "
                                   "priority to release; its value stays until written again")
            priority = None  # written as such objects are: without a priority
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

    async def commandable(self, binding: Binding) -> bool:
        """Whether an object has a priority array (read once, then remembered).

        An object without one (a non-commandable value) takes writes without a priority and
        cannot be released.
        """
        key = (binding.device, binding.path)
        known = self._commandable.get(key)
        if known is None:
            try:
                await self.priority_array(binding)
                known = True
            except PointError as err:
                if "unknown-property" not in str(err):
                    raise
                known = False
            self._commandable[key] = known
        return known

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
        """Turn one subscription's notifications into change callbacks, one per notification:
        its present value and status flags together."""
        status = OK
        value: Value = None
        while True:
            got: dict[str, Any] = {}
            while (item := await scm.get()) is not _END_OF_NOTIFICATION:
                got[str(item.propertyIdentifier)] = item
            new = status
            if "status-flags" in got:
                new = _status(await self._cov_value(scm, got["status-flags"]))
            if "present-value" in got:
                value = _plain(await self._cov_value(scm, got["present-value"]))
                on_change(binding, value, new)
            elif new != status and value is not None:  # a status change alone is news too
                on_change(binding, value, new)
            status = new

    @staticmethod
    async def _cov_value(scm: Any, item: Any) -> Any:
        """One property value of a notification, decoded as bacpypes3's ``get_value`` does."""
        info = await scm.app.device_info_cache.get_device_info(scm.address)
        vendor = get_vendor_info(info.vendor_identifier if info else 0)
        cls = vendor.get_object_class(scm.monitored_object_identifier[0])
        kind = cls.get_property_type(item.propertyIdentifier) if cls else None
        if kind is None:
            return DecodingError(f"no property type: {item.propertyIdentifier}")
        return item.value.cast_out(kind)

    def confirm_interval(self, device: str) -> float:
        """Seconds between :meth:`confirm` checks of a subscribed device (``cov_confirm``)."""
        return self._cov_confirm

    async def confirm(self, device: str) -> None:
        """Check that a subscribed device is there with one small request (its device object's
        system status; by RPM unless the device refuses RPM): returns when it answers, raises
        :class:`DeviceUnreachable` when it aborts (the caller bounds the wait, as for reads)."""
        if self.app is None:
            raise DriverError("the bacnet driver is not started")
        addr = await self._address(device)
        # A device named by its address: 4194303, which every device takes as its own instance.
        oid = ObjectIdentifier(("device", int(device) if device.isdigit() else 4194303))
        try:
            async with self._in_flight:
                if self._use_rpm(device):
                    self.rpm_requests += 1
                    await self.app.read_property_multiple(addr, [oid, ["system-status"]])
                else:
                    self.rp_requests += 1
                    await self.app.read_property(addr, oid, "system-status")
        except ErrorPDU:
            return  # an error answer is an answer: the device is there
        except ErrorRejectAbortNack as err:
            if isinstance(err, AbortPDU):
                raise DeviceUnreachable(f"bacnet device {device}: aborted ({err})") from None

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
