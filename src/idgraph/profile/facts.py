"""Profile facts kept current by every write (the pipeline's second stage): test flags on new
records, and the computed-attribute states new events (or a backfill's past ones) feed; and
the job that backfills a new computed attribute."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from idgraph.db.graph import Tx
from idgraph.identity.items import Item
from idgraph.pipeline.changeset import Backfill, ChangeSet
from idgraph.profile import computed as c
from idgraph.profile import repository as q

if TYPE_CHECKING:
    from idgraph.jobs.service import Advance, Job
    from idgraph.pipeline.pipeline import Pipeline

COMPUTED_BACKFILL = "computed_backfill"


@dataclass(frozen=True)
class Facts:
    """The pipeline's second stage: test flags of new records, computed values of new events
    (and of a backfill's past events)."""

    name: str = "facts"

    async def __call__(self, tx: Tx, change: ChangeSet) -> None:
        await flag_test_records(tx, change.items)
        await fold_events(tx, change.items, change.now)
        if change.backfill is not None:
            await write_states(tx, [change.backfill.definition], change.backfill.events,
                               change.now, dedupe=True)


def says_test(payload: str) -> bool:
    """Does a record's attributes JSON mark its profile as test data (`testProfile: true`)?"""
    # Cheap pre-check before parsing: most records never mention the flag.
    return '"testProfile"' in payload and json.loads(payload).get("testProfile") is True


async def flag_test_records(tx: Tx, items: list[Item]) -> None:
    """Records that say they are test data carry a flag (IS_TEST never parses JSON)."""
    test_keys = [it.key for it in items if it.kind == "record" and says_test(it.payload)]
    if test_keys:
        await tx.run(q.FLAG_TEST_RECORDS, keys=test_keys)


async def fold_events(tx: Tx, items: list[Item], now: int) -> None:
    """Fold new events into the states of every stored definition."""
    events = [c.EventFact(it.key, it.event_type or "", it.ts, json.loads(it.payload),
                          tuple(it.identity_keys)) for it in items if it.kind == "event"]
    if events:
        definitions = [c.Definition.from_row(r["d"]) for r in await tx.run(q.LIST_DEFINITIONS)]
        await write_states(tx, definitions, events, now)


async def write_states(tx: Tx, definitions: list[c.Definition], events: list[c.EventFact],
                       now: int, dedupe: bool = False) -> None:
    """Append the events' contributions; `dedupe`: skip events a state already holds."""
    rows = c.state_rows(definitions, events, now)
    if rows:
        await tx.run(q.WRITE_STATES, rows=rows, dedupe=dedupe)


@dataclass(frozen=True)
class ComputedBackfill:
    """The job filling a new computed attribute from the events already in its window: events
    in key order, one pipeline write per chunk; the definition is read (`ready`) once done."""

    pipeline: Pipeline
    kind: str = COMPUTED_BACKFILL

    async def total(self, job: Job) -> int | None:
        return None  # counting the window's events would cost a pass of its own

    async def chunk(self, job: Job, cursor: str, limit: int, advance: Advance
                    ) -> tuple[str, bool]:
        name = job.params["name"]

        async def work(tx: Tx) -> ChangeSet:
            change = ChangeSet(cause=f"job:{job.id}")
            found = await tx.run(q.GET_DEFINITION, name=name)
            if not found:  # deleted meanwhile: nothing left to fill
                change.counts["events"] = 0
                return change
            definition = c.Definition.from_row(found[0]["d"])
            rows = await tx.run(q.EVENTS_FOR_BACKFILL, type=definition.event_type,
                                cutoff=change.now - definition.lookback_ms, after=cursor,
                                limit=limit)
            facts = [c.EventFact(r["key"], definition.event_type, r["ts"],
                                 json.loads(r["properties"] or "{}"), tuple(r["keys"]))
                     for r in rows]
            change.backfill = Backfill(definition, facts)
            change.counts["events"] = len(rows)
            if rows:
                await advance(tx, rows[-1]["key"], len(rows))
            return change

        change = await self.pipeline.write(work)
        events = change.backfill.events if change.backfill else []
        return (events[-1].key if events else cursor), change.counts["events"] < limit

    async def finish(self, job: Job) -> None:
        await self.pipeline.graph.write(q.DEFINITION_READY, name=job.params["name"])
