"""Rate limits: token buckets in memory, per API key (requests) or per client address (failed
authentications).

Each process keeps its own buckets, so with N worker processes a key gets up to N times the
configured rate; run one process per host behind the load balancer, or divide the setting.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`take(key)` returns 0 when a request may proceed, else the seconds until it may."""

    MAX_BUCKETS = 100_000  # bound memory: forget idle buckets (they would be full anyway)

    def __init__(self, per_minute: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self.clock = clock
        self._buckets: dict[str, Bucket] = {}

    def take(self, key: str) -> float:
        bucket = self._refilled(key)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return self._until_one(bucket)

    def wait(self, key: str) -> float:
        """Like `take`, without spending a token: 0 when one is there."""
        bucket = self._refilled(key)
        return 0.0 if bucket.tokens >= 1 else self._until_one(bucket)

    def _refilled(self, key: str) -> Bucket:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            self._forget_idle(now)
            bucket = self._buckets[key] = Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        return bucket

    def _until_one(self, bucket: Bucket) -> float:
        return math.inf if self.rate <= 0 else (1 - bucket.tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) < self.MAX_BUCKETS:
            return
        full_after = self.burst / self.rate if self.rate > 0 else math.inf
        for key in [k for k, b in self._buckets.items() if now - b.updated >= full_after]:
            del self._buckets[key]
