"""Rate limits: token buckets in memory, per API key (requests) or per client address (failed
authentications).

Each process keeps its own buckets, with its share of the configured rate: with N API
processes (IDGRAPH_API_PROCESSES, set by `idgraph serve --workers N`) each allows 1/N of the
rate and of the burst, so together they allow the configured rate. Chosen over buckets shared
in Neo4j because a shared bucket costs a database write per request (the hot profile read is one
read); the price is that a client whose requests all reach one process (one keep-alive
connection) gets 1/N of its rate. docs/scaling.md, "Rate limits".
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`take(key)` returns 0 when a request may proceed, else the seconds until it may.

    Buckets are kept least recently used first: a bucket idle long enough to be full again is
    forgotten (a new one starts full anyway), and past `max_buckets` the least recently used
    one is forgotten whatever its state, so memory stays bounded however many keys (client
    addresses) turn up, and each new key costs O(1) amortised."""

    MAX_BUCKETS = 100_000

    def __init__(self, per_minute: float, burst: int,
                 clock: Callable[[], float] = time.monotonic,
                 max_buckets: int = MAX_BUCKETS) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self.clock = clock
        self.max_buckets = max(1, max_buckets)
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    @classmethod
    def share(cls, per_minute: float, burst: int, processes: int) -> RateLimiter:
        """This process's share of a limit that `processes` processes enforce together."""
        return cls(per_minute / processes, math.ceil(burst / processes))

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
            self._make_room(now)
            bucket = self._buckets[key] = Bucket(float(self.burst), now)
        else:
            self._buckets.move_to_end(key)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        return bucket

    def _until_one(self, bucket: Bucket) -> float:
        return math.inf if self.rate <= 0 else (1 - bucket.tokens) / self.rate

    def _make_room(self, now: float) -> None:
        """Forget buckets from the least recently used end: those full again, and any past
        the bound. Each is forgotten once, so this is O(1) amortised per new key."""
        full_after = self.burst / self.rate if self.rate > 0 else math.inf
        while self._buckets:
            oldest = next(iter(self._buckets.values()))
            if len(self._buckets) < self.max_buckets and now - oldest.updated < full_after:
                return
            self._buckets.popitem(last=False)

    @property
    def tracked(self) -> int:
        """How many keys have a bucket now."""
        return len(self._buckets)
