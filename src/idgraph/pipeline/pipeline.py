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
Each stage locks what it reads before reading it, so concurrent writers never lose an update.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from idgraph.db.graph import Graph, Tx
from idgraph.pipeline.changeset import ChangeSet
from idgraph.pipeline.feed import ChangeFeed


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
class Skipped:
    """A stage left out."""

    name: str

    async def __call__(self, tx: Tx, change: ChangeSet) -> None:
        return None
