"""Health that tells the truth: disk space, the historian's backlog and errors, the event loop's lag.

::

    DiskProbe     every disk_interval s, off the loop: shutil.disk_usage(data folder)
    LoopWatchdog  every lag_interval s: how late its own wake-up came (loop.time()), kept for a window
    historian     stats(): backlog, age of the oldest unstored sample, write errors (O(1))
         │
         ▼
    HealthMonitor.check() ─▶ components {disk, event_loop, historian}: status ok | degraded,
                             the reasons, and the figures — for /api/v1/health and /metrics

Nothing here runs per sample. Lag is measured on the event loop's monotonic
timer, not the injected domain clock: it is a measurement of this process,
and an accelerated or manual clock must not bend it. Each check that turns bad
logs once, and once when it is good again (STYLE habit 8).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import shutil
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from openbms.historian import Historian

__all__ = ["DiskProbe", "HealthLimits", "HealthMonitor", "LoopWatchdog"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HealthLimits:
    """When health says ``degraded``, and how often it looks.

    The disk is low when its free space is below ``min_free_percent`` of its size
    *or* below ``min_free_mb`` (0 turns either off). The historian is behind when
    its oldest unstored sample has waited more than ``max_backlog_age`` seconds,
    or its backlog is above ``max_backlog_share`` of the bound past which it drops.
    The event loop lags when, over the last ``lag_window`` seconds, the 99th
    percentile of its wake-up delay exceeds ``max_loop_lag_p99`` or the worst
    exceeds ``max_loop_lag``.
    """

    min_free_percent: float = 5.0
    min_free_mb: float = 500.0
    max_backlog_age: float = 30.0
    max_backlog_share: float = 0.5
    max_loop_lag_p99: float = 0.25
    max_loop_lag: float = 1.0
    disk_interval: float = 5.0
    lag_interval: float = 0.5
    lag_window: float = 60.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"health limit {f.name} must be a finite number >= 0, not {value!r}")
        if self.max_backlog_share > 1:
            raise ValueError(f"health limit max_backlog_share must be at most 1, "
                             f"not {self.max_backlog_share!r}")
        if self.min_free_percent > 100:
            raise ValueError(f"health limit min_free_percent must be at most 100, "
                             f"not {self.min_free_percent!r}")
        for name in ("disk_interval", "lag_interval", "lag_window"):
            if getattr(self, name) <= 0:
                raise ValueError(f"health limit {name} must be more than 0 seconds")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> HealthLimits:
        """Limits from ``OPENBMS_HEALTH_<FIELD>`` variables (e.g. OPENBMS_HEALTH_MIN_FREE_MB=2000)."""
        env = os.environ if environ is None else environ
        values: dict[str, float] = {}
        for f in fields(cls):
            name = f"OPENBMS_HEALTH_{f.name.upper()}"
            raw = env.get(name, "").strip()
            if not raw:
                continue
            try:
                values[f.name] = float(raw)
            except ValueError:
                raise ValueError(f"{name}={raw!r}: expected a number") from None
        try:
            return cls(**values)
        except ValueError as err:
            raise ValueError(f"OPENBMS_HEALTH_*: {err}") from None


class DiskProbe:
    """Free space of one folder's filesystem, read every ``interval`` seconds in a thread."""

    def __init__(self, path: Path, interval: float) -> None:
        self.path = Path(path)
        self.interval = interval
        self.free: int | None = None
        self.total: int | None = None
        self.error: str | None = None
        self.probes = 0

    def probe(self) -> None:
        """One reading (blocking: call it in a thread)."""
        try:
            usage = shutil.disk_usage(self.path)
        except OSError as err:
            self.error = f"cannot read the free space: {err.strerror or err}"
        else:
            self.free, self.total, self.error = usage.free, usage.total, None
        self.probes += 1

    async def run(self, on_probe: Callable[[], None] | None = None) -> None:
        """Probe forever (cancel to stop)."""
        while True:
            await asyncio.to_thread(self.probe)
            if on_probe is not None:
                on_probe()
            await asyncio.sleep(self.interval)


class LoopWatchdog:
    """How late the event loop wakes a task that sleeps ``interval`` seconds, over a window.

    A loop blocked by one slow callback (a huge program deployed, a parse on the
    loop) wakes everybody late by as much: drivers, alarms, control, the API.
    """

    def __init__(self, interval: float, window: float) -> None:
        self.interval = interval
        self._lags: deque[float] = deque(maxlen=max(1, round(window / interval)))
        self.ticks = 0

    @property
    def window(self) -> float:
        """The seconds of wake-ups kept."""
        return (self._lags.maxlen or 1) * self.interval

    def record(self, lag: float) -> None:
        """One wake-up, ``lag`` seconds late."""
        self._lags.append(max(0.0, lag))
        self.ticks += 1

    def figures(self) -> tuple[float, float]:
        """The 99th percentile and the worst lag of the window, in seconds."""
        if not self._lags:
            return 0.0, 0.0
        ordered = sorted(self._lags)
        p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
        return p99, ordered[-1]

    async def run(self, on_tick: Callable[[], None] | None = None) -> None:
        """Measure forever (cancel to stop)."""
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.interval)
            self.record(loop.time() - start - self.interval)
            if on_tick is not None:
                on_tick()


class HealthMonitor:
    """The disk probe and the loop watchdog of one process, and the checks over them.

    ``historian`` is the history store (its ``stats()`` and ``max_backlog``); ``data_dir`` the
    folder whose filesystem holds the databases.
    """

    def __init__(self, data_dir: Path, historian: Historian, limits: HealthLimits | None = None) -> None:
        self.limits = limits or HealthLimits()
        self.historian = historian
        self.disk = DiskProbe(Path(data_dir), self.limits.disk_interval)
        self.loop = LoopWatchdog(self.limits.lag_interval, self.limits.lag_window)
        self._tasks: list[asyncio.Task[None]] = []
        self._bad: set[str] = set()  # components whose last check logged "degraded"

    async def start(self) -> None:
        """Take a first disk reading, then probe and watch in background tasks."""
        await asyncio.to_thread(self.disk.probe)
        self._log_changes()
        self._tasks = [
            asyncio.create_task(self.disk.run(self._log_changes), name="health: disk probe"),
            asyncio.create_task(self.loop.run(self._log_changes), name="health: loop watchdog"),
        ]

    async def stop(self) -> None:
        """Stop probing."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    # ------------------------------------------------------------------ checks

    def check(self) -> dict[str, dict[str, Any]]:
        """Each component's status (``ok`` or ``degraded``), its ``reasons`` and its figures."""
        return {
            "disk": self._disk(),
            "event_loop": self._event_loop(),
            "historian": self._historian(),
        }

    def _disk(self) -> dict[str, Any]:
        d, lim = self.disk, self.limits
        reasons: list[str] = []
        out: dict[str, Any] = {"free_bytes": d.free, "total_bytes": d.total, "free_percent": None}
        if d.error is not None:
            reasons.append(d.error)
        if d.free is not None and d.total:
            percent = 100.0 * d.free / d.total
            out["free_percent"] = round(percent, 2)
            low_pct = percent < lim.min_free_percent
            low_mb = d.free < lim.min_free_mb * 1e6
            if low_pct or low_mb:
                reasons.append(
                    f"disk space low: {d.free / 1e6:.1f} MB free ({percent:.1f} %), below "
                    + " or ".join(
                        ([f"{lim.min_free_mb:g} MB"] if lim.min_free_mb else [])
                        + ([f"{lim.min_free_percent:g} %"] if lim.min_free_percent else [])
                    )
                )
        return {"status": "degraded" if reasons else "ok", "reasons": reasons, **out}

    def _event_loop(self) -> dict[str, Any]:
        lim = self.limits
        p99, worst = self.loop.figures()
        reasons: list[str] = []
        if p99 > lim.max_loop_lag_p99:
            reasons.append(f"event loop lag p99 {p99:.3f} s over the last {self.loop.window:g} s, "
                           f"above {lim.max_loop_lag_p99:g} s")
        if worst > lim.max_loop_lag:
            reasons.append(f"event loop stalled {worst:.3f} s in the last {self.loop.window:g} s, "
                           f"above {lim.max_loop_lag:g} s")
        return {"status": "degraded" if reasons else "ok", "reasons": reasons,
                "lag_p99_s": round(p99, 4), "lag_max_s": round(worst, 4), "window_s": self.loop.window}

    def _historian(self) -> dict[str, Any]:
        st = self.historian.stats()
        lim = self.limits
        reasons: list[str] = []
        if st.failing:
            reasons.append(f"history writes failing: {st.last_error}")
        if st.backlog_age > lim.max_backlog_age:
            reasons.append(f"oldest unstored sample waited {st.backlog_age:.1f} s, "
                           f"above {lim.max_backlog_age:g} s")
        bound = self.historian.max_backlog
        if bound and st.backlog > bound * lim.max_backlog_share:
            # At a high sample rate the bound comes before the age limit: say so before dropping.
            reasons.append(f"backlog of {st.backlog} samples above {lim.max_backlog_share:.0%} of "
                           f"its bound ({bound}); the oldest are dropped past it")
        if st.dropped:
            reasons.append(f"{st.dropped} samples dropped (backlog over its bound)")
        return {
            "status": "degraded" if reasons else "ok", "reasons": reasons,
            "received": st.received, "stored": st.stored, "backlog": st.backlog,
            "backlog_age": round(st.backlog_age, 3), "dropped": st.dropped,
            "write_errors": st.write_errors, "maintenance_errors": st.maintenance_errors,
            "last_error": st.last_error, "last_error_at": st.last_error_at,
        }

    def _log_changes(self) -> None:
        """Log a disk or loop check turning degraded once, and its return to ok once.

        (The historian logs its own failures and recoveries.)
        """
        for name, part in (("disk", self._disk), ("event_loop", self._event_loop)):
            result = part()
            if result["status"] != "ok" and name not in self._bad:
                self._bad.add(name)
                log.warning("health: %s degraded: %s", name, "; ".join(result["reasons"]))
            elif result["status"] == "ok" and name in self._bad:
                self._bad.discard(name)
                log.warning("health: %s ok again", name)
