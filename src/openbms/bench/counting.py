"""What a benchmark counts on the bus: samples, those not ``ok``, and when the last came."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from openbms.model.sample import Sample

__all__ = ["BusCounter"]


class BusCounter:
    """Samples the bus carries (a callback subscription, as the historian's)."""

    def __init__(self, *, count_bad: bool = False) -> None:
        self.count_bad = count_bad  # a loop over every sample: only where a benchmark checks it
        self.samples = 0
        self.bad = 0  # samples whose status is not ok (with count_bad)
        self.last = 0.0  # time.perf_counter() of the last batch
        self.changed = asyncio.Event()

    def __call__(self, batch: Sequence[Sample]) -> None:
        self.samples += len(batch)
        if self.count_bad:
            self.bad += sum(1 for s in batch if s.status != "ok")
        self.last = time.perf_counter()
        self.changed.set()

    async def until(self, count: int, what: str, quiet: float = 30.0) -> None:
        """Wait for ``count`` samples; fail when none came for ``quiet`` seconds."""
        while self.samples < count:
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), quiet)
            except TimeoutError:
                raise RuntimeError(f"{what}: {self.samples} samples of {count} on the bus, none "
                                   f"for {quiet:g} s") from None
