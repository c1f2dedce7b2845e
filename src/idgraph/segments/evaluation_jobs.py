"""Segment evaluations as jobs (status, progress, error; `job(id)`).

- `segment-evaluation` (one segment; params segment, asOf): progress counts memberships
  written, `chunk` per transaction, the job's progress written in the same transaction; a
  step of the job writes one wave of chunks, `concurrency` transactions at a time
  (Evaluator.write_wave).
- `segments-evaluation` (several or all; params segments, asOf): one segment per step, in
  dependency order; progress counts segments.

A failed or interrupted evaluation run again under the same job id ends as an unbroken one
would: memberships carry the run that changed them (segments/transitions.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from idgraph.jobs.service import Advance, Job
from idgraph.segments.evaluation import Evaluator, Prepared

ONE, MANY = "segment-evaluation", "segments-evaluation"


@dataclass
class EvaluateOne:
    """A job evaluating one segment; its batches are its chunks."""

    evaluator: Evaluator
    kind: str = ONE
    _prepared: dict[str, Prepared] = field(default_factory=dict)

    async def total(self, job: Job) -> int | None:
        prepared = await self._prepare(job)
        return prepared.changes.writes

    async def chunk(self, job: Job, cursor: str, limit: int, advance: Advance
                    ) -> tuple[str, bool]:
        # Resumed in a new process, or after a failed wave (`_prepared` dropped): decide again.
        if job.id not in self._prepared:
            cursor = "0"
        prepared = await self._prepare(job)
        start = int(cursor or 0)
        if start >= len(prepared.batches):
            return cursor, True
        end = str(self.evaluator.wave(prepared, start).stop)
        try:
            await self.evaluator.write_wave(prepared, start,
                                            advance=lambda tx, n: advance(tx, end, n))
        except BaseException:
            # Some batches of the wave may have committed (and moved the cursor past the
            # others): a resumed job decides again, which finds what this run already wrote.
            self._prepared.pop(job.id, None)
            raise
        return end, int(end) >= len(prepared.batches)

    async def finish(self, job: Job) -> None:
        prepared = await self._prepare(job)
        await self.evaluator.save(prepared, job.id)
        self._prepared.pop(job.id, None)

    async def _prepare(self, job: Job) -> Prepared:
        if job.id not in self._prepared:
            self._prepared[job.id] = await self.evaluator.prepare(
                job.params["segment"], job.params["asOf"], job.id)
        return self._prepared[job.id]


@dataclass
class EvaluateMany:
    """A job evaluating several segments, included ones first; one segment per chunk."""

    evaluator: Evaluator
    kind: str = MANY
    _order: dict[str, list[str]] = field(default_factory=dict)

    async def total(self, job: Job) -> int | None:
        return len(await self._ordered(job))

    async def chunk(self, job: Job, cursor: str, limit: int, advance: Advance
                    ) -> tuple[str, bool]:
        order = await self._ordered(job)
        index = int(cursor or 0)
        if index >= len(order):
            return cursor, True
        await self.evaluator.evaluate(order[index], job.params["asOf"], job.id, order[:index])
        await self.evaluator.graph.write_tx(lambda tx: advance(tx, str(index + 1), 1))
        return str(index + 1), index + 1 >= len(order)

    async def finish(self, job: Job) -> None:
        self._order.pop(job.id, None)

    async def _ordered(self, job: Job) -> list[str]:
        if job.id not in self._order:
            self._order[job.id] = await self.evaluator.order(job.params.get("segments"))
        return self._order[job.id]
