"""``analytics.history.meter_hours``: a meter's hourly kWh and the outdoor °C from a real history file.

What an hour is, the same for every consumer (savings, forecasts, the M&V routes, anomalies): a
register's hour needs a reading after it (the hour in progress is unknown, not a low hour), a demand
meter's hour needs 90 % of it covered, and an hour without temperature is not a row to fit.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from openbms.analytics.history import meter_hours, outdoor_point, site_meter
from openbms.config import load_sites
from openbms.historian.sqlite import SQLiteHistorian
from openbms.model import Sample
from openbms.model.site import SiteConfig

HOUR = 3600.0
T0 = datetime(2025, 6, 2, tzinfo=ZoneInfo("Europe/London")).timestamp()
SITE = """\
site: {id: h, timezone: Europe/London}
drivers:
  sim: {enabled: false}
energy:
  counters:
    - {point: reg/kwh, rollover: 1000}
equipment:
  - id: reg
    type: meter
    points:
      - {name: kwh, unit: kWh, tags: [elec], binding: "sim://reg/kwh"}
  - id: dem
    type: meter
    points:
      - {name: kw, unit: kW, tags: [elec, power], binding: "sim://dem/kw"}
  - id: weather
    type: weather
    points:
      - {name: oat, unit: °C, tags: [outside, air, temp, sensor], binding: "sim://weather/oat"}
      - {name: ahead, unit: °C, tags: [outside, air, temp, forecast], binding: "sim://weather/ahead"}
"""


@pytest.fixture
def site(tmp_path: Path) -> SiteConfig:
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "h.yaml").write_text(SITE)
    (cfg,) = load_sites(folder)
    return cfg


def test_the_outdoor_point_and_the_meters_of_a_site(site: SiteConfig) -> None:
    assert outdoor_point(site) == "h/weather/oat" and outdoor_point(site, forecast=True) == "h/weather/ahead"
    reg = site_meter(site, "h/reg/kwh")
    assert reg is not None and reg.kind == "register" and reg.rollover == 1000  # its configured counter
    dem = site_meter(site, "h/dem/kw")
    assert dem is not None and dem.kind == "demand"
    assert site_meter(site, "h/weather/oat") is None and site_meter(site, "h/none/kwh") is None


async def test_hours_of_a_register_a_demand_meter_and_the_outdoor_air(site: SiteConfig,
                                                                      tmp_path: Path) -> None:
    async with SQLiteHistorian(tmp_path / "history.db") as h:
        # A register read at every hour's start, 10 kWh an hour, wrapping at 1000; then a reading
        # 30 minutes into hour 5, the hour in progress: nothing read after it yet.
        readings = [(T0 + i * HOUR, (995.0 + 10 * i) % 1000) for i in range(6)] + [(T0 + 5.5 * HOUR, 50.0)]
        h.ingest([Sample("h/reg/kwh", t, v) for t, v in readings])
        # 4 kW every 5 minutes for three hours, then hour 3's first 20 minutes only.
        h.ingest([Sample("h/dem/kw", T0 + 300.0 * i, 4.0) for i in range(36 + 4)])
        # The outdoor air for hours 0-3 only, twice an hour.
        h.ingest([Sample("h/weather/oat", T0 + i * HOUR + q * 1800.0, 10.0 + i + q) for i in range(4)
                  for q in range(2)])
        await h.refresh_rollups()
        reg = await meter_hours(h, site, "h/reg/kwh", T0, T0 + 6 * HOUR)
        dem = await meter_hours(h, site, "h/dem/kw", T0, T0 + 6 * HOUR, temperature="h/weather/oat")
        with pytest.raises(ValueError, match="h/weather/oat is not a meter of site h"):
            await meter_hours(h, site, "h/weather/oat", T0, T0 + HOUR)

    assert reg.starts.tolist() == [T0 + i * HOUR for i in range(6)]
    assert reg.temperature_point == "h/weather/oat"
    # Across the wrap at 1000 (configured): 10 kWh each hour; hour 5 is in progress, unknown.
    assert reg.kwh[:5].tolist() == pytest.approx([10.0] * 5)
    assert math.isnan(reg.kwh[5])
    assert reg.temperature is not None
    assert reg.temperature[:4].tolist() == pytest.approx([10.5, 11.5, 12.5, 13.5])
    assert np.isnan(reg.temperature[4:]).all()
    ts, kwh, temp = reg.known()
    assert ts.tolist() == [T0 + i * HOUR for i in range(4)] and reg.missing == 2
    assert kwh.tolist() == pytest.approx([10.0] * 4)
    assert temp.tolist() == pytest.approx([10.5, 11.5, 12.5, 13.5])
    # Demand: three whole hours of 4 kW; the fourth is covered in part: unknown, not a low hour.
    assert dem.kwh[:3].tolist() == pytest.approx([4.0] * 3)
    assert np.isnan(dem.kwh[3:]).all()
    assert len(dem.known()[0]) == 3 and dem.missing == 3
