"""What building to emulate: geometry, construction, loads and plant, with office defaults.

The defaults describe a three-storey, 4,980 m² office near the US DOE medium
office prototype (ASHRAE 90.1-2004 vintage): 40 % glazing, 0.45 W/m²K walls,
lighting 10.8 W/m², plug loads 8.1 W/m², 18.6 m² per person.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BuildingConfig"]


@dataclass(frozen=True, slots=True)
class BuildingConfig:
    """A multi-zone office: each floor a core zone and four perimeter zones (N, E, S, W)."""

    floors: int = 3
    floor_area: float = 1660.0  # m² per floor
    aspect_ratio: float = 1.5  # length of the N and S facades over that of the E and W ones
    orientation: float = 0.0  # degrees the "north" facade faces, clockwise from true north
    floor_height: float = 3.5  # m, floor to floor (the exterior wall height per floor)
    ceiling_height: float = 2.7  # m, the conditioned air volume per floor area
    perimeter_depth: float = 4.57  # m
    # Construction
    u_wall: float = 0.45  # W/m²K, opaque wall
    u_roof: float = 0.28
    u_window: float = 2.5
    u_slab: float = 0.4  # ground floor to the ground
    glazing: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.4)  # window-to-wall, N E S W
    shgc: float = 0.4
    wall_absorptance: float = 0.6
    mass: float = 165e3  # J/K per m² of floor (ISO 13790 "medium")
    infiltration_ach: float = 0.3  # air changes per hour with the fans off
    infiltration_fan_on: float = 0.25  # fraction left when the AHU pressurises the building
    interzone_per_m: float = 20.0  # W/K per metre of open boundary between zones
    # Internal loads (peak, scaled by schedules)
    area_per_person: float = 18.6  # m²
    lighting: float = 10.8  # W/m²
    plugs: float = 8.1  # W/m²
    # HVAC sizing and equipment
    min_flow_fraction: float = 0.3  # VAV minimum, of the box maximum
    heating_flow_fraction: float = 0.5  # VAV heating maximum (dual maximum)
    max_discharge: float = 38.0  # °C, reheat discharge limit
    chillers: int = 2
    boilers: int = 2
    chiller_cop: float = 3.0  # air-cooled, at 35 °C outdoor and 6.7 °C chilled water
    boiler_efficiency: float = 0.82  # non-condensing, full load
    fan_efficiency: float = 0.6  # fan, motor and drive
    fan_internal_pressure: float = 600.0  # Pa at design flow: filters, coils, ductwork

    @property
    def area(self) -> float:
        """Gross conditioned floor area, m²."""
        return self.floors * self.floor_area

    def __post_init__(self) -> None:
        length = (self.floor_area * self.aspect_ratio) ** 0.5
        if self.floors < 1 or self.floor_area <= 0:
            raise ValueError("a building needs at least one floor of positive area")
        if length / self.aspect_ratio <= 2.5 * self.perimeter_depth:
            raise ValueError(f"floors of {self.floor_area} m² are too small for a {self.perimeter_depth} m "
                             "perimeter zone: enlarge them or reduce perimeter_depth")
        if not all(0.0 <= g <= 0.95 for g in self.glazing):
            raise ValueError("glazing ratios are fractions of the wall, 0 to 0.95")
        if self.chillers not in (1, 2) or self.boilers not in (1, 2):
            raise ValueError("the plants have one or two chillers and one or two boilers")
