"""The emulated office's meters as hourly rows, for energy analytics (M&V baselines, forecasts).

::

    SyntheticWeather(seed, climate) ─┐
    Building(start − warm-up, seed) ─┴▶ a built-in sequence every ``step`` s, physics every ≤ 60 s
        ──▶ each hour: electricity and gas kWh (differences of the building's own counters)
                       and the mean outdoor °C of its physics steps
        ──▶ MeterHours ──▶ CSV ``timestamp,value,temperature`` (``openbms sim meters``)

The building keeps local *standard* time all year (no daylight saving), so
the timestamps carry the climate's fixed UTC offset (``-06:00`` for the
temperate climate) and every day has 24 hours.

Synthetic weather is drawn per calendar year from the seed, and the
occupants' draws follow the seed from the first simulated day. Two runs with
the same start, days, seed and climate therefore see identical weather and
occupants whatever their sequence: ``baseline`` over a reporting period is
the true counterfactual of ``improved`` over it, and the true saving is the
difference of the two.

``faults`` injects plant faults (``openbms.sim.building.faults``) from a local
day on, for anomaly detection: ``FAULTS`` names the ones that raise
consumption, such as the air handler's outdoor-air damper stuck open in
winter (the economiser fault: the heating coil warms outdoor air all day).
A run with a fault from a day is identical to the run without it before that
day.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import IO, Literal

import numpy as np
import numpy.typing as npt

from openbms.sim.building.baseline import SEQUENCES
from openbms.sim.building.building import MAX_STEP, Building
from openbms.sim.building.faults import Fault, StuckDamper
from openbms.sim.building.weather import SyntheticWeather

__all__ = ["DEFAULT_STEP", "FAULTS", "METERS", "WARMUP_DAYS", "Meter", "MeterHours", "simulate_hours"]

Meter = Literal["electricity", "gas"]
METERS: tuple[Meter, ...] = ("electricity", "gas")
HOUR = 3600.0
#: Seconds between the sequence's decisions on the fast path. The physics always steps at most
#: ``MAX_STEP`` (60 s); only the supervisory sequence is called less often. Over a January week
#: the baseline sequence's electricity at 300 s is within 0.03 % of 60 s, the improved one's
#: within 0.6 % (its trim-and-respond resets run every 5 min instead of every 2); 60 s costs
#: about a fifth more time.
DEFAULT_STEP = 300.0
#: Faults that raise the office's consumption, by name (for ``simulate_hours(faults=…)``):
#: the outdoor-air damper stuck fully open (winter: heating outdoor air; summer: cooling it) and a
#: zone's box damper stuck open (its zone overcooled, then reheated).
FAULTS: dict[str, Fault] = {
    "stuck-open-oa-damper": StuckDamper("ahu-1", 100.0),
    "stuck-open-vav-damper": StuckDamper("vav-s1", 100.0),
}
#: Uncounted days simulated first, so the zones' thermal mass starts from a lived-in state.
WARMUP_DAYS = 1


@dataclass(frozen=True, slots=True)
class MeterHours:
    """Hourly rows of the emulated office: hour starts (epoch s), kWh of each meter, mean outdoor °C."""

    ts: npt.NDArray[np.float64]
    electricity: npt.NDArray[np.float64]
    gas: npt.NDArray[np.float64]
    temperature: npt.NDArray[np.float64]
    utc_offset: float  # hours: the building's standard time

    def energy(self, meter: Meter) -> npt.NDArray[np.float64]:
        """The kWh of ``meter`` in each hour."""
        if meter == "electricity":
            return self.electricity
        if meter == "gas":
            return self.gas
        raise ValueError(f"no meter {meter!r}: expected one of {', '.join(METERS)}")

    def between(self, start: float, end: float) -> MeterHours:
        """The hours starting in ``[start, end)`` (epoch s)."""
        keep = (self.ts >= start) & (self.ts < end)
        return MeterHours(self.ts[keep], self.electricity[keep], self.gas[keep], self.temperature[keep],
                          self.utc_offset)

    def write_csv(self, out: IO[str], meter: Meter = "electricity") -> None:
        """``timestamp,value,temperature`` rows, as ``openbms analytics baseline --train`` reads them."""
        zone = timezone(timedelta(hours=self.utc_offset))
        value = self.energy(meter)
        out.write("timestamp,value,temperature\n")
        for t, v, x in zip(self.ts.tolist(), value.tolist(), self.temperature.tolist(), strict=True):
            out.write(f"{datetime.fromtimestamp(t, zone).isoformat()},{v:.6f},{x:.3f}\n")


def simulate_hours(
    days: int,
    start: date,
    *,
    seed: int = 0,
    climate: str = "temperate",
    sequence: str = "baseline",
    step: float = DEFAULT_STEP,
    progress: Callable[[float], None] | None = None,
    faults: Sequence[tuple[date, Fault]] = (),
) -> MeterHours:
    """``days`` days of the office from local-standard midnight of ``start``, after ``WARMUP_DAYS``.

    ``sequence`` is a built-in one (``SEQUENCES``), called every ``step``
    seconds (a divisor of an hour); ``progress`` gets the fraction done about
    every simulated day. ``faults``: (local day, fault) pairs, each fault
    injected at that day's local-standard midnight and kept to the end.
    """
    if days < 1:
        raise ValueError(f"days {days}: at least one day is needed")
    if sequence not in SEQUENCES:
        raise ValueError(f"unknown sequence {sequence!r}: expected one of {', '.join(SEQUENCES)}")
    if not 1.0 <= step <= HOUR or (HOUR / step) != round(HOUR / step):
        raise ValueError(f"step {step:g} s: expected a divisor of 3600 s such as 60, 300 or 900")
    for when, fault in faults:
        if not isinstance(when, date) or not isinstance(fault, Fault):
            raise ValueError(f"fault {fault!r} from {when!r}: expected a (date, fault) pair")
    weather = SyntheticWeather(seed, climate)  # an unknown climate is a KeyError: the caller names it
    first = datetime(start.year, start.month, start.day)
    building = Building(weather=weather, start=first - timedelta(days=WARMUP_DAYS), seed=seed)
    control = SEQUENCES[sequence]()
    pending = sorted(((datetime(d.year, d.month, d.day), f) for d, f in faults), key=lambda p: p[0])
    per_hour = round(HOUR / step)
    physics = max(1, math.ceil(step / MAX_STEP - 1e-9))
    sub = step / physics

    def advance() -> float:
        """One sequence step; the sum of the outdoor °C of its physics steps (each ``sub`` s long)."""
        control(building)
        t_sum = 0.0
        for _ in range(physics):
            building.step(sub)
            t_sum += building.ws.t_out  # the weather the step just ran in
        return t_sum

    total_hours = (WARMUP_DAYS + days) * 24
    for h in range(WARMUP_DAYS * 24):
        for _ in range(per_hour):
            advance()
        if progress is not None and h % 24 == 23:
            progress((h + 1) / total_hours)
    n = days * 24
    ts = np.empty(n)
    elec = np.empty(n)
    gas = np.empty(n)
    temp = np.empty(n)
    samples = per_hour * physics
    for h in range(n):
        while pending and building.now >= pending[0][0]:
            building.inject(pending.pop(0)[1])
        ts[h] = building.timestamp
        e0, g0 = building.elec_kwh, building.gas_kwh
        t_sum = 0.0
        for _ in range(per_hour):
            t_sum += advance()
        elec[h] = building.elec_kwh - e0
        gas[h] = building.gas_kwh - g0
        temp[h] = t_sum / samples
        if progress is not None and h % 24 == 23:
            progress((WARMUP_DAYS * 24 + h + 1) / total_hours)
    return MeterHours(ts, elec, gas, temp, weather.utc_offset)
