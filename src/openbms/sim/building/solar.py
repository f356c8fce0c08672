"""Where the sun is and how much of it reaches a surface.

Solar position from Spencer's (1971) series for declination and the equation
of time; clear-sky beam and diffuse irradiance from the ASHRAE clear-sky
model (monthly A, B, C coefficients of the Handbook of Fundamentals); cloud
cover scales the clear sky after Kasten and Czeplak (1980). Vertical
surfaces see the beam by their incidence angle, half the (isotropic) sky
diffuse and half the ground-reflected light.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["clear_sky", "cloudy_sky", "sun_position", "surface_irradiance"]

#: ASHRAE clear-sky model, per month: apparent extraterrestrial irradiance A (W/m²),
#: atmospheric extinction B and diffuse-sky factor C.
_ASHRAE_ABC = (
    (1230.0, 0.142, 0.058), (1215.0, 0.144, 0.060), (1186.0, 0.156, 0.071),
    (1136.0, 0.180, 0.097), (1104.0, 0.196, 0.121), (1088.0, 0.205, 0.134),
    (1085.0, 0.207, 0.136), (1107.0, 0.201, 0.122), (1151.0, 0.177, 0.092),
    (1192.0, 0.160, 0.073), (1221.0, 0.149, 0.063), (1233.0, 0.142, 0.057),
)

GROUND_REFLECTANCE = 0.2


def sun_position(doy: int, hour: float, latitude: float, longitude: float,
                 utc_offset: float) -> tuple[float, float, float]:
    """(sin altitude, cos altitude, azimuth in radians clockwise from north).

    ``hour`` is local standard time (no daylight saving) on day ``doy`` (1-366).
    """
    b = 2.0 * math.pi * (doy - 1) / 365.0
    decl = (0.006918 - 0.399912 * math.cos(b) + 0.070257 * math.sin(b)
            - 0.006758 * math.cos(2 * b) + 0.000907 * math.sin(2 * b)
            - 0.002697 * math.cos(3 * b) + 0.00148 * math.sin(3 * b))
    eot_min = 229.18 * (0.000075 + 0.001868 * math.cos(b) - 0.032077 * math.sin(b)
                        - 0.014615 * math.cos(2 * b) - 0.040849 * math.sin(2 * b))
    solar_hour = hour + (4.0 * (longitude - 15.0 * utc_offset) + eot_min) / 60.0
    omega = math.radians(15.0 * (solar_hour - 12.0))
    lat = math.radians(latitude)
    sin_alt = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(omega)
    sin_alt = max(-1.0, min(1.0, sin_alt))
    cos_alt = math.sqrt(1.0 - sin_alt * sin_alt)
    az = math.atan2(math.sin(omega), math.cos(omega) * math.sin(lat) - math.tan(decl) * math.cos(lat))
    return sin_alt, cos_alt, az + math.pi


def clear_sky(month: int, sin_alt: float) -> tuple[float, float]:
    """Clear-sky (direct normal, diffuse horizontal) irradiance in W/m² (ASHRAE model)."""
    if sin_alt <= 0.01:
        return 0.0, 0.0
    a, b, c = _ASHRAE_ABC[month - 1]
    dni = a * math.exp(-b / sin_alt)
    return dni, c * dni


def cloudy_sky(dni_clear: float, dhi_clear: float, sin_alt: float,
               cloud: float) -> tuple[float, float, float]:
    """(global horizontal, direct normal, diffuse horizontal) under ``cloud`` cover (0-1)."""
    if sin_alt <= 0.01:
        return 0.0, 0.0, 0.0
    ghi_clear = dni_clear * sin_alt + dhi_clear
    ghi = ghi_clear * (1.0 - 0.75 * cloud ** 3.4)  # Kasten & Czeplak
    dni = dni_clear * (1.0 - cloud) ** 2
    dhi = max(ghi - dni * sin_alt, 0.0)
    return ghi, dni, dhi


def surface_irradiance(sin_alt: float, cos_alt: float, azimuth: float, dni: float, dhi: float,
                       ghi: float, surface_azimuths: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(beam, diffuse, cos incidence)`` on vertical surfaces facing ``surface_azimuths``, W/m²."""
    if sin_alt <= 0.01:
        zero = np.zeros_like(surface_azimuths)
        return zero, zero + 0.5 * dhi, zero
    cos_inc = np.maximum(cos_alt * np.cos(azimuth - surface_azimuths), 0.0)
    beam = dni * cos_inc
    diffuse = 0.5 * dhi + 0.5 * GROUND_REFLECTANCE * ghi
    return beam, np.full_like(surface_azimuths, diffuse), cos_inc
