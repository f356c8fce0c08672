"""Weather: seeded synthetic weather, the sun, and EPW files."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest

from openbms.sim.building import Building, EpwWeather, SyntheticWeather, parse_epw
from openbms.sim.building.solar import sun_position
from openbms.sim.building.weather import local_seconds


def _series(w: SyntheticWeather, start: datetime, hours: int) -> np.ndarray:
    t0 = local_seconds(start)
    return np.array([w.at(t0 + 3600 * h)[:6] for h in range(hours)])


def test_synthetic_weather_is_reproducible_with_a_seed():
    a = _series(SyntheticWeather(7), datetime(2025, 3, 1), 24 * 14)
    b = _series(SyntheticWeather(7), datetime(2025, 3, 1), 24 * 14)
    c = _series(SyntheticWeather(8), datetime(2025, 3, 1), 24 * 14)
    assert np.array_equal(a, b)
    assert not np.allclose(a[:, 0], c[:, 0])


def test_synthetic_weather_does_not_depend_on_when_a_run_starts():
    w1, w2 = SyntheticWeather(1), SyntheticWeather(1)
    w2.at(local_seconds(datetime(2025, 12, 1)))  # touch another part of the year first
    t = local_seconds(datetime(2025, 6, 10, 14, 30))
    assert w1.at(t) == w2.at(t)


def test_synthetic_weather_has_seasons_days_and_plausible_ranges():
    w = SyntheticWeather(0)
    jan = _series(w, datetime(2025, 1, 1), 24 * 31)
    jul = _series(w, datetime(2025, 7, 1), 24 * 31)
    assert jul[:, 0].mean() - jan[:, 0].mean() > 15  # temperate: ~27 K between the months' means
    day = jul[:, 0].reshape(31, 24)
    assert day[:, 13:17].mean() > day[:, 3:7].mean() + 4  # afternoons warmer than dawns
    assert jul[:, 3].min() >= 0 and jul[:, 3].max() <= 1  # cloud cover
    assert jul[:, 2].min() > 0 and jul[:, 2].max() <= 100  # relative humidity
    assert jul[:, 5].max() > 600 and jan[:, 5].max() < jul[:, 5].max()  # global horizontal, W/m²


def test_the_sun_is_south_and_at_ninety_minus_latitude_at_equinox_solar_noon():
    # 20 March, at a longitude on its time zone's meridian (no longitude correction).
    sin_alt, _, az = sun_position(79, 12.12, 40.0, -90.0, -6.0)
    assert math.degrees(math.asin(sin_alt)) == pytest.approx(50.0, abs=1.0)
    assert math.degrees(az) == pytest.approx(180.0, abs=3.0)
    _, _, morning = sun_position(172, 8.0, 40.0, -90.0, -6.0)
    assert 45 < math.degrees(morning) < 110  # east in the morning


def _epw_text() -> str:
    header = [
        "LOCATION,Testville,ST,USA,TMY3,999999,40.00,-90.00,-6.0,200.0",
        "DESIGN CONDITIONS,0",
        "TYPICAL/EXTREME PERIODS,0",
        "GROUND TEMPERATURES,0",
        "HOLIDAYS/DAYLIGHT SAVINGS,No,0,0,0",
        "COMMENTS 1,written by the test",
        "COMMENTS 2,",
        "DATA PERIODS,1,1,Data,Sunday, 1/ 1,12/31",
    ]
    rows = []
    for day in (1, 2):
        for hour in range(1, 25):
            t = -5.0 + 5.0 * math.sin((hour - 9) / 24 * 2 * math.pi)
            sun = max(0.0, 500.0 * math.sin((hour - 6.5) / 11 * math.pi)) if 7 <= hour <= 17 else 0.0
            rows.append(f"2025,1,{day},{hour},60,A7A7A7*0?9?9?9?9?9?9?9A7A7A7A7A7A7*0E8*0*0,"
                        f"{t:.1f},{t - 6:.1f},60,99000,0,1415,250,{sun:.0f},{sun * 0.6:.0f},{sun * 0.4:.0f},"
                        "0,0,0,0,180,3.5,4,3,16.0,77777,9,999999999,0,0.1,0,88,0.0,0.0,0.0")
    return "\n".join(header + rows) + "\n"


def test_epw_files_are_parsed(tmp_path):
    path = tmp_path / "test.epw"
    path.write_text(_epw_text())
    data = parse_epw(path)
    assert (data.city, data.latitude, data.longitude, data.utc_offset) == ("Testville", 40.0, -90.0, -6.0)
    assert len(data.dry_bulb) == 48
    assert data.hour_of_year[0] == 1 and data.hour_of_year[-1] == 48
    assert data.sky_cover[0] == pytest.approx(0.4)
    assert data.wind[0] == 3.5


def test_epw_weather_interpolates_between_records_and_drives_a_building(tmp_path):
    path = tmp_path / "test.epw"
    path.write_text(_epw_text())
    w = EpwWeather(path)
    data = w.data
    t = local_seconds(datetime(2025, 1, 1, 1, 30))  # between hour-ending 1 and 2
    assert w.at(t).t_out == pytest.approx((data.dry_bulb[0] + data.dry_bulb[1]) / 2)
    assert w.at(local_seconds(datetime(2025, 1, 1, 3))).ghi == 0.0  # night
    assert w.at(local_seconds(datetime(2025, 1, 1, 12))).ghi > 300
    b = Building(weather=w, start=datetime(2025, 1, 1))
    b.run(86400)
    assert b.ws.t_out == pytest.approx(data.dry_bulb[23], abs=0.5)


def test_a_bad_epw_file_is_a_clear_error():
    with pytest.raises(ValueError, match="no EPW data lines"):
        parse_epw("LOCATION,x,,,,,1,2,3,4\nnothing here\n")
