"""``sim://device/path?wave=sine&min=12&max=16&period=3600&noise=0.05``

Each binding's value is a function of the clock: a wave between ``min`` and
``max`` with ``period`` and ``phase`` seconds, plus seeded Gaussian
``noise`` — the same clock and seed give the same values. ``random-walk``
keeps state and moves by ``step`` per second's square root, reflecting at
the bounds. ``kind=bool`` turns a wave into on/off (on above the middle).
An enum point's value is its state number, counted from 1 as BACnet's
multi-state objects do: ``wave=constant&value=2`` is its second state.
Writes fill a 16-level priority array per binding; while any level is set,
reads return the highest-priority value. For tests, a device can be taken
offline or made to fail a number of reads.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from openbms.drivers.base import DriverBase
from openbms.errors import DeviceUnreachable, PointError, WriteRefused
from openbms.model.binding import Binding
from openbms.model.sample import Reading, Value
from openbms.model.site import DriverSettings
from openbms.runtime.clock import Clock

__all__ = ["WAVES", "SimDriver"]

WAVES = ("sine", "ramp", "square", "random-walk", "constant")


@dataclass(slots=True)
class _Wave:
    wave: str
    lo: float
    hi: float
    period: float
    phase: float
    noise: float
    value: float
    step: float
    boolean: bool
    seed: int
    walk: float | None = None
    walk_t: float | None = None


def _parse(binding: Binding, driver_seed: int) -> _Wave:
    p = binding.params
    unknown = set(p) - {"wave", "min", "max", "period", "phase", "noise", "value", "step", "kind"}
    if unknown:
        raise PointError(f"{binding}: unknown parameter(s) {', '.join(sorted(unknown))}; expected "
                         "wave, min, max, period, phase, noise, value, step, kind")
    wave = p.get("wave", "constant")
    if wave not in WAVES:
        raise PointError(f"{binding}: unknown wave {wave!r}; expected one of {', '.join(WAVES)}")

    def num(key: str, default: float) -> float:
        try:
            return float(p[key]) if key in p else default
        except ValueError:
            raise PointError(f"{binding}: {key}={p[key]!r} is not a number") from None

    kind = p.get("kind", "number")
    if kind not in ("number", "bool"):
        raise PointError(f"{binding}: kind={kind!r}; expected number or bool")
    lo, hi = num("min", 0.0), num("max", 1.0 if kind == "bool" else 100.0)
    if lo > hi:
        raise PointError(f"{binding}: min ({lo:g}) is above max ({hi:g})")
    period = num("period", 3600.0)
    if period <= 0:
        raise PointError(f"{binding}: period must be positive")
    digest = hashlib.blake2b(f"{driver_seed}:{binding.uri}".encode(), digest_size=8).digest()
    return _Wave(wave, lo, hi, period, num("phase", 0.0), num("noise", 0.0), num("value", lo),
                 num("step", (hi - lo) / 100), kind == "bool", int.from_bytes(digest, "big"))


class SimDriver(DriverBase):
    """Simulated devices and points."""

    name = "sim"
    batch_size = 500

    def __init__(self, settings: DriverSettings | None = None, clock: Clock | None = None,
                 seed: int = 0) -> None:
        from openbms.runtime.clock import WallClock

        self.settings = settings or DriverSettings()
        self.clock: Clock = clock or WallClock()
        self.seed = int(getattr(self.settings, "seed", seed) or seed)
        self._waves: dict[str, _Wave | PointError] = {}
        self._written: dict[str, list[Value]] = {}
        self._offline: set[str] = set()
        self._fail_next: dict[str, int] = {}
        self._reads: dict[str, int] = {}

    # ------------------------------------------------------------------ test controls

    def set_offline(self, device: str, offline: bool = True) -> None:
        """Make every read of ``device`` raise DeviceUnreachable (or stop doing so)."""
        (self._offline.add if offline else self._offline.discard)(device)

    def fail_next(self, device: str, n: int = 1) -> None:
        """Make the next ``n`` reads of ``device`` fail."""
        self._fail_next[device] = n

    def read_count(self, device: str) -> int:
        """How many reads ``device`` has answered or refused."""
        return self._reads.get(device, 0)

    # ------------------------------------------------------------------ values

    def _wave(self, binding: Binding) -> _Wave:
        w = self._waves.get(binding.uri)
        if w is None:
            try:
                w = _parse(binding, self.seed)
            except PointError as err:
                w = err
            self._waves[binding.uri] = w
        if isinstance(w, PointError):
            raise w
        return w

    def value_at(self, binding: Binding, t: float) -> Value:
        """The generated value of a binding at time ``t`` (ignoring writes)."""
        w = self._wave(binding)
        mid, amp = (w.lo + w.hi) / 2, (w.hi - w.lo) / 2
        x = ((t + w.phase) % w.period) / w.period
        if w.wave == "sine":
            v = mid + amp * math.sin(2 * math.pi * x)
        elif w.wave == "ramp":
            v = w.lo + (w.hi - w.lo) * x
        elif w.wave == "square":
            v = w.hi if x < 0.5 else w.lo
        elif w.wave == "constant":
            v = w.value
        else:
            v = self._walk(w, t)
        if w.noise:
            v += random.Random(w.seed ^ int(t * 1000)).gauss(0.0, w.noise)
            v = min(w.hi, max(w.lo, v))
        if w.boolean:
            return v > mid
        return v

    @staticmethod
    def _walk(w: _Wave, t: float) -> float:
        if w.walk is None or w.walk_t is None:
            w.walk, w.walk_t = (w.lo + w.hi) / 2, t
        dt = t - w.walk_t
        if dt > 0:
            rng = random.Random(w.seed ^ int(t * 1000))
            v = w.walk + w.step * math.sqrt(dt) * rng.gauss(0.0, 1.0)
            span = w.hi - w.lo
            if span > 0:  # reflect at the bounds
                v = w.lo + abs(((v - w.lo) + span) % (2 * span) - span)
            w.walk, w.walk_t = v, t
        return w.walk

    def effective(self, binding: Binding) -> Value:
        """What a read returns now: the highest written priority, else the generated value."""
        slots = self._written.get(binding.uri)
        if slots:
            for v in slots:
                if v is not None:
                    return v
        return self.value_at(binding, self.clock.now())

    def priority_array(self, binding: Binding) -> list[Value]:
        """The 16 written levels of a binding (None where empty)."""
        return list(self._written.get(binding.uri) or [None] * 16)

    # ------------------------------------------------------------------ driver interface

    async def read(self, device: str, bindings: Sequence[Binding]) -> list[Reading]:
        self._reads[device] = self._reads.get(device, 0) + 1
        if device in self._offline:
            raise DeviceUnreachable(f"sim device {device!r} is offline")
        left = self._fail_next.get(device, 0)
        if left:
            self._fail_next[device] = left - 1
            raise DeviceUnreachable(f"sim device {device!r} did not answer")
        out = []
        for b in bindings:
            try:
                out.append(Reading(self.effective(b)))
            except PointError as err:
                out.append(Reading(None, "fault", str(err)))
        return out

    async def write(self, binding: Binding, value: Value, priority: int | None) -> None:
        if binding.device in self._offline:
            raise DeviceUnreachable(f"sim device {binding.device!r} is offline")
        level = 16 if priority is None else priority
        if not 1 <= level <= 16:
            raise WriteRefused(f"priority {level} is outside 1–16")
        self._wave(binding)  # a malformed binding cannot be written either
        slots = self._written.setdefault(binding.uri, [None] * 16)
        slots[level - 1] = value
        if all(v is None for v in slots):
            del self._written[binding.uri]
