"""Re-evaluation of time-dependent segments on a schedule, by one process at a time.

Every API process runs the loop (started by the app's lifespan); at each tick it tries to take
or renew a lease in Neo4j, and only the holder evaluates. A holder that dies stops renewing,
and another process takes the lease over once it has expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from idgraph.clock import now_ms
from idgraph.segments.repository import SegmentRepository

log = logging.getLogger("idgraph.segments.scheduler")
LEASE_NAME = "segment-scheduler"


@dataclass
class Lease:
    """A named lease in Neo4j: one holder at a time, for `ttl_ms` after each renewal."""

    repository: SegmentRepository
    name: str
    ttl_ms: int
    holder: str = field(default_factory=lambda: uuid.uuid4().hex)

    async def acquire(self, now: int | None = None) -> bool:
        """Take the lease (free, expired or ours already) and renew it; False if another
        process holds it."""
        at = now_ms() if now is None else now
        return await self.repository.take_lease(self.name, self.holder, at, at + self.ttl_ms)

    async def release(self, now: int | None = None) -> None:
        await self.repository.release_lease(self.name, self.holder,
                                            now_ms() if now is None else now)


Work = Callable[[int], Awaitable[object]]


@dataclass
class Scheduler:
    """Runs `work(now)` every `interval` seconds while this process holds `lease`."""

    lease: Lease
    interval: float
    work: Work
    _task: asyncio.Task[None] | None = None

    async def tick(self, now: int | None = None) -> bool:
        """One round: take or renew the lease, and if held run the work. True if it ran."""
        at = now_ms() if now is None else now
        if not await self.lease.acquire(at):
            return False
        await self.work(at)
        return True

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="segment-scheduler")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        with contextlib.suppress(Exception):  # best effort: the lease also just expires
            await self.lease.release()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - the loop must survive a bad round
                log.exception("scheduled segment evaluation failed; retrying next round")
