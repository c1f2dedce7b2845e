"""The one path of every write: the writer's own statements, then the stages in a fixed order,
all in one transaction; after the commit, the change feed.

    writer (ingest, unlink, deletion, view rebuild, computed backfill)
      -> 1. re-cluster          (identity/clustering.py)
      -> 2. profile facts       (test flags, computed values: profile/facts.py)
      -> 3. materialised views  (profile/materialise.py)
      -> 4. segment membership  (streaming segments: segments/streaming.py)
      -> 5. counters            (dashboard metrics: profile/counters.py)
      -> commit
      -> change feed            (pipeline/feed.py: profileChanged, audienceMembership)

A dry run runs the same stages in a transaction that is rolled back, and publishes nothing.
A deferred write (`defer`: the deferred ingest) commits the writer's statements and an entry of
the backlog (pipeline/backlog.py); `settle_next` later runs the oldest entries (up to
`settle_max_items` items) through the stages as one change, in a transaction of its own, and
publishes it.
Each stage locks what it reads before reading it, so concurrent writers never lose an update.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from idgraph.db.graph import Graph, Tx
from idgraph.errors import IdgraphError
from idgraph.pipeline.backlog import Backlog, counted_now
from idgraph.pipeline.changeset import ChangeSet
from idgraph.pipeline.feed import ChangeFeed

log = logging.getLogger("idgraph.pipeline")
# At most this many backlog entries settle in one transaction (TAKE weighs each prefix).
SETTLE_MAX_ENTRIES = 50


class Stage(Protocol):
    """One step every write goes through, inside the writer's transaction."""

    @property
    def name(self) -> str: ...

    async def __call__(self, tx: Tx, change: ChangeSet) -> None: ...


@dataclass(frozen=True)
class Pipeline:
    graph: Graph
    feed: ChangeFeed
    recluster: Stage
    facts: Stage
    views: Stage
    # Segment membership: stages that keep audiences current from the change set (and the
    # views written just before). Registered by the segments domain in services.py.
    segments: Sequence[Stage] = ()
    # Dashboard counters (profile/counters.py): last, once every member count is final.
    counters: Stage | None = None
    # Called after each deferred write commits (the settler's wake-up: pipeline/settler.py).
    on_deferred: list[Callable[[], None]] = field(default_factory=list)
    # Completes a settled entry's change with what its batch's transaction had read (the
    # identity domain's prepare_settle, given by services.py): the stages then take the same
    # shortcuts as in an immediate ingest.
    prepare_settle: Callable[[Tx, ChangeSet], Awaitable[None]] | None = None
    # A settle takes the oldest waiting entry and the next ones up to this many items in all
    # (at most SETTLE_MAX_ENTRIES entries): one transaction for several small batches, and a
    # person whose records came in several calls settles as one (bench/results/
    # scale-1000000.md, session 20). 0: one entry per settle.
    settle_max_items: int = 5000

    @property
    def backlog(self) -> Backlog:
        return Backlog(self.graph)

    @property
    def stages(self) -> tuple[Stage, ...]:
        """The stages in the order they run."""
        last = () if self.counters is None else (self.counters,)
        return (self.recluster, self.facts, self.views, *self.segments, *last)

    async def apply(self, tx: Tx, change: ChangeSet) -> ChangeSet:
        """Run every stage on `change` inside `tx` (the writer's transaction)."""
        for stage in self.stages:
            await stage(tx, change)
        return change

    async def write(self, work: Callable[[Tx], Awaitable[ChangeSet]],
                    dry_run: bool = False) -> ChangeSet:
        """`work` (the writer's statements, returning what it changed), then the stages, in one
        transaction; committed and published, or rolled back for a dry run. `work` runs again
        on transient errors, so it must start from nothing each time."""
        async def in_transaction(tx: Tx) -> ChangeSet:
            return await self.apply(tx, await work(tx))

        async def published(tx: Tx) -> ChangeSet:
            change = await in_transaction(tx)
            await self.feed.record(tx, change.events)  # committed with the write, or not at all
            return change

        if dry_run:
            return await self.graph.rolled_back_tx(in_transaction)
        change = await self.graph.write_tx(published)
        self.feed.committed(change.events)
        return change

    async def defer(self, work: Callable[[Tx], Awaitable[ChangeSet]]) -> ChangeSet:
        """`work` (a deferred ingest batch's statements) and its backlog entry, in one
        transaction; the stages run when the entry is settled (`settle_next`). The identities
        it created are counted now: a settle cannot tell them from older ones."""
        async def accepted(tx: Tx) -> ChangeSet:
            change = await work(tx)
            if change.items:
                await self.backlog.enqueue(tx, change)
                if self.counters is not None and change.fresh:
                    await self.counters(tx, counted_now(change))
            return change

        change = await self.graph.write_tx(accepted)
        if change.items:
            for wake in self.on_deferred:
                wake()
        return change

    async def settle_next(self) -> Settled | None:
        """The oldest waiting backlog entries (up to `settle_max_items` items) through every
        stage as one change, committed (the entries deleted with it) and published; None when
        nothing waits. When the stages refuse entries settled together (an IdgraphError: a
        component too large to re-cluster, say), the oldest one is settled alone; when they
        refuse it alone, it is kept as failed, with why, and later ones go on."""
        if not await self.backlog.waiting():
            return None
        return await self._settle(self.settle_max_items)

    async def _settle(self, max_items: int) -> Settled | None:
        taken = None

        async def work(tx: Tx) -> ChangeSet:
            nonlocal taken
            taken = await self.backlog.take(tx, max_items, SETTLE_MAX_ENTRIES)
            if taken is None:
                return ChangeSet(cause="settle")
            if self.prepare_settle is not None:
                await self.prepare_settle(tx, taken.change)
            return taken.change

        try:
            change = await self.write(work)
        except IdgraphError as exc:
            if taken is None:
                raise
            if len(taken.seqs) > 1:  # rolled back: the entries wait; the oldest goes alone
                return await self._settle(0)
            await self.backlog.fail(taken.seqs[0], exc.code, str(exc))
            log.warning("backlog entry %s kept as failed: %s", taken.seqs[0], exc.code)
            return Settled(taken.seqs, taken.accepted_at, len(taken.change.items), exc.code)
        if taken is None:
            return None
        return Settled(taken.seqs, taken.accepted_at, len(change.items))

    def without(self, name: str) -> Pipeline:
        """This pipeline with one stage replaced by a no-op (benchmarks' A/B runs)."""
        skipped = Skipped(name)
        if name == "recluster":
            return replace(self, recluster=skipped)
        if name == "facts":
            return replace(self, facts=skipped)
        if name == "views":
            return replace(self, views=skipped)
        if name == "counters":
            return replace(self, counters=skipped)
        return replace(self, segments=[s for s in self.segments if s.name != name])


@dataclass(frozen=True)
class Settled:
    """Backlog entries settled together, or one entry kept as failed (`failed`: the code of
    why it could not be settled)."""

    seqs: list[int]
    accepted_at: int
    items: int
    failed: str | None = None

    @property
    def entries(self) -> int:
        return len(self.seqs)


@dataclass(frozen=True)
class Skipped:
    """A stage left out."""

    name: str

    async def __call__(self, tx: Tx, change: ChangeSet) -> None:
        return None
