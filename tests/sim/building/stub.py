"""Steady weather for tests that need conditions held still."""

from __future__ import annotations

from openbms.sim.building.weather import WeatherSample, humidity_ratio, relative_humidity


class SteadyWeather:
    """The same outdoor conditions at every instant, and no sun."""

    latitude, longitude, utc_offset = 41.9, -87.6, -6.0

    def __init__(self, t_out: float, dew_point: float = 8.0) -> None:
        self.annual_mean = t_out
        w = humidity_ratio(min(dew_point, t_out))
        self.sample = WeatherSample(t_out, w, float(relative_humidity(t_out, w)), 1.0, 3.0, 0.0, 0.0, 0.0,
                                    -0.5, 0.87, 0.0)

    def at(self, t: float) -> WeatherSample:
        return self.sample
