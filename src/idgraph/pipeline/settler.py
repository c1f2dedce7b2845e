"""The settler: deferred ingest batches through the pipeline's stages, oldest first.

Every API process runs one (started by the app's lifespan). It looks at the backlog
(pipeline/backlog.py) when its own process accepted a batch, and every `poll_seconds` for
entries accepted elsewhere (other API processes, `idgraph ingest --defer`).

It gives way to acceptance: while batches keep coming (the newest waiting one accepted less
than `quiet_seconds` ago), it waits, because settling beside a load takes the same cores the
load's statements need (on two cores, a partner's deferred calls of new people were accepted at
2,700-3,100 records/s beside a settler, 3,200-4,500 with one giving way, in later runs of the
same bench: bench/results/scale-1000000.md, session 19). A load never holds the
profiles back for long: once the oldest entry has waited `max_lag_seconds`, it settles anyway.
Each settle takes the oldest entries up to `settle_max_items` items, then it looks again, so a
new burst pauses it.

Settlers of several processes take turns: each settle locks the backlog's head first.
`idgraph settle` drains the backlog at once, with a progress bar.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from idgraph.pipeline.backlog import Ages
from idgraph.pipeline.pipeline import Pipeline, Settled

log = logging.getLogger("idgraph.pipeline.settler")


async def drain(pipeline: Pipeline, on_settled: Callable[[Settled], None] | None = None
                ) -> list[Settled]:
    """Settle entries until none waits; what was settled (or kept as failed), in order."""
    done = []
    while (settled := await pipeline.settle_next()) is not None:
        done.append(settled)
        if on_settled:
            on_settled(settled)
    return done


def wait_before_settling(ages: Ages, quiet_ms: float, max_lag_ms: float) -> float | None:
    """Milliseconds to wait before settling the oldest entry (0: now), or None when nothing
    waits. Now once no batch came for `quiet_ms`, or once the oldest waited `max_lag_ms`."""
    if not ages.entries:
        return None
    if ages.newest_ms >= quiet_ms or ages.oldest_ms >= max_lag_ms:
        return 0.0
    return min(quiet_ms - ages.newest_ms, max_lag_ms - ages.oldest_ms)


@dataclass
class Settler:
    pipeline: Pipeline
    poll_seconds: float
    quiet_seconds: float = 2.0
    max_lag_seconds: float = 30.0
    _task: asyncio.Task[None] | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def start(self) -> None:
        if self.poll_seconds > 0 and self._task is None:
            self.pipeline.on_deferred.append(self._wake.set)
            self._task = asyncio.create_task(self._loop(), name="ingest-settler")

    async def stop(self) -> None:
        if self._task is None:
            return
        self.pipeline.on_deferred.remove(self._wake.set)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()
            try:
                await self.settle_paced()
            except Exception:  # noqa: BLE001 - the loop must survive a bad round
                log.exception("settling the ingest backlog failed; retrying next round")

    async def settle_paced(self) -> None:
        """Settle entries one at a time while the pacing allows; wait while batches come."""
        while True:
            wait = wait_before_settling(await self.pipeline.backlog.ages(),
                                        self.quiet_seconds * 1000, self.max_lag_seconds * 1000)
            if wait is None:
                return
            if wait > 0:
                await asyncio.sleep(wait / 1000)
                continue
            await self.pipeline.settle_next()
