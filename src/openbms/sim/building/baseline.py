"""Built-in supervisory sequences, written only through the building's points.

``BaselineSequence`` is the conventional reference the KPIs compare against:
fixed setpoints and the plant on a time clock. ``ImprovedSequence`` is what a
careful BMS engineer would do with the same points (after ASHRAE Guideline
36): optimal start, trim-and-respond resets of supply-air temperature and
duct static pressure, the economiser, plants enabled on request with reset
water temperatures, and wider unoccupied setpoints. Both read sensors and
write setpoints the way openbms programs will, through ``get`` and ``set``.
"""

from __future__ import annotations

from typing import Any

from openbms.sim.building.building import Building

__all__ = ["SEQUENCES", "BaselineSequence", "ImprovedSequence"]


class _Writer:
    """Writes a point only when its value changes, as a BMS writes on change."""

    def __init__(self) -> None:
        self._last: dict[str, Any] = {}

    def __call__(self, b: Building, name: str, value: Any) -> None:
        if self._last.get(name) != value:
            b.set(name, value)
            self._last[name] = value


class _Staging:
    """Lead/lag staging of a two-unit plant from its supply temperature and load."""

    def __init__(self, prefix: str, units: int, cooling: bool) -> None:
        self.prefix, self.units, self.cooling = prefix, units, cooling
        self.lag_on = False
        self._since: float | None = None

    def lag(self, b: Building, plant: str, running: bool) -> bool:
        """Whether the lag unit should run now."""
        if self.units < 2 or not running:
            self.lag_on, self._since = False, None
            return False
        t, sp = float(b.get(f"{plant}/supply-t")), float(b.get(f"{plant}/supply-t-sp"))
        cap = float(b.get(f"{self.prefix}-1/capacity-kw"))
        load = float(b.get(f"{plant}/load-kw"))
        short = t > sp + 1.0 if self.cooling else t < sp - 3.0
        want = (not self.lag_on and short) or (self.lag_on and load > 0.8 * cap)
        if want != self.lag_on:
            if self._since is None:
                self._since = b.t
            if b.t - self._since >= (600 if want else 900):
                self.lag_on, self._since = want, None
        else:
            self._since = None
        return self.lag_on


class BaselineSequence:
    """The conventional sequence: fixed setpoints, the plant on 06:00-20:00 on weekdays.

    Supply air 13 °C, duct static 250 Pa, minimum outdoor air 25 %, no
    economiser; zones 21/24 °C occupied and 15/30 °C unoccupied, with a night
    cycle to hold the unoccupied band; chilled water 7 °C and hot water 70 °C
    with both plants on whenever the AHU runs, the lag unit staged on when the
    lead cannot hold its setpoint.
    """

    start_hour, stop_hour = 6.0, 20.0
    occupied_sp = (21.0, 24.0)
    unoccupied_sp = (15.0, 30.0)

    def __init__(self) -> None:
        self.write = _Writer()
        self.night = False
        self._chillers: _Staging | None = None
        self._boilers: _Staging | None = None

    def _zones_t(self, b: Building) -> list[float]:
        return [float(v) for v in (b.get(f"vav-{z}/zone-t") for z in b.layout.ids) if v == v]

    def _night_cycle(self, b: Building, lo: float, hi: float) -> bool:
        temps = self._zones_t(b)
        if self.night:
            self.night = any(t < lo + 2.0 or t > hi - 2.0 for t in temps)
        else:
            self.night = any(t < lo or t > hi for t in temps)
        return self.night

    def _plants(self, b: Building, chw_on: bool, hw_on: bool, chw_sp: float, hw_sp: float) -> None:
        w = self.write
        if self._chillers is None:
            self._chillers = _Staging("ch", b.chw.n, cooling=True)
            self._boilers = _Staging("blr", b.hw.n, cooling=False)
        assert self._boilers is not None
        w(b, "chwp-1/enable", chw_on)
        w(b, "ch-1/enable", chw_on)
        w(b, "chw/supply-t-sp", chw_sp)
        if b.chw.n > 1:
            w(b, "ch-2/enable", self._chillers.lag(b, "chw", chw_on))
        w(b, "hwp-1/enable", hw_on)
        w(b, "blr-1/enable", hw_on)
        w(b, "hw/supply-t-sp", hw_sp)
        if b.hw.n > 1:
            w(b, "blr-2/enable", self._boilers.lag(b, "hw", hw_on))

    def __call__(self, b: Building) -> None:
        now = b.now
        hour = now.hour + now.minute / 60.0
        occupied = now.weekday() < 5 and self.start_hour <= hour < self.stop_hour
        on = occupied or self._night_cycle(b, *self.unoccupied_sp)
        if occupied:
            self.night = False
        w = self.write
        w(b, "ahu-1/enable", on)
        w(b, "ahu-1/sat-sp", 13.0)
        w(b, "ahu-1/dsp-sp", 250.0)
        w(b, "ahu-1/oa-min", 25.0 if occupied else 0.0)
        w(b, "ahu-1/econ-enable", False)
        for z in b.layout.ids:
            w(b, f"vav-{z}/occupied", occupied)
            w(b, f"vav-{z}/occ-heat-sp", self.occupied_sp[0])
            w(b, f"vav-{z}/occ-cool-sp", self.occupied_sp[1])
            w(b, f"vav-{z}/unocc-heat-sp", self.unoccupied_sp[0])
            w(b, f"vav-{z}/unocc-cool-sp", self.unoccupied_sp[1])
        self._plants(b, on, on, 7.0, 70.0)


class ImprovedSequence(BaselineSequence):
    """A better sequence on the same points (Guideline 36 in spirit).

    - Optimal start: the AHU starts before 07:00 by 30 min plus 40 min per
      kelvin the worst zone is outside 21-24 °C (at most 3 h), with the
      outdoor-air damper shut until occupancy; it stops at 19:00.
    - Trim and respond every 2 min: supply air 12.8 °C up to 18 °C (the upper
      limit falls from 18 °C at 15.5 °C outdoors to 12.8 °C at 21 °C), raised
      unless two or more zones are 0.3 K above their cooling setpoint; duct
      static 75-300 Pa, raised when two or more dampers are over 95 % open.
    - Economiser enabled.
    - Plants on request: chilled water when the cooling coil valve is over
      20 % (off after 15 min under 1 %), reset 6.7-10 °C from the valve;
      hot water when any reheat or heating valve is over 5 % (off after 15 min
      without), reset 70 °C at -10 °C outdoors to 50 °C at 15 °C.
    - Unoccupied setpoints widened to 13/32 °C.
    """

    occupied_sp = (21.2, 23.8)  # a margin inside the 21-24 °C comfort band
    unoccupied_sp = (13.0, 32.0)
    occupancy = (7.0, 19.0)

    def __init__(self) -> None:
        super().__init__()
        self.started = False
        self.sat = 13.0
        self.dsp = 250.0
        self.chw_sp = 7.0
        self.chw_on = self.hw_on = False
        self._chw_idle: float | None = None
        self._hw_idle: float | None = None
        self._next_tr = 0.0
        self._next_chw = 0.0

    def _lead_time(self, b: Building) -> float:
        temps = self._zones_t(b)
        lo, hi = self.occupied_sp
        worst = max([0.0] + [lo - t for t in temps] + [t - hi for t in temps])
        return min(1800.0 + 2400.0 * worst, 3 * 3600.0)

    def _trim_respond(self, b: Building, oat: float) -> None:
        zones = b.layout.ids
        hot = sum(float(b.get(f"vav-{z}/zone-t")) > float(b.get(f"vav-{z}/cool-sp")) + 0.1 for z in zones)
        sat_max = 18.0 - (18.0 - 12.8) * min(max((oat - 15.5) / (21.0 - 15.5), 0.0), 1.0)
        self.sat = min(max(self.sat - 0.3 if hot >= 1 else self.sat + 0.1, 12.8), sat_max)
        open_ = sum(float(b.get(f"vav-{z}/damper")) > 95.0 for z in zones)
        self.dsp = min(max(self.dsp + 15.0 if open_ >= 1 else self.dsp - 10.0, 75.0), 300.0)

    def __call__(self, b: Building) -> None:
        now = b.now
        hour = now.hour + now.minute / 60.0
        weekday = now.weekday() < 5
        start, stop = self.occupancy
        occupied = weekday and start <= hour < stop
        if not weekday or hour >= stop or hour < start - 3.5:
            self.started = False
        if weekday and not self.started and hour < start:
            self.started = (start - hour) * 3600.0 <= self._lead_time(b)
        conditioning = occupied or self.started
        on = conditioning or self._night_cycle(b, *self.unoccupied_sp)
        if conditioning:
            self.night = False
        oat = float(b.get("ahu-1/oat"))
        if b.t >= self._next_tr:
            self._next_tr = b.t + 120.0
            if on:
                self._trim_respond(b, oat)
            else:
                self.sat, self.dsp = 13.0, 250.0
        w = self.write
        w(b, "ahu-1/enable", on)
        w(b, "ahu-1/sat-sp", round(self.sat, 2))
        w(b, "ahu-1/dsp-sp", round(self.dsp, 1))
        w(b, "ahu-1/oa-min", 25.0 if occupied else 0.0)
        w(b, "ahu-1/econ-enable", True)
        for z in b.layout.ids:
            w(b, f"vav-{z}/occupied", conditioning)
            w(b, f"vav-{z}/occ-heat-sp", self.occupied_sp[0])
            w(b, f"vav-{z}/occ-cool-sp", self.occupied_sp[1])
            w(b, f"vav-{z}/unocc-heat-sp", self.unoccupied_sp[0])
            w(b, f"vav-{z}/unocc-cool-sp", self.unoccupied_sp[1])
        # Plant requests
        ccv = float(b.get("ahu-1/ccv")) if on else 0.0
        heat = on and (float(b.get("ahu-1/hcv")) > 5.0
                       or any(float(b.get(f"vav-{z}/reheat-valve")) > 5.0 for z in b.layout.ids))
        self.chw_on, self._chw_idle = self._request(b, self.chw_on, on and ccv > 20.0, on and ccv >= 1.0,
                                                    self._chw_idle)
        self.hw_on, self._hw_idle = self._request(b, self.hw_on, heat, heat, self._hw_idle)
        if b.t >= self._next_chw:
            self._next_chw = b.t + 300.0
            if ccv > 90.0:
                self.chw_sp -= 0.3
            elif ccv < 70.0:
                self.chw_sp += 0.2
            self.chw_sp = min(max(self.chw_sp, 6.7), 10.0)
        hw_sp = 70.0 - 20.0 * min(max((oat + 10.0) / 25.0, 0.0), 1.0)
        self._plants(b, self.chw_on, self.hw_on, round(self.chw_sp, 2), round(hw_sp, 1))

    @staticmethod
    def _request(b: Building, on: bool, start: bool, keep: bool,
                 idle: float | None) -> tuple[bool, float | None]:
        if start:
            return True, None
        if not on:
            return False, None
        if keep:
            return True, None
        idle = b.t if idle is None else idle
        return (b.t - idle < 900.0), idle


SEQUENCES = {"baseline": BaselineSequence, "improved": ImprovedSequence}
