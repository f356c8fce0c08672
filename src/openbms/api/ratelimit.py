"""In-memory token buckets, per user and per client address, for logins and writes.

One process serves the API, so memory is the right place: no round trip on
the hot path. Buckets that have refilled are forgotten, so memory stays
bounded by the number of recently active keys.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from openbms.api.errors import ApiError
from openbms.api.settings import Rate

__all__ = ["RateLimited", "RateLimiter"]


class RateLimited(ApiError):
    """429 Too Many Requests, with Retry-After in whole seconds."""

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            429,
            f"too many requests: retry in {seconds} s",
            type="urn:openbms:problem:rate-limited",
            headers={"Retry-After": str(seconds)},
        )
        self.retry_after = seconds


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by (scope, key); ``hit`` takes one token or raises RateLimited."""

    def __init__(self, now: Callable[[], float], max_keys: int = 100_000) -> None:
        self._now = now
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._max_keys = max_keys
        self.limited = 0

    def hit(self, scope: str, key: str, rate: Rate) -> None:
        """Spend one request of ``key`` in ``scope``; raise RateLimited when none is left."""
        now = self._now()
        refill = rate.per_minute / 60.0
        bucket = self._buckets.get((scope, key))
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._prune(now, refill, rate.burst)
            bucket = self._buckets[(scope, key)] = _Bucket(float(rate.burst), now)
        else:
            bucket.tokens = min(float(rate.burst), bucket.tokens + max(0.0, now - bucket.updated) * refill)
            bucket.updated = now
        if bucket.tokens < 1.0:
            self.limited += 1
            raise RateLimited((1.0 - bucket.tokens) / refill if refill > 0 else 3600.0)
        bucket.tokens -= 1.0

    def reset(self) -> None:
        """Forget every bucket."""
        self._buckets.clear()

    def _prune(self, now: float, refill: float, burst: int) -> None:
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.updated) * refill >= burst]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self._max_keys:  # still full of active keys: drop the oldest half
            for k, _ in sorted(self._buckets.items(), key=lambda kv: kv[1].updated)[: self._max_keys // 2]:
                del self._buckets[k]
