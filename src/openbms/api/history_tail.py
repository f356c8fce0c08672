"""The recent raw history of the points asked for, kept in memory already encoded as JSON.

Trend charts ask for the same points over the last hours again and again, from
every open dashboard. Reading a day of one-minute samples from SQLite and
encoding it costs about a millisecond of the one core the runtime has; keeping
the answer's pieces cuts that to a slice and a join.

For each point asked for (up to ``max_rows`` samples from the ``since`` of
the request that loaded it), a *tail* keeps every stored sample from then on,
each as its JSON object. The historian notes what its merges and retention
change for watched points (``Historian.watch``, part of the store contract); on each use a tail
takes those notes: new samples after its newest are fetched and appended,
anything older (a late sample, retention) reloads it, and the request waits
for that (one refresh per point at a time, shared by the requests that came
meanwhile), so an answer holds what a database read would. Tails are evicted
least recently used beyond ``budget_bytes``. A point the store does not watch (``watch``
answers False: no history yet, or a read-only store) gets no tail: its requests read the store.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
import time
from collections import OrderedDict

import orjson

from openbms.historian.base import Historian, RawRow
from openbms.model.sample import STATUSES

__all__ = ["HistoryTails"]

log = logging.getLogger(__name__)

#: Seconds a point found too long to keep from some ``since`` is not tried again from there.
UNFIT_FOR = 60.0

#: Per-sample bookkeeping besides the encoded bytes: list slots, the float, the bytes header.
_OVERHEAD = 80


class _Tail:
    __slots__ = ("frags", "nbytes", "pending", "since", "task", "ts")

    def __init__(self, since: float, rows: list[RawRow]) -> None:
        self.since = since
        self.ts: list[float] = [r[0] for r in rows]
        self.frags: list[bytes] = _encode(rows)
        self.nbytes = sum(map(len, self.frags)) + _OVERHEAD * len(self.frags)
        self.task: asyncio.Task[None] | None = None
        #: changes noted while a refresh ran: the oldest changed time
        self.pending: float | None = None

    @property
    def newest(self) -> float:
        return self.ts[-1] if self.ts else math.nextafter(self.since, -math.inf)


def _encode(rows: list[RawRow]) -> list[bytes]:
    dumps = orjson.dumps
    statuses = STATUSES
    return [dumps({"ts": ts, "value": v, "status": statuses[st]}) for ts, v, st in rows]


class HistoryTails:
    """Encoded recent samples of the points asked for, over ``historian`` (see the module)."""

    def __init__(
        self, historian: Historian, *, budget_bytes: int = 64 << 20, max_rows: int = 50_000
    ) -> None:
        self.historian = historian
        self.budget_bytes = budget_bytes
        self.max_rows = max_rows
        self.enabled = budget_bytes > 0
        self._tails: OrderedDict[str, _Tail] = OrderedDict()
        self._loading: dict[str, asyncio.Future[_Tail | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: points found with more than max_rows samples from a since on: (since, until when to believe it)
        self._too_long: dict[str, tuple[float, float]] = {}
        self.nbytes = 0
        self.hits = self.loads = self.refreshes = 0

    def __len__(self) -> int:
        return len(self._tails)

    async def samples(self, point: str, since: float, until: float) -> tuple[bytes, int] | None:
        """The JSON array of ``point``'s stored samples in ``[since, until)`` and their number.

        None when the point is not kept (not stored yet, too many samples since
        ``since``, not watched by the store, no budget): read the historian instead.
        """
        if not self.enabled:
            return None
        tail = self._tails.get(point)
        covered = tail is not None and since >= tail.since
        if point in self._loading or not covered:
            # A load in flight is waited for: the tail it replaces takes no change notes meanwhile.
            if not covered and self._unfit(point, since):
                return None
            tail = await self._load(point, since)
            if tail is None:
                return None
        else:
            self.hits += 1
        assert tail is not None
        self._take_changes(point, tail)
        if tail.task is not None:
            await asyncio.shield(tail.task)
        if self._tails.get(point) is not tail or since < tail.since:
            return None  # dropped, evicted or cut to fewer rows meanwhile: read the historian
        self._tails.move_to_end(point)
        lo = bisect.bisect_left(tail.ts, since)
        hi = bisect.bisect_left(tail.ts, until, lo)
        return b"[" + b",".join(tail.frags[lo:hi]) + b"]", hi - lo

    def clear(self) -> None:
        """Forget every tail (and stop watching their points)."""
        for point in list(self._tails):
            self._drop(point)

    async def close(self) -> None:
        """Forget every tail, after the loads and refreshes in flight are cancelled."""
        pending: list[asyncio.Future[_Tail | None] | asyncio.Task[None]] = [
            *self._tasks, *self._loading.values()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self.clear()

    # ------------------------------------------------------------------ loading

    def _unfit(self, point: str, since: float) -> bool:
        """Whether ``point`` had more than ``max_rows`` samples from ``since`` on, lately."""
        known = self._too_long.get(point)
        return known is not None and since <= known[0] and time.monotonic() < known[1]

    async def _load(self, point: str, since: float) -> _Tail | None:
        pending = self._loading.get(point)
        if pending is None:
            pending = self._loading[point] = asyncio.ensure_future(self._fetch_tail(point, since))
            pending.add_done_callback(lambda _f: self._loading.pop(point, None))
        tail = await asyncio.shield(pending)
        if tail is None:
            tail = self._tails.get(point)  # a load that failed leaves the tail there was
        # A load for a later ``since`` may have been in flight: it does not cover this request.
        return tail if tail is not None and tail.since <= since else None

    async def _fetch_tail(self, point: str, since: float) -> _Tail | None:
        historian = self.historian
        old = self._tails.get(point)
        if old is None and not historian.watch(point):
            return None
        # The tail being replaced keeps its change notes (they cost at most one needless
        # refresh); requests wait for this load instead of taking them.
        try:
            rows = await historian.raw_rows(point, since, math.inf, self.max_rows + 1)
        except BaseException:
            if old is None:
                historian.unwatch(point)
            raise
        if self._tails.get(point) is not old:
            return None  # the old tail was evicted or dropped meanwhile: its point is unwatched
        if len(rows) > self.max_rows:
            if old is None:
                historian.unwatch(point)
            if len(self._too_long) > 10_000:
                self._too_long.clear()
            self._too_long[point] = (since, time.monotonic() + UNFIT_FOR)
            return None
        self._too_long.pop(point, None)
        self.loads += 1
        tail = _Tail(since, rows)
        if old is not None:
            self._drop(point, unwatch=False)
        self._tails[point] = tail
        self.nbytes += tail.nbytes
        self._evict()
        return tail

    # ------------------------------------------------------------------ refreshing

    def _take_changes(self, point: str, tail: _Tail) -> None:
        changed = self.historian.changed_since_last(point)
        if changed is None:
            return
        if tail.task is not None:
            tail.pending = changed if tail.pending is None else min(tail.pending, changed)
            return
        self._start_refresh(point, tail, changed)

    def _start_refresh(self, point: str, tail: _Tail, changed: float) -> None:
        task = asyncio.create_task(self._refresh(point, tail, changed), name=f"history tail {point}")
        tail.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh(self, point: str, tail: _Tail, changed: float) -> None:
        try:
            while True:
                self.refreshes += 1
                if changed > tail.newest:  # only newer samples: fetch and append them
                    start, replace = math.nextafter(tail.newest, math.inf), False
                else:  # a late sample or a deletion: read the tail again
                    start, replace = tail.since, True
                rows = await self.historian.raw_rows(point, start, math.inf, self.max_rows + 1)
                if self._tails.get(point) is not tail:
                    return  # evicted or replaced meanwhile
                if len(rows) > self.max_rows:  # more than a tail holds: rows past the limit were not read
                    self._drop(point)
                    return
                self._apply(tail, rows, replace)
                if tail.pending is None:
                    return
                changed, tail.pending = tail.pending, None
        except Exception:  # a failed read: forget the tail, the next request loads it afresh
            log.warning("history cache: refreshing %s failed; it will be read again", point, exc_info=True)
            if self._tails.get(point) is tail:
                self._drop(point)
        finally:
            tail.task = None

    def _apply(self, tail: _Tail, rows: list[RawRow], replace: bool) -> None:
        before = tail.nbytes
        if replace:
            fresh = _Tail(tail.since, rows)
            tail.ts, tail.frags, tail.nbytes = fresh.ts, fresh.frags, fresh.nbytes
        elif rows:
            frags = _encode(rows)
            # New lists, not in-place appends: a slice taken before stays what it was.
            tail.ts = tail.ts + [r[0] for r in rows]
            tail.frags = tail.frags + frags
            tail.nbytes += sum(map(len, frags)) + _OVERHEAD * len(frags)
        extra = len(tail.ts) - self.max_rows
        if extra > 0:  # keep the newest max_rows: the tail now starts at its first kept sample
            cut = extra + self.max_rows // 4
            dropped = tail.frags[:cut]
            tail.since, tail.ts, tail.frags = tail.ts[cut], tail.ts[cut:], tail.frags[cut:]
            tail.nbytes -= sum(map(len, dropped)) + _OVERHEAD * len(dropped)
        self.nbytes += tail.nbytes - before
        self._evict()

    # ------------------------------------------------------------------ memory

    def _evict(self) -> None:
        while self.nbytes > self.budget_bytes and len(self._tails) > 1:
            self._drop(next(iter(self._tails)))

    def _drop(self, point: str, *, unwatch: bool = True) -> None:
        tail = self._tails.pop(point, None)
        if tail is not None:
            self.nbytes -= tail.nbytes
            if unwatch:
                self.historian.unwatch(point)
