"""The backfill of events stored before ingest flattened their properties.

Ingest writes an event's storable property values as node properties `p.<dotted path>` beside
the JSON text (docs/identity.md), and segment rules filter events on those (docs/segments.md);
events stored before that have only the JSON, so no rule on their properties matches them.

The job walks every event in key order, one pipeline write per chunk (resumable at the last key
it committed): an event with properties and none flattened gets them, computed by the function
ingest uses (`event_property_columns`), and the profiles it is about are touched, so streaming
segments re-evaluate them in the same transaction. Run again, it finds nothing to do: an event
already flattened, or with nothing storable, is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from idgraph.db.graph import Graph, Tx
from idgraph.identity.items import event_property_columns
from idgraph.jobs.service import Advance, Job
from idgraph.pipeline.changeset import ChangeSet
from idgraph.pipeline.pipeline import Pipeline
from idgraph.profile import repository as q

EVENT_PROPERTIES = "event_properties"


def columns(properties: str | None) -> dict[str, Any]:
    """The flattened properties of a stored event's JSON (none for unreadable text: an event
    that ingest validated never has any)."""
    try:
        return event_property_columns(properties or "{}")
    except (ValueError, TypeError, AttributeError):
        return {}


@dataclass(frozen=True)
class EventPropertiesBackfill:
    """The job flattening old events' properties (see the module's docstring)."""

    pipeline: Pipeline
    kind: str = EVENT_PROPERTIES

    async def total(self, job: Job) -> int | None:
        return await count_events(self.pipeline.graph)

    async def chunk(self, job: Job, cursor: str, limit: int, advance: Advance
                    ) -> tuple[str, bool]:
        walked: list[str] = []  # the chunk's event keys (set anew if the write runs again)

        async def work(tx: Tx) -> ChangeSet:
            rows = await tx.run(q.EVENTS_TO_FLATTEN, after=cursor, limit=limit)
            walked[:] = [r["key"] for r in rows]
            change = ChangeSet(cause=f"job:{job.id}")
            flat = [{"key": r["key"], "flat": cols} for r in rows
                    if not r["flattened"] and (cols := columns(r["properties"]))]
            if flat:
                await tx.run(q.FLATTEN_EVENTS, rows=flat)
                done = {row["key"] for row in flat}
                change.touched = {p for r in rows if r["key"] in done for p in r["profiles"]}
            change.counts["flattened"] = len(flat)
            if rows:
                await advance(tx, rows[-1]["key"], len(rows))
            return change

        await self.pipeline.write(work)
        return (walked[-1] if walked else cursor), len(walked) < limit

    async def finish(self, job: Job) -> None:
        return None


async def count_events(graph: Graph) -> int:
    return int((await graph.read(q.COUNT_EVENTS))[0]["n"])
