"""The REST driver: points of devices behind a vendor's HTTP API, read by an HTTP profile.

::

    manager ──read(device, bindings)──▶ point_spec (once per binding)
        ──▶ one GET per resource the bindings name (concurrently) ──▶ select each #field ──▶ Readings
              │ a field missing, null, an object or an unknown state label: that point faults
              │ 404 or another 4xx: the device's points fault with the vendor's answer
              └ 5xx, timeouts, transport errors after retries, refused credentials:
                DeviceUnreachable (the manager marks the device offline, and back when it answers)
    arbiter ──write(binding, value)──▶ the profile's write: method, path, body template ──▶
                                       a 4xx is WriteRefused with the vendor's answer
    webhook route ──(the service layer)──▶ deliver(payload) ──▶ the manager's change callback:
                                       a pushed value is a sample at once; polling goes on

Each device is polled by its own task of the manager, and a read sends its
requests on a shared connection pool with a timeout each, so a slow device
delays only itself; the host's rate limit is the one thing they share. Per
sample only ``select`` runs (no model, no logging).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from openbms.drivers.base import ChangeCallback, DriverBase
from openbms.drivers.rest.http import Api, secret
from openbms.drivers.rest.settings import PointSpec, RestConfig, point_spec, read_config, select
from openbms.errors import BindingError, DeviceUnreachable, DriverError, WriteRefused
from openbms.model.binding import Binding
from openbms.model.sample import FAULT, Reading, Value
from openbms.model.site import DriverSettings
from openbms.runtime.clock import Clock, WallClock

__all__ = ["RestDriver", "WebhookError"]

log = logging.getLogger(__name__)

#: Seconds of held-back requests that the health check reports.
HELD = 5.0
#: A write body that is the whole resource, read and changed at the point's field.
WHOLE = "{resource}"


class WebhookError(DriverError):
    """A webhook's payload does not say which device and values it carries."""


def _value(raw: Any, spec: PointSpec, where: Binding) -> Reading:
    if spec.states:
        if isinstance(raw, str) and raw in spec.states:
            return Reading(spec.states.index(raw) + 1)
        return Reading(None, FAULT, f"{where}: {raw!r} is not one of the states "
                                    f"{', '.join(spec.states)}")
    if isinstance(raw, bool | int | float | str):
        return Reading(raw)
    if raw is None:
        return Reading(None, FAULT, f"{where}: the field is null")
    return Reading(None, FAULT, f"{where}: the field is {'a list' if isinstance(raw, list) else 'an object'}"
                                "; bind a value inside it (#field.inner)")


def render(template: Any, value: Value, unit: str, vendor_id: str) -> Any:
    """A write's body: the string ``"{value}"`` becomes the value itself; ``{unit}``, ``{id}`` and
    ``{value}`` inside other strings are replaced."""
    if isinstance(template, str):
        if template == "{value}":
            return value
        return (template.replace("{unit}", unit).replace("{id}", vendor_id)
                .replace("{value}", "" if value is None else str(value)))
    if isinstance(template, Mapping):
        return {k: render(v, value, unit, vendor_id) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, value, unit, vendor_id) for v in template]
    return template


def replaced(doc: Any, field: tuple[str, ...], value: Value) -> Any:
    """A copy of ``doc`` with the value at ``field`` replaced; None when there is no such field."""
    copy = json.loads(json.dumps(doc))
    found, parent = select(copy, field[:-1])
    last = field[-1]
    if found and isinstance(parent, dict) and last in parent:
        parent[last] = value
    elif found and isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        parent[int(last)] = value
    else:
        return None
    return copy


class RestDriver(DriverBase):
    """Points of devices behind a vendor REST API (``rest://DEVICE/RESOURCE#FIELD``)."""

    name = "rest"
    #: A device's points in one read: one request per resource, however many fields.
    batch_size = 1000

    def __init__(self, settings: DriverSettings | None = None, clock: Clock | None = None, *,
                 wall: Clock | None = None) -> None:
        self.settings = settings or DriverSettings()
        self.clock: Clock = clock or WallClock()
        try:
            self.config: RestConfig = read_config(dict(self.settings.model_extra or {}))
        except ValueError as err:
            raise DriverError(str(err)) from None
        # The vendor's limits and tokens are in real seconds, whatever the runtime's clock.
        self.api = Api(self.config, self.settings.timeout, wall or WallClock())
        self._specs: dict[str, PointSpec | str] = {}
        self._pushed: dict[str, dict[str, tuple[Binding, PointSpec, ChangeCallback]]] = {}
        self._by_vendor_id = {vid: name for name, vid in self.config.devices.items()}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._secret_error: str | None = None

    async def start(self) -> None:
        """Read the credentials and the webhook secret (a missing one fails the start, saying which)."""
        await self.api.start()
        self.webhook_secret()

    async def stop(self) -> None:
        """Close the connections."""
        await self.api.close()

    def problems(self) -> list[str]:
        """What keeps the driver from every device, for the health check: refused credentials,
        and requests held back for long (the vendor's Retry-After, or a queue behind rate_limit)."""
        out = [self.api.refused] if self.api.refused else []
        wait = self.api.limit.next_at - self.api.clock.monotonic()
        if wait > HELD:
            out.append(f"{self.config.base_url}: requests wait {wait:.0f} s (the vendor's "
                       "Retry-After, or requests queued behind drivers: rest: rate_limit)")
        return out

    def vendor_id(self, device: str) -> str:
        """The vendor's id of one of our devices (its own name when ``devices:`` does not map it)."""
        return self.config.devices.get(device, device)

    def _spec(self, binding: Binding) -> PointSpec | str:
        spec = self._specs.get(binding.uri)
        if spec is None:
            try:
                spec = point_spec(binding, self.config.profile)
            except BindingError as err:
                spec = str(err)
            self._specs[binding.uri] = spec
        return spec

    def _path(self, template: str, device: str) -> str:
        return template.replace("{id}", self.vendor_id(device))

    # ------------------------------------------------------------------ reads

    async def read(self, device: str, bindings: Sequence[Binding]) -> list[Reading]:
        """One GET per resource the bindings name, concurrently; one Reading per binding."""
        specs = [self._spec(b) for b in bindings]
        resources = sorted({s.resource for s in specs if not isinstance(s, str)})
        answers = await asyncio.gather(*(self._get(device, r) for r in resources))
        docs = dict(zip(resources, answers, strict=True))
        out = []
        for binding, spec in zip(bindings, specs, strict=True):
            if isinstance(spec, str):
                out.append(Reading(None, FAULT, spec))
                continue
            found, doc = docs[spec.resource]
            if not found:
                out.append(Reading(None, FAULT, str(doc)))
                continue
            present, raw = select(doc, spec.field)
            out.append(_value(raw, spec, binding) if present else
                       Reading(None, FAULT, f"{binding}: no field {'.'.join(spec.field)} in the answer"))
        return out

    async def _get(self, device: str, resource: str) -> tuple[bool, Any]:
        """(True, the resource's JSON) or (False, why the device's points fault)."""
        path = self._path(self.config.profile.resources[resource], device)
        answer = await self.api.request("GET", path)
        if answer.status_code >= 400:
            return False, f"GET {path}: {answer.status_code} {answer.text[:200]}"
        try:
            return True, answer.json()
        except ValueError:
            raise DeviceUnreachable(f"GET {path}: the answer is not JSON") from None

    # ------------------------------------------------------------------ writes

    async def write(self, binding: Binding, value: Value, priority: int | None) -> None:
        """Send the profile's write for the binding's field (REST APIs have no priorities)."""
        spec = self._spec(binding)
        if isinstance(spec, str):
            raise WriteRefused(spec)
        if spec.write is None:
            raise WriteRefused(f"{binding}: the profile has no write for {'.'.join(spec.field)} "
                               f"(writes: {', '.join(self.config.profile.writes) or 'none'})")
        if value is None:
            raise WriteRefused(f"{binding}: a REST API has no priority to release; give the point "
                               "a relinquish_default to write instead")
        if spec.states:
            if not isinstance(value, int | float) or isinstance(value, bool) or \
                    not 1 <= value <= len(spec.states) or value != int(value):
                raise WriteRefused(f"{binding}: {value!r} is not a state number 1 to {len(spec.states)}")
            value = spec.states[int(value) - 1]
        write = self.config.profile.writes[spec.write]
        path = self._path(write.path, binding.device)
        if write.body == WHOLE:
            # Read, change one field, write back: one at a time per resource, so two points of
            # one schedule written at once do not undo each other.
            lock = self._locks.setdefault((binding.device, spec.resource), asyncio.Lock())
            async with lock:
                found, doc = await self._get(binding.device, spec.resource)
                if not found:
                    raise WriteRefused(f"{binding}: cannot read it before writing: {doc}")
                body = replaced(doc, spec.field, value)
                if body is None:
                    raise WriteRefused(f"{binding}: no field {'.'.join(spec.field)} in the "
                                       f"{spec.resource} to write")
                answer = await self.api.request(write.method, path, body)
        else:
            body = render(write.body, value, spec.unit, self.vendor_id(binding.device))
            answer = await self.api.request(write.method, path, body)
        if answer.status_code >= 400:
            raise WriteRefused(f"{binding}: {write.method} {path} answered {answer.status_code}: "
                               f"{answer.text[:200]}")

    # ------------------------------------------------------------------ webhooks

    async def subscribe(self, device: str, bindings: Sequence[Binding],
                        on_change: ChangeCallback) -> bool:
        """Keep the callback for values the vendor pushes (webhooks); False: polling goes on, so a
        lost webhook costs one poll interval, not the value."""
        pushed = self._pushed.setdefault(device, {})
        for binding in bindings:
            spec = self._spec(binding)
            if not isinstance(spec, str):
                pushed[binding.uri] = (binding, spec, on_change)
        return False

    def webhook_names(self) -> tuple[str, ...]:
        """What the webhook route may call this driver: its scheme, and its shipped profile's name."""
        profile = (self.settings.model_extra or {}).get("profile", "thermostat")
        return (self.name, profile) if isinstance(profile, str) else (self.name,)

    def webhook_secret(self) -> bytes | None:
        """The shared secret webhooks are signed with (None: the driver takes no webhooks)."""
        if not self.config.webhook:
            return None
        value = secret(self.config.webhook, "secret", "webhook")
        return value.encode() if value else None

    def verify(self, body: bytes, signature: str) -> bool:
        """Whether ``signature`` (``sha256=HEX``) is the HMAC-SHA256 of ``body`` with the secret
        (compared in constant time; False when the driver has no secret)."""
        try:
            key = self.webhook_secret()  # read each time: a secret file may be rotated
        except DriverError as err:  # the file went away since the start: refuse, say why once
            if self._secret_error != str(err):
                self._secret_error = str(err)
                log.warning("webhooks refused: %s", err)
            return False
        self._secret_error = None
        if key is None:
            return False
        expected = "sha256=" + hmac.new(key, body, "sha256").hexdigest()
        return hmac.compare_digest(expected.encode(), signature.strip().encode())

    def deliver(self, payload: Any) -> int:
        """Hand a webhook's values to the manager at once; how many points changed.

        Raises WebhookError when the payload names no device or carries no values.
        """
        hook = self.config.profile
        found, vendor_id = select(payload, hook.webhook_device)
        if not found or not isinstance(vendor_id, str | int) or isinstance(vendor_id, bool):
            raise WebhookError(f"the payload has no device id at {'.'.join(hook.webhook_device)}")
        found, values = select(payload, hook.webhook_values)
        if not found or not isinstance(values, Mapping | list):
            raise WebhookError(f"the payload has no values at {'.'.join(hook.webhook_values)}")
        device = self._by_vendor_id.get(str(vendor_id), str(vendor_id))
        changed = 0
        for binding, spec, on_change in self._pushed.get(device, {}).values():
            if spec.resource != hook.webhook_resource:
                continue
            present, raw = select(values, spec.field)
            if present:
                reading = _value(raw, spec, binding)
                on_change(binding, reading.value, reading.status)
                changed += 1
        return changed

