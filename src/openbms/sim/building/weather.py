"""Outdoor conditions: synthetic and seeded by default, or read from an EPW file.

Times here are *local standard time* expressed as POSIX seconds of a naive
datetime read as UTC (``local_seconds``): the building's clock, without
daylight saving, as weather files and solar time use it.

Synthetic weather is built a calendar year at a time from the seed and the
year, so a given instant has the same weather whatever day a run starts:
a seasonal cycle, passing fronts (a multi-day Ornstein-Uhlenbeck anomaly),
cloud cover correlated with the fronts, a daily cycle damped by cloud, dew
point below the daily mean, and wind. Irradiance comes from the clear-sky
model scaled by the cloud cover (``solar.py``). An EPW file gives measured
dry bulb, dew point, radiation, sky cover and wind instead.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np

from openbms.sim.building.solar import clear_sky, cloudy_sky, sun_position

__all__ = [
    "CLIMATES",
    "Climate",
    "EpwWeather",
    "SyntheticWeather",
    "Weather",
    "WeatherSample",
    "humidity_ratio",
    "local_seconds",
    "parse_epw",
    "relative_humidity",
]

PATM = 101325.0


def local_seconds(when: datetime) -> float:
    """POSIX seconds of a naive local-standard-time datetime read as UTC."""
    return when.replace(tzinfo=UTC).timestamp()


def saturation_pressure(t: float | np.ndarray) -> float | np.ndarray:
    """Saturation vapour pressure over water, Pa (Magnus-Alduchov-Eskridge)."""
    return 610.94 * np.exp(17.625 * t / (t + 243.04))


def humidity_ratio(dew_point: float) -> float:
    """Humidity ratio (kg water per kg dry air) at a dew point, at sea level."""
    pw = float(saturation_pressure(dew_point))
    return 0.622 * pw / (PATM - pw)


def relative_humidity(t: float | np.ndarray, w: float | np.ndarray) -> float | np.ndarray:
    """Relative humidity, 0-100 %, of air at ``t`` °C with humidity ratio ``w``."""
    pw = PATM * w / (0.622 + w)
    return np.minimum(100.0 * pw / saturation_pressure(t), 100.0)


class WeatherSample(NamedTuple):
    """Outdoor conditions and the sun at one instant."""

    t_out: float  # dry bulb, °C
    w_out: float  # humidity ratio, kg/kg
    rh: float  # %
    cloud: float  # sky cover, 0-1
    wind: float  # m/s
    ghi: float  # global horizontal, W/m²
    dni: float  # direct normal, W/m²
    dhi: float  # diffuse horizontal, W/m²
    sin_alt: float
    cos_alt: float
    azimuth: float  # radians clockwise from north


class Weather(Protocol):
    """A source of outdoor conditions for a site."""

    latitude: float
    longitude: float
    utc_offset: float
    annual_mean: float  # °C, the ground temperature under the slab

    def at(self, t: float) -> WeatherSample:
        """Conditions at local-standard-time POSIX seconds ``t``."""
        ...


@dataclass(frozen=True, slots=True)
class Climate:
    """What synthetic weather imitates: a site and its temperature statistics."""

    name: str
    latitude: float
    longitude: float
    utc_offset: float
    annual_mean: float  # °C
    seasonal_amplitude: float  # K, half the difference between July and January means
    daily_amplitude: float  # K, half the clear-day range
    front_sigma: float = 3.5  # K, standard deviation of the multi-day anomaly
    front_hours: float = 60.0  # correlation time of fronts
    dew_depression: float = 5.0  # K, mean daily-mean dry bulb minus dew point
    cloudiness: float = 0.0  # bias of the cloud process: >0 cloudier, <0 clearer
    coldest_doy: int = 20


#: Presets named by ASHRAE climate and a city they resemble.
CLIMATES: dict[str, Climate] = {
    "temperate": Climate("temperate (5A, Chicago-like)", 41.88, -87.63, -6.0, 10.5, 13.5, 5.0),
    "hot-humid": Climate("hot-humid (2A, Houston-like)", 29.76, -95.37, -6.0, 20.8, 8.5, 5.0,
                         front_sigma=3.0, dew_depression=3.5),
    "marine": Climate("marine (4C, Seattle-like)", 47.61, -122.33, -8.0, 11.5, 7.0, 4.5,
                      front_sigma=2.5, dew_depression=3.5, cloudiness=0.8),
    "cold": Climate("cold (6A, Minneapolis-like)", 44.98, -93.27, -6.0, 7.5, 16.0, 5.5,
                    front_sigma=4.5),
    "hot-dry": Climate("hot-dry (2B, Phoenix-like)", 33.45, -112.07, -7.0, 24.0, 10.5, 7.5,
                       dew_depression=14.0, cloudiness=-1.2),
}


def _ou(rng: np.random.Generator, n: int, hours: float, sigma: float) -> np.ndarray:
    """An hourly Ornstein-Uhlenbeck series: mean 0, standard deviation ``sigma``."""
    phi = math.exp(-1.0 / hours)
    eps = rng.standard_normal(n) * sigma * math.sqrt(1.0 - phi * phi)
    out = np.empty(n)
    x = rng.standard_normal() * sigma
    for i in range(n):
        x = phi * x + eps[i]
        out[i] = x
    return out


class _Hourly:
    """Linear interpolation in an hourly table indexed from 1 January 00:00 of a year."""

    __slots__ = ("_cache", "_make")

    def __init__(self, make: Callable[[int], np.ndarray]) -> None:
        self._make = make
        self._cache: dict[int, np.ndarray] = {}

    def row(self, t: float) -> tuple[int, int, float, np.ndarray]:
        """(year, month, hour-of-year float, interpolated row) at ``t``."""
        d = datetime.fromtimestamp(t, UTC)
        table = self._cache.get(d.year)
        if table is None:
            table = self._cache[d.year] = self._make(d.year)
        h = (t - datetime(d.year, 1, 1, tzinfo=UTC).timestamp()) / 3600.0
        i = int(h)
        f = h - i
        n = len(table)
        return d.year, d.month, h, table[i % n] * (1.0 - f) + table[(i + 1) % n] * f


class SyntheticWeather:
    """Seeded, reproducible weather for a climate (default: temperate, Chicago-like)."""

    def __init__(self, seed: int = 0, climate: Climate | str = "temperate") -> None:
        self.climate = CLIMATES[climate] if isinstance(climate, str) else climate
        self.seed = seed
        self.latitude = self.climate.latitude
        self.longitude = self.climate.longitude
        self.utc_offset = self.climate.utc_offset
        self.annual_mean = self.climate.annual_mean
        self._table = _Hourly(self._year)

    def _year(self, year: int) -> np.ndarray:
        c = self.climate
        rng = np.random.default_rng([self.seed, year])
        n = (366 if calendar.isleap(year) else 365) * 24
        h = np.arange(n, dtype=float)
        doy = h / 24.0
        season = c.annual_mean - c.seasonal_amplitude * np.cos(2 * np.pi * (doy - c.coldest_doy) / 365.0)
        front = _ou(rng, n, c.front_hours, 1.0)
        own = _ou(rng, n, 18.0, 1.0)
        # Clouds come with fronts (a falling anomaly) and on their own; a logistic keeps 0-1.
        z = 0.5 * front - 0.8 * np.gradient(front) * c.front_hours / 6.0 + 0.9 * own + c.cloudiness
        cloud = 1.0 / (1.0 + np.exp(-1.8 * z))
        # The daily range follows the day's cloud: clear days swing more.
        day_cloud = np.repeat(cloud.reshape(-1, 24).mean(axis=1), 24)
        daily = c.daily_amplitude * (1.25 - 0.8 * day_cloud)
        mean = season + c.front_sigma * front
        t_out = mean + daily * np.cos(2 * np.pi * (h % 24 - 15.0) / 24.0)
        depression = np.maximum(c.dew_depression * (0.6 + 0.8 * (1.0 - day_cloud))
                                + _ou(rng, n, 12.0, 1.2), 0.5)
        dew = np.minimum(mean - depression, t_out - 0.3)
        wind = np.clip(4.0 + _ou(rng, n, 10.0, 1.8) + 1.5 * day_cloud, 0.3, 20.0)
        return np.column_stack([t_out, dew, cloud, wind])

    def at(self, t: float) -> WeatherSample:
        """Conditions at local-standard-time POSIX seconds ``t``."""
        _, month, h, row = self._table.row(t)
        t_out, dew, cloud, wind = (float(v) for v in row)
        day = int(h // 24) + 1
        sin_alt, cos_alt, az = sun_position(day, h % 24, self.latitude, self.longitude, self.utc_offset)
        dni_c, dhi_c = clear_sky(month, sin_alt)
        ghi, dni, dhi = cloudy_sky(dni_c, dhi_c, sin_alt, cloud)
        w = humidity_ratio(dew)
        return WeatherSample(t_out, w, float(relative_humidity(t_out, w)), cloud, wind, ghi, dni, dhi,
                             sin_alt, cos_alt, az)


@dataclass(frozen=True, slots=True)
class EpwData:
    """What openbms reads from an EPW file: the site and hourly records."""

    city: str
    latitude: float
    longitude: float
    utc_offset: float
    hour_of_year: np.ndarray  # hour-ending time of each record, hours from 1 January 00:00
    dry_bulb: np.ndarray
    dew_point: np.ndarray
    rh: np.ndarray
    ghi: np.ndarray
    dni: np.ndarray
    dhi: np.ndarray
    wind: np.ndarray
    sky_cover: np.ndarray  # 0-1


_DAYS_BEFORE = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def parse_epw(source: str | Path) -> EpwData:
    """Read an EnergyPlus weather file (a path, or its text).

    The header's LOCATION line gives the site; each data line gives year,
    month, day, hour (1-24, hour ending), minute, source flags, then dry bulb
    (field 6), dew point (7), RH (8), global (13), direct normal (14) and
    diffuse (15) horizontal radiation, wind speed (21) and total sky cover in
    tenths (22). Missing values (99, 999, 9999) are filled from neighbours.
    """
    text = source if isinstance(source, str) and "\n" in source else Path(source).read_text(
        encoding="utf-8", errors="replace")
    city, lat, lon, tz = "unknown", 0.0, 0.0, 0.0
    rows: list[list[float]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = [f.strip() for f in line.split(",")]
        if fields[0].upper() == "LOCATION":
            try:
                city = fields[1]
                lat, lon, tz = float(fields[6]), float(fields[7]), float(fields[8])
            except (IndexError, ValueError):
                raise ValueError(f"EPW line {lineno}: LOCATION needs city,...,latitude,longitude,"
                                 "time zone in fields 2, 7, 8 and 9") from None
            continue
        if len(fields) < 23 or not fields[0].lstrip("-").isdigit():
            continue  # other header lines
        try:
            month, day, hour = int(fields[1]), int(fields[2]), int(fields[3])
            values = [float(fields[i]) for i in (6, 7, 8, 13, 14, 15, 21, 22)]
        except ValueError:
            raise ValueError(f"EPW line {lineno}: expected numbers in the data fields") from None
        rows.append([(_DAYS_BEFORE[month - 1] + day - 1) * 24 + hour, *values])
    if not rows:
        raise ValueError("no EPW data lines found (expected lines of at least 23 comma-separated fields)")
    a = np.array(rows)
    missing = {1: 99.9, 2: 99.9, 3: 999, 4: 9999, 5: 9999, 6: 9999, 7: 999, 8: 99}
    for col, flag in missing.items():
        bad = a[:, col] >= flag
        if bad.all():
            a[:, col] = 5.0 if col == 8 else (0.0 if col >= 4 else 10.0)
        elif bad.any():
            good = ~bad
            a[bad, col] = np.interp(a[bad, 0], a[good, 0], a[good, col])
    return EpwData(city, lat, lon, tz, a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], a[:, 5], a[:, 6],
                   a[:, 7], np.clip(a[:, 8] / 10.0, 0.0, 1.0))


class EpwWeather:
    """Weather from an EPW file: its records are repeated every year of a run.

    Temperatures are read at the record's hour end and radiation at mid-hour
    (EPW radiation is the hour's total); between records values are linear.
    A file shorter than a year (a test fixture) wraps from its last record to
    its first.
    """

    def __init__(self, source: str | Path | EpwData) -> None:
        self.data = source if isinstance(source, EpwData) else parse_epw(source)
        d = self.data
        self.latitude, self.longitude, self.utc_offset = d.latitude, d.longitude, d.utc_offset
        self.annual_mean = float(np.mean(d.dry_bulb))
        order = np.argsort(d.hour_of_year)
        self._times = d.hour_of_year[order]
        self._state = np.column_stack([d.dry_bulb, d.dew_point, d.wind, d.sky_cover])[order]
        self._rad = np.column_stack([d.ghi, d.dni, d.dhi])[order]

    @staticmethod
    def _interp(times: np.ndarray, table: np.ndarray, h: float) -> np.ndarray:
        n = len(times)
        i = int(np.searchsorted(times, h, side="right")) - 1
        lo, hi = i % n, (i + 1) % n
        t0 = times[lo] - (8760.0 if i < 0 else 0.0)
        t1 = times[hi] + (8760.0 if i + 1 >= n else 0.0)
        f = 0.0 if t1 <= t0 else min(max((h - t0) / (t1 - t0), 0.0), 1.0)
        return table[lo] * (1.0 - f) + table[hi] * f

    def at(self, t: float) -> WeatherSample:
        """Conditions at local-standard-time POSIX seconds ``t``."""
        d = datetime.fromtimestamp(t, UTC)
        yday = d.timetuple().tm_yday
        doy = yday - 1 if calendar.isleap(d.year) and yday > 59 else yday  # EPW has no 29 February
        hour = d.hour + d.minute / 60.0 + (d.second + d.microsecond / 1e6) / 3600.0
        h = (doy - 1) * 24.0 + hour
        t_out, dew, wind, cloud = (float(v) for v in self._interp(self._times, self._state, h))
        ghi, dni, dhi = (float(v) for v in self._interp(self._times - 0.5, self._rad, h))
        sin_alt, cos_alt, az = sun_position(yday, hour, self.latitude, self.longitude, self.utc_offset)
        if sin_alt <= 0.01:
            ghi = dni = dhi = 0.0
        w = humidity_ratio(min(dew, t_out))
        return WeatherSample(t_out, w, float(relative_humidity(t_out, w)), cloud, wind, ghi, dni, dhi,
                             sin_alt, cos_alt, az)
