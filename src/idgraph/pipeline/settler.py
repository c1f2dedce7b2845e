"""The settler: deferred ingest batches through the pipeline's stages, oldest first.

Every API process runs one (started by the app's lifespan). It settles the backlog
(pipeline/backlog.py) at once when its own process accepted a batch, and looks for entries
accepted elsewhere (other API processes, `idgraph ingest --defer`) every `poll_seconds`.
Settlers of several processes take turns: each settle locks the backlog's head first.
`idgraph settle` drains the backlog the same way, with a progress bar.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from idgraph.pipeline.pipeline import Pipeline, Settled

log = logging.getLogger("idgraph.pipeline.settler")


async def drain(pipeline: Pipeline, on_settled: Callable[[Settled], None] | None = None
                ) -> list[Settled]:
    """Settle entries until none waits; what was settled (or kept as failed), in order."""
    done = []
    while (settled := await pipeline.settle_next()) is not None:
        done.append(settled)
        if settled.failed:
            log.warning("backlog entry %s kept as failed: %s", settled.seq, settled.failed)
        if on_settled:
            on_settled(settled)
    return done


@dataclass
class Settler:
    pipeline: Pipeline
    poll_seconds: float
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
                await drain(self.pipeline)
            except Exception:  # noqa: BLE001 - the loop must survive a bad round
                log.exception("settling the ingest backlog failed; retrying next round")
