"""A physics-based office building emulator, run in batch (as fast as possible).

``Building`` assembles the zones' RC network (``zones``), weather
(``weather``, ``solar``), internal and solar gains (``gains``), the VAV air
handler, boxes and central plant (``hvac``), faults (``faults``) and KPIs
(``kpi``). Supervisory inputs and every sensor are points: ``Building.set``,
``Building.points`` and ``Building.point_specs``. ``baseline`` holds the
built-in sequences ``openbms sim run`` compares. See docs/emulator.md.
"""

from openbms.sim.building.baseline import SEQUENCES, BaselineSequence, ImprovedSequence
from openbms.sim.building.building import Building, Sequence
from openbms.sim.building.config import BuildingConfig
from openbms.sim.building.faults import ChillerTrip, FailedSensor, Fault, FouledCoil, StuckDamper
from openbms.sim.building.kpi import Kpis, Tariff
from openbms.sim.building.points import PointSpec, device_of
from openbms.sim.building.weather import CLIMATES, Climate, EpwWeather, SyntheticWeather, parse_epw

__all__ = [
    "CLIMATES",
    "SEQUENCES",
    "BaselineSequence",
    "Building",
    "BuildingConfig",
    "ChillerTrip",
    "Climate",
    "EpwWeather",
    "FailedSensor",
    "Fault",
    "FouledCoil",
    "ImprovedSequence",
    "Kpis",
    "PointSpec",
    "Sequence",
    "StuckDamper",
    "SyntheticWeather",
    "Tariff",
    "device_of",
    "parse_epw",
]
