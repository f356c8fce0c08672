"""Public holidays looked up from two threads while the library fills the year.

The ``holidays`` library fills a year of its (cached, shared) table on the
first lookup in it, and marks the year filled before it is. Here the first
lookup is held inside that filling (a gate the test opens) while a second
thread asks for the same day; it is let go once the second lookup has
answered or waits for the first. Both must see Christmas.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest

from openbms.model import calendar
from openbms.model.calendar import HolidaysRule

CHRISTMAS = dt.date(2097, 12, 25)


class WatchedLock:
    """The module's lock, telling the test when the second thread asks for it."""

    def __init__(self, progress: threading.Event) -> None:
        self._lock = threading.Lock()
        self._progress = progress

    def __enter__(self) -> Any:
        if threading.current_thread().name == "second":
            self._progress.set()
        return self._lock.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        return self._lock.__exit__(*exc)


def test_a_lookup_while_another_thread_fills_the_year_sees_the_holiday(monkeypatch: pytest.MonkeyPatch):
    calendar._public_holidays.cache_clear()  # a fresh table: no other test filled its 2097
    rule = HolidaysRule(holidays="GB-ENG")
    table = calendar._public_holidays("GB", "ENG")
    filling, progress, go = threading.Event(), threading.Event(), threading.Event()
    populate = table._populate

    def held_populate(year: int) -> None:
        if threading.current_thread().name == "first":
            filling.set()
            assert go.wait(30)
        populate(year)

    table._populate = held_populate
    monkeypatch.setattr(calendar, "_HOLIDAYS_LOCK", WatchedLock(progress), raising=False)
    seen: dict[str, bool] = {}

    def look(name: str) -> None:
        seen[name] = rule.matches(CHRISTMAS)
        if name == "second":
            progress.set()

    first = threading.Thread(target=look, args=("first",), name="first")
    second = threading.Thread(target=look, args=("second",), name="second")
    first.start()
    assert filling.wait(30)
    second.start()
    assert progress.wait(30)  # the second lookup answered, or waits for the first
    go.set()
    first.join(30)
    second.join(30)
    calendar._public_holidays.cache_clear()
    assert seen == {"first": True, "second": True}
    assert rule.name_of(CHRISTMAS) == "Christmas Day"
