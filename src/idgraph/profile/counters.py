"""Dashboard counters kept current by every write (the pipeline's counters stage), so that
`metrics` reads a few hundred small nodes instead of the whole graph.

(:Counter {id: 'kind|name|shard', kind, name, shard, n}) per figure and shard, kind one of
`size` (profiles of that many members), `namespace` (identities in profiles), `type` (events).
A write adds its deltas to one of SHARDS shards picked at random, so concurrent ingest batches
rarely wait on one another; a read sums the shards. Each write first locks its shard's
(:CounterShard) node; the one-time backfill (graphs from before the counters, or emptied
ones) locks every shard before it counts, so no write is counted twice or lost. Test profiles
are left out at read time: they are found from their flagged records (few), and subtracted.
"""

from __future__ import annotations

import random
from collections import Counter as Tally
from dataclasses import dataclass
from typing import Any

from idgraph.db.graph import Graph, Tx
from idgraph.pipeline.changeset import ChangeSet
from idgraph.profile import repository as q

SHARDS = 16


@dataclass(frozen=True)
class Counters:
    """The pipeline stage applying one write's deltas to the counters."""

    name: str = "counters"

    async def __call__(self, tx: Tx, change: ChangeSet) -> None:
        ids, shard = sorted(_profiles_changed(change)), random.randrange(SHARDS)
        if not (ids or change.fresh or change.events_stored or change.removed_sizes
                or change.removed_namespaces or change.removed_event_types):
            return  # nothing counted changed (a re-ingest of known items): no round trip
        [[ready, pairs]] = await tx.values(q.COUNTER_SIZES, shard=shard, ids=ids,
                                           now=change.now)
        if not ready:
            return  # not backfilled yet: the backfill will count this write
        rows = _delta_rows(deltas(change, pairs), shard)
        if rows:
            await tx.run(q.ADD_COUNTERS, rows=rows)


def _profiles_changed(change: ChangeSet) -> set[str]:
    """Every profile whose member count may have changed (merged-away ids too)."""
    return (change.changed_profiles() | {old for old, _ in change.report.merged}) - change.deleted


def deltas(change: ChangeSet, pairs: list[list[int | None]]) -> dict[tuple[str, str], int]:
    """(kind, name) -> delta, from the profiles' (old, new) counted sizes and what the write
    created or removed."""
    tally: Tally[tuple[str, str]] = Tally()
    for old, new in pairs:
        if old:
            tally[("size", str(old))] -= 1
        if new:
            tally[("size", str(new))] += 1
    for size in change.removed_sizes:
        tally[("size", str(size))] -= 1
    for key in change.fresh:
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
