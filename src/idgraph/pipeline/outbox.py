"""The change feed's outbox in Neo4j: what each committed change did, shared by every API process.

Why an outbox in Neo4j: it is the one thing every deployment of idgraph already has, and an
entry written in the writer's own transaction is published exactly when the write commits
(nothing for a rolled-back write, nothing lost for a committed one); a broker would need a
second system and a two-phase hand-off. Processes with subscribers tail it (pipeline/feed.py).

Cost to writers: one small statement per write transaction, last in it. While nobody listens it
locks one of SHARDS shard nodes and reads the head (no events are built or sent); while someone
does, it also takes the head's next sequence number and stores the events as JSON. The head
stays locked until the commit, so sequence numbers become visible in order and a tailer that
has seen N has seen everything before N.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from idgraph.db.graph import Graph, Tx
from idgraph.pipeline import repository as q
from idgraph.pipeline.changeset import ProfileEvent
from idgraph.pipeline.codec import decode, encode

SHARDS = 16
FEED = "changes"
Events = Sequence[ProfileEvent] | Callable[[], Sequence[ProfileEvent]]


def made(events: Events) -> Sequence[ProfileEvent]:
    return events() if callable(events) else events


@dataclass(frozen=True)
class Position:
    """Where the feed stands: its epoch (new when the feed was emptied) and last number."""

    epoch: str | None
    seq: int


@dataclass
class Outbox:
    graph: Graph
    listen_ms: int = 30_000  # a listener's registration lasts this long from each renewal
    retention_ms: int = 600_000  # entries older than this are pruned
    # Whether the last write found a listener: if so the next sends its events at once,
    # otherwise it sends none and adds them in a second statement only if one turned up.
    _listening: bool = False

    async def record(self, tx: Tx, events: Events) -> None:
        """Inside a writer's transaction, last: the change's entry, if anyone listens."""
        built = made(events) if self._listening else None
        [[listening]] = await tx.values(q.RECORD, name=FEED, shard=random.randrange(SHARDS),
                                        events=encode(built) if built else None)
        self._listening = bool(listening)
        if listening and built is None and (built := made(events)):
            await tx.run(q.APPEND, name=FEED, events=encode(built))

    async def append(self, events: Events) -> None:
        """A change already committed (writers outside the pipeline), in its own transaction."""
        await self.graph.write_tx(lambda tx: self.record(tx, events))

    async def listen(self) -> Position:
        """Register (or renew) this process as listening; returns where the feed stands, every
        write in flight committed."""
        rows = await self.graph.write(q.LISTEN, name=FEED, shards=list(range(SHARDS)),
                                      ttl=self.listen_ms)
        return Position(rows[0]["epoch"], rows[0]["seq"])

    async def poll(self, after: int, limit: int = 200
                   ) -> tuple[Position, list[tuple[int, list[ProfileEvent]]]]:
        """Entries after `after`, in order, and where the feed stands."""
        rows = await self.graph.read_plain(q.POLL, name=FEED, after=after, limit=limit)
        row: dict[str, Any] = rows[0]
        entries = [(seq, decode(text)) for seq, text in row["entries"]]
        return Position(row["epoch"], row["seq"] or 0), entries

    async def prune(self, limit: int = 10_000) -> int:
        rows = await self.graph.write(q.PRUNE, retention=self.retention_ms, limit=limit)
        return int(rows[0]["pruned"]) if rows else 0
