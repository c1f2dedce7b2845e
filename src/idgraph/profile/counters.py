"""Dashboard counters kept current by every write (the pipeline's counters stage), so that
`metrics` reads a few hundred small nodes instead of the whole graph.

(:Counter {id: 'kind|name|shard', kind, name, shard, n}) per figure and shard, kind one of
`size` (profiles of that many members), `namespace` (identities in profiles), `type` (events).
A write adds its deltas to one of SHARDS shards picked at random, so concurrent ingest batches
rarely wait on one another; a read sums the shards. Sizes are profiles' stored `size` (their
members, kept by re-clustering). Each write locks its shard's (:CounterShard) node; the
one-time backfill (graphs from before the counters, or emptied ones) locks every shard before
it counts, so no write is counted twice or lost. Test profiles
are left out at read time: they are found from their flagged records (few), and subtracted.
"""

from __future__ import annotations

import random
from collections import Counter as Tally
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from idgraph.db.graph import Graph, Tx
from idgraph.pipeline.changeset import ChangeSet
from idgraph.profile import repository as q

SHARDS = 16


@dataclass(frozen=True)
class Counters:
    """The pipeline stage applying one write's deltas to the counters: the profile sizes come
    from the re-cluster stage's write-back (its (old, new) sizes), so the stage reads nothing
    and sends one small statement, or none when nothing counted changed."""

    name: str = "counters"

    async def __call__(self, tx: Tx, change: ChangeSet) -> None:
        rows = _delta_rows(deltas(change, change.report.sizes), random.randrange(SHARDS))
        if rows:  # else nothing counted changed (a re-ingest of known items): no round trip
            await tx.run(q.ADD_COUNTERS, rows=rows, shard=rows[0]["shard"], now=change.now)


def deltas(change: ChangeSet, pairs: Sequence[tuple[int | None, int]]
           ) -> dict[tuple[str, str], int]:
    """(kind, name) -> delta, from the profiles' (old, new) sizes and what the write created
    or removed."""
    tally: Tally[tuple[str, str]] = Tally()
    for old, new in pairs:
        if old:
            tally[("size", str(old))] -= 1
        if new:
            tally[("size", str(new))] += 1
    for size in change.removed_sizes:
        tally[("size", str(size))] -= 1
    for key in () if change.fresh_counted else change.fresh:
        tally[("namespace", key.split(":", 1)[0])] += 1
    for namespace in change.removed_namespaces:
        tally[("namespace", namespace)] -= 1
    for item in change.events_stored:
        tally[("type", item.event_type or "")] += 1
    for event_type in change.removed_event_types:
        tally[("type", event_type)] -= 1
    return {k: n for k, n in tally.items() if n}


def _delta_rows(found: dict[tuple[str, str], int], shard: int) -> list[dict[str, Any]]:
    # Sorted, so two writes on one shard lock its counters in the same order (no deadlock).
    return [{"id": f"{kind}|{name}|{shard}", "kind": kind, "name": name, "shard": shard, "d": d}
            for (kind, name), d in sorted(found.items())]


async def read(graph: Graph) -> list[dict[str, Any]]:
    """Summed counters (kind, name, n), backfilled first when they were never computed."""
    rows = await graph.read(q.READ_COUNTERS)
    if rows and rows[0]["ready"]:
        return list(rows[0]["counters"])
    await graph.write_tx(backfill)
    return list((await graph.read(q.READ_COUNTERS))[0]["counters"])


async def backfill(tx: Tx) -> None:
    """Count everything once (one pass over the graph) and mark the counters ready."""
    [[ready]] = await tx.values(q.LOCK_ALL_SHARDS, shards=list(range(SHARDS)), now=0)
    if ready:
        return  # another process backfilled meanwhile
    [[sizes, namespaces, types]] = await tx.values(q.COUNT_ALL)
    found = {("size", str(k)): n for k, n in sizes} | {
        ("namespace", k): n for k, n in namespaces} | {("type", k): n for k, n in types}
    await tx.run(q.RESET_COUNTERS, rows=_delta_rows(found, 0))
