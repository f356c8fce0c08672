"""Consumption of meters, virtual meters, equipment, spaces and the site, and energy per m² (EUI).

::

    site file energy: ──configured()──▶ Meter with its rollover and replacements
    point's rollups + raw ──PointMeter──▶ energy(a, b), windows(a, b, 15|30 min)
    virtual meter = Σ add − Σ subtract ──VirtualMeter──▶ the same two functions
    meter_groups + equipment/spaces ──members()──▶ which meters add up to an equipment, a space, the site

A group's total never counts a sub-meter with its parent: of the meters of a
commodity in a group, its main meters (equipment tagged ``siteMeter``) are
added where it holds any (they measure the whole site), else those whose
parent is not in it. So the site's total is its main meters of each
commodity, else its meters that are no sub-meter. Energy per m² (EUI) divides by the site's or the
space's ``area_m2`` (the site file's ``site:`` and ``spaces:`` keys).

Pure: model objects, rollups and samples in, numbers out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from openbms.analytics.energy import Meter, MeterGroup, MeterSeries, Replacement, window_kwh
from openbms.model.site import SiteConfig
from openbms.model.tariff import VirtualMeter

__all__ = ["Group", "GroupKind", "PointMeter", "Virtual", "configured", "groups_of", "short_ref"]

GroupKind = Literal["meter", "virtual", "equipment", "space", "site"]


def short_ref(ref: str, site: str) -> str:
    """``equipment/point`` of a reference written with or without its site."""
    return ref[len(site) + 1:] if ref.startswith(site + "/") and ref.count("/") == 2 else ref


def configured(config: SiteConfig, point_id: str, meter: Meter) -> Meter:
    """``meter`` with the rollover and replacements the site's ``energy: counters:`` give its point."""
    ref = short_ref(point_id, config.site.id)
    for c in config.energy.counters:
        if short_ref(c.point, config.site.id) == ref:
            return replace(meter, rollover=c.rollover, replacements=tuple(
                Replacement(r.at.timestamp(), r.old_final, r.new_initial) for r in c.replacements))
    return meter


class PointMeter:
    """One meter point: its energy from hourly rollups, its windows from raw samples (given when needed)."""

    __slots__ = ("meter", "samples", "series")

    def __init__(self, meter: Meter, series: MeterSeries,
                 samples: Sequence[tuple[float, float]] = ()) -> None:
        self.meter = meter
        self.series = series
        self.samples = list(samples)

    def energy(self, start: float, end: float) -> float | None:
        """kWh over ``[start, end)``, None when unknown."""
        return self.series.energy(start, end)

    def windows(self, start: float, end: float, window: float) -> list[float | None]:
        """kWh per ``window`` seconds from ``start`` to ``end``, from the raw samples."""
        return window_kwh(self.meter, self.samples, start, end, window)


class Virtual:
    """A virtual meter: the sum of some meters minus the sum of others, each window and period alike.

    Unknown when any of its meters is unknown there (a difference with one side missing would be
    a meter that seems to fall or jump). It may be negative where its meters disagree (a building
    meter read a little later than its chillers'): that is shown, not hidden.
    """

    __slots__ = ("parts",)

    def __init__(self, parts: Sequence[tuple[float, PointMeter]]) -> None:
        self.parts = list(parts)

    def energy(self, start: float, end: float) -> float | None:
        total = 0.0
        for sign, part in self.parts:
            got = part.energy(start, end)
            if got is None:
                return None
            total += sign * got
        return total

    def windows(self, start: float, end: float, window: float) -> list[float | None]:
        out: list[float | None] | None = None
        for sign, part in self.parts:
            got = part.windows(start, end, window)
            if out is None:
                out = [None if v is None else sign * v for v in got]
            else:
                out = [None if a is None or b is None else a + sign * b
                       for a, b in zip(out, got, strict=True)]
        return out or []


@dataclass(frozen=True, slots=True)
class Group:
    """What a consumption series adds up: meters (their ids) with a sign, and the area it serves."""

    id: str
    kind: GroupKind
    name: str
    commodity: str | None
    members: tuple[tuple[float, str], ...]  # (+1 or −1, meter id: a point id or a virtual meter's id)
    area_m2: float | None = None


def _top(meters: Sequence[MeterGroup]) -> list[MeterGroup]:
    """What a set of meters of one commodity adds up to: its main meters where it holds any (a main
    meter measures the whole site, every other meter included), else those no sub-meter of another."""
    main = [m for m in meters if m.main]
    if main:
        return main
    ids = {m.id for m in meters}
    return [m for m in meters if m.parent not in ids]


def _per_commodity(meters: Sequence[MeterGroup]) -> dict[str | None, list[MeterGroup]]:
    out: dict[str | None, list[MeterGroup]] = {}
    for m in meters:
        out.setdefault(m.commodity, []).append(m)
    return out


def groups_of(config: SiteConfig, meters: Sequence[MeterGroup], by: GroupKind | Literal["meter"],
              virtual: Sequence[VirtualMeter] = ()) -> list[Group]:
    """The series of a consumption answer ``by`` meter (and virtual meter), equipment, space or site.

    Equipment, spaces and the site have one series per commodity their meters measure.
    """
    site = config.site.id
    if by in ("meter", "virtual"):
        out = [Group(m.id, "meter", m.name, m.commodity, ((1.0, m.id),)) for m in meters]
        for v in virtual:
            members = tuple((1.0, f"{site}/{short_ref(r, site)}") for r in v.add) + tuple(
                (-1.0, f"{site}/{short_ref(r, site)}") for r in v.subtract)
            out.append(Group(v.id, "virtual", v.name or v.id, v.commodity, members))
        return out
    if by == "site":
        out = []
        for commodity, ms in _per_commodity(meters).items():
            out.append(Group(f"{site}/{commodity or 'energy'}", "site", config.site.name or site, commodity,
                             tuple((1.0, m.id) for m in _top(ms)), config.site.area_m2))
        return out
    if by == "equipment":
        names = {e.id: e.name or e.id for e in config.equipment}
        out = []
        per_equip: dict[str, list[MeterGroup]] = {}
        for m in meters:
            per_equip.setdefault(m.equipment, []).append(m)
        for equip, ms in per_equip.items():
            for commodity, same in _per_commodity(ms).items():
                out.append(Group(f"{equip}/{commodity or 'energy'}", "equipment", names.get(equip, equip),
                                 commodity, tuple((1.0, m.id) for m in _top(same))))
        return out
    # Spaces: the meters of the equipment in a space or in any space inside it.
    parent = {s.id: s.parent for s in config.spaces}
    where = {e.id: e.space for e in config.equipment}
    out = []
    for space in config.spaces:
        inside = []
        for m in meters:
            at = where.get(m.equipment)
            seen: set[str] = set()
            while at is not None and at != space.id and at not in seen:
                seen.add(at)
                at = parent.get(at)
            if at == space.id:
                inside.append(m)
        for commodity, same in _per_commodity(inside).items():
            out.append(Group(f"{space.id}/{commodity or 'energy'}", "space", space.name or space.id,
                             commodity, tuple((1.0, m.id) for m in _top(same)), space.area_m2))
    return out
