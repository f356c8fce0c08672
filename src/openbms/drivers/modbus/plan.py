"""Merged reads: a device's points as the fewest requests the device accepts.

::

    points (table, address, size) ──sorted──▶ spans: [start, start+count) per table
        a point joins the span before it when
          - the unused registers between them are at most ``gap``,
          - the span stays within ``max_registers`` (``max_bits`` for coils and discrete inputs),
          - no break lies between them (an address the device refused to read across).

A device that answers illegal-data-address for a span has it split in two and
each half read (split again while refused); a single point it still refuses
gets breaks on both sides, so it is read alone from then on and only it faults.
When both halves read, the refusal was the unused registers between them: that
break is remembered; the trial splits of the search are not. Pure functions of
their inputs: no I/O, no pymodbus.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

from openbms.drivers.modbus.points import BIT_TABLES, PointSpec

__all__ = ["Breaks", "Span", "plan"]


@dataclass(slots=True)
class Span:
    """One request: ``count`` registers (bits) of ``table`` from ``start``, and the indices of
    the points (in the read's order) it serves."""

    table: str
    start: int
    count: int
    members: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Breaks:
    """Addresses per table where a span must start (the device refused to read across them)."""

    by_table: dict[str, list[int]] = field(default_factory=dict)
    faulted: set[tuple[str, int]] = field(default_factory=set)  # (table, address) refused alone

    def add(self, table: str, address: int) -> None:
        """Remember that no span crosses onto ``address``."""
        known = self.by_table.setdefault(table, [])
        i = bisect.bisect_left(known, address)
        if i == len(known) or known[i] != address:
            known.insert(i, address)

    def between(self, table: str, start: int, address: int) -> bool:
        """Whether a break lies in (start, address]."""
        known = self.by_table.get(table)
        if not known:
            return False
        i = bisect.bisect_right(known, start)
        return i < len(known) and known[i] <= address

    def copy(self) -> Breaks:
        """The same breaks, to try more on without remembering them."""
        return Breaks({t: list(v) for t, v in self.by_table.items()}, self.faulted)

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_table.values())


def plan(specs: Sequence[PointSpec], gap: int, max_registers: int, max_bits: int,
         breaks: Breaks | None = None, only: Sequence[int] | None = None) -> list[Span]:
    """The requests that read ``specs`` (those at the indices ``only``, when given)."""
    order = sorted(range(len(specs)) if only is None else only,
                   key=lambda i: (specs[i].table, specs[i].address, specs[i].size))
    spans: list[Span] = []
    cur: Span | None = None
    for i in order:
        p = specs[i]
        limit = max_bits if p.table in BIT_TABLES else max_registers
        if cur is not None and cur.table == p.table:
            end = cur.start + cur.count
            new_end = max(end, p.end)
            if (p.address - end <= gap and new_end - cur.start <= limit
                    and not (breaks is not None and breaks.between(p.table, cur.start, p.address))):
                cur.count = new_end - cur.start
                cur.members.append(i)
                continue
        cur = Span(p.table, p.address, p.size, [i])
        spans.append(cur)
    return spans
