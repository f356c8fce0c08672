"""A site's points sorted and described once per configuration, for the read routes.

A page of points or a history request looks points up by id many times a
second; walking and sorting the site's configuration on every request cost
more than the rest of the request together. The index is built on first use
of a configuration and kept until the site's configuration is replaced
(the service's ``change_site`` swaps the ``SiteConfig`` object, which is immutable,
so its identity says whether the index is current).
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from openbms.model.site import Equipment, Point, SiteConfig

__all__ = ["Entry", "SiteIndex", "describe", "site_index", "site_index_built"]

Entry = tuple[str, str, Equipment, Point]  # point id, site id, equipment, point


@dataclass(frozen=True, slots=True)
class SiteIndex:
    """The points of one configuration of a site, sorted by id."""

    cfg: SiteConfig
    entries: list[Entry]
    ids: list[str]
    units: dict[str, str | None]
    #: per entry, what a point summary says that does not change with its value (made when read:
    #: kept for every point it was 74 MB at 100 000 points)
    described: Sequence[dict[str, Any]]
    #: encoded unfiltered pages: (start, limit) → (current-value cache, its version, JSON)
    pages: dict[tuple[int, int], tuple[Any, int, bytes]] = field(default_factory=dict)

    def after(self, key: str | None) -> int:
        """The position of the first entry whose id sorts after ``key`` (0 for None)."""
        return 0 if key is None else bisect.bisect_right(self.ids, key)

    def position(self, pid: str) -> int | None:
        """Where the point ``pid`` is among the entries; None: not a point of this configuration."""
        i = bisect.bisect_left(self.ids, pid)
        return i if i < len(self.ids) and self.ids[i] == pid else None

    def entry(self, pid: str) -> Entry | None:
        """The entry of the point ``pid``, or None."""
        i = self.position(pid)
        return None if i is None else self.entries[i]


def describe(pid: str, site: str, equip: Equipment, point: Point) -> dict[str, Any]:
    """What a point summary says of a point apart from its current value."""
    return {
        "id": pid,
        "site": site,
        "equipment": equip.id,
        "name": point.name,
        "display_name": point.label,
        "kind": point.kind,
        "unit": point.unit,
        "precision": point.decimals,
        "states": list(point.states) if point.states is not None else None,
        "description": point.description,
        "tags": list(point.tags),
        "writable": point.writable,
    }


class _Described(Sequence[dict[str, Any]]):
    """``describe`` of each entry, made when asked for (a page asks for a hundred)."""

    __slots__ = ("_entries",)

    def __init__(self, entries: list[Entry]) -> None:
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [describe(*entry) for entry in self._entries[i]]
        return describe(*self._entries[i])


def _build(cfg: SiteConfig) -> SiteIndex:
    entries = sorted(
        ((cfg.point_id(e, p), cfg.site.id, e, p) for e in cfg.equipment for p in e.points),
        key=lambda entry: entry[0],
    )
    return SiteIndex(
        cfg=cfg,
        entries=entries,
        ids=[e[0] for e in entries],
        units={pid: point.unit for pid, _s, _e, point in entries},
        described=_Described(entries),
    )


_INDEXES: dict[str, SiteIndex] = {}


def site_index(cfg: SiteConfig) -> SiteIndex:
    """The index of ``cfg``, built on its first use."""
    index = _INDEXES.get(cfg.site.id)
    if index is None or index.cfg is not cfg:
        index = _INDEXES[cfg.site.id] = _build(cfg)
    return index


async def site_index_built(cfg: SiteConfig) -> SiteIndex:
    """``site_index``, built in a worker thread when it is not yet: sorting a site of 100 000
    points held the event loop for a second at the first points request after a start."""
    index = _INDEXES.get(cfg.site.id)
    if index is not None and index.cfg is cfg:
        return index
    return await asyncio.to_thread(site_index, cfg)

