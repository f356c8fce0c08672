"""openbms.historian: the history store contract, and the factory that opens a store.

Callers hold a :class:`Historian` (``base.py``) made by :func:`open_historian`
(``factory.py``); the stores themselves (``sqlite.py``, ``postgres.py``) are implementation.
"""

from openbms.historian.base import Historian, HistorianStats, RawRow, Rollup, RollupRow, RollupSeries
from openbms.historian.factory import open_historian

__all__ = [
    "Historian",
    "HistorianStats",
    "RawRow",
    "Rollup",
    "RollupRow",
    "RollupSeries",
    "open_historian",
]
