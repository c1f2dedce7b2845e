"""The ingest backlog: batches a deferred ingest accepted, waiting for the pipeline's stages.

A deferred ingest (`ingestDeferred`, `idgraph ingest --defer`) commits, per batch, what the
batch says (records, events, identities, link evidence, the identity counters) and one entry
here, and answers. The settler (pipeline/settler.py) later takes the oldest entries (up to a
few thousand items together), runs them as one change through every stage (re-cluster, facts,
views, segments, counters) in a transaction of its own, publishes the change on the feed and
deletes the entries in the same commit. That is how Adobe's
streaming ingestion works too (the collection endpoint answers; the profile follows within 15
minutes at p95): a partner's load is acknowledged at the speed of its evidence, and the
profiles follow in seconds.

Model: (:BacklogEntry {seq, acceptedAt, items, body})   one accepted batch, `body` its JSON
       (:BacklogHead {name, lockedAt})                   locked by each settle: one at a time
An entry that cannot be settled (a component too large to re-cluster, say) is kept with
`failedAt`, `code` and `error`, skipped by later settles, and settled again after
`retry_failed` (once the cause is dealt with, e.g. an unlink). Values are parameters.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import orjson

from idgraph.clock import now_ms
from idgraph.db.graph import Graph, Tx
from idgraph.identity.items import Item
from idgraph.identity.normalise import IdentityKey
from idgraph.pipeline.changeset import ChangeSet

# acceptedAt: the server's clock, so settlers on hosts with skewed clocks agree on ages.
ENQUEUE = """
CREATE (:BacklogEntry {seq: $seq, acceptedAt: timestamp(), items: $items, body: $body})
"""
# How long ago the oldest and the newest waiting entry were accepted (the settler's pacing).
AGES = """
MATCH (b:BacklogEntry) WHERE b.failedAt IS NULL
WITH count(b) AS entries, min(b.acceptedAt) AS oldest, max(b.acceptedAt) AS newest
RETURN entries, timestamp() - oldest AS oldestAge, timestamp() - newest AS newestAge
"""
# Lock the head first: a second settler waits for this commit, then takes the next entries
# (the deleted ones are gone for it). The oldest entry, and the ones after it while their
# items add up to at most $maxItems (at most $maxEntries in all). Deleted here, so the commit
# that settles them removes them.
TAKE = """
MERGE (h:BacklogHead {name: 'ingest'})
SET h.lockedAt = timestamp()
WITH h
MATCH (b:BacklogEntry) WHERE b.seq IS NOT NULL AND b.failedAt IS NULL
WITH b ORDER BY b.seq LIMIT $maxEntries
WITH collect(b) AS oldest
UNWIND range(0, size(oldest) - 1) AS n
WITH oldest[n] AS b, n, reduce(sum = 0, e IN oldest[0..n + 1] | sum + e.items) AS upTo
WHERE n = 0 OR upTo <= $maxItems
WITH b, b.seq AS seq, b.body AS body, b.acceptedAt AS acceptedAt
DELETE b
RETURN seq, body, acceptedAt
ORDER BY seq
"""
WAITING = """
OPTIONAL MATCH (b:BacklogEntry) WHERE b.failedAt IS NULL
WITH b LIMIT 1
RETURN b IS NOT NULL AS waiting
"""
FAIL = """
MATCH (b:BacklogEntry {seq: $seq})
SET b.failedAt = $now, b.code = $code, b.error = $error
"""
RETRY_FAILED = """
MATCH (b:BacklogEntry) WHERE b.failedAt IS NOT NULL
REMOVE b.failedAt, b.code, b.error
RETURN count(b) AS entries
"""
STATUS = """
CALL () {
  MATCH (b:BacklogEntry) WHERE b.failedAt IS NULL
  RETURN count(b) AS entries, coalesce(sum(b.items), 0) AS items,
         min(b.acceptedAt) AS oldestAcceptedAt
}
CALL () {
  MATCH (b:BacklogEntry) WHERE b.failedAt IS NOT NULL
  WITH b ORDER BY b.seq LIMIT $failedLimit
  RETURN collect({seq: b.seq, acceptedAt: b.acceptedAt, failedAt: b.failedAt, items: b.items,
                  code: b.code, error: b.error}) AS failed
}
RETURN entries, items, oldestAcceptedAt, failed
"""


@dataclass(frozen=True)
class Failed:
    """An entry the settler could not settle, and why (`code`: the error's stable code)."""

    seq: int
    accepted_at: int
    failed_at: int
    items: int
    code: str
    error: str


@dataclass(frozen=True)
class Status:
    """The backlog now: entries waiting (their items, the oldest one's acceptance time, epoch
    ms) and the failed ones (the first 100)."""

    entries: int
    items: int
    oldest_accepted_at: int | None
    failed: list[Failed]


@dataclass(frozen=True)
class Ages:
    """Waiting entries, and how long ago (ms, the server's clock) the oldest and the newest
    were accepted."""

    entries: int
    oldest_ms: int = 0
    newest_ms: int = 0


@dataclass(frozen=True)
class Taken:
    """The oldest waiting entries, taken (deleted) in the settle's transaction: `seqs` in
    acceptance order, the oldest one's acceptance time, and one change holding them all."""

    seqs: list[int]
    accepted_at: int
    change: ChangeSet


def encode(change: ChangeSet) -> bytes:
    """What a settle needs of an accepted batch's change: its cause, seeds and items (the
    expansion rows it read are stale once it commits, so the settle reads its own)."""
    [batch] = change.batches  # an accepted batch's change: its own
    return orjson.dumps({"cause": change.cause, "batch": batch,
                         "seeds": sorted(change.seeds), "items": [
        [it.kind, it.source, it.item_id, it.ts, [[i.namespace, i.value] for i in it.identities],
         it.payload, it.event_type] for it in change.items]})


def decode(bodies: list[str | bytes], now: int) -> ChangeSet:
    """One change of the bodies of entries settled together, in acceptance order: their items
    in that order (each item is in one entry only: a batch holds what it created), their seeds
    and batches. The cause is the oldest entry's, with how many more there are."""
    items, seeds, batches, causes = [], set(), [], []
    for body in bodies:
        data = orjson.loads(body)
        items += [Item(kind, source, item_id, ts,
                       tuple(IdentityKey(n, v) for n, v in identities), payload, event_type)
                  for kind, source, item_id, ts, identities, payload, event_type
                  in data["items"]]
        seeds.update(data["seeds"])
        causes.append(data["cause"])
        if data.get("batch") is not None:
            batches.append(data["batch"])
    cause = causes[0] if len(causes) == 1 else f"{causes[0]}+{len(causes) - 1}"
    return ChangeSet(cause=cause, items=items, seeds=seeds, now=now, batches=tuple(batches),
                     fresh_counted=True)


def next_seq(now: int) -> int:
    """Entries settle in acceptance order: the time in the high digits, a random tie-break
    below (two processes accepting in one millisecond)."""
    return now * 1_000_000 + secrets.randbelow(1_000_000)


@dataclass(frozen=True)
class Backlog:
    graph: Graph
    failed_limit: int = 100

    async def enqueue(self, tx: Tx, change: ChangeSet) -> None:
        """In the accepting transaction: the entry commits with the batch, or neither does."""
        await tx.run(ENQUEUE, seq=next_seq(change.now), items=len(change.items),
                     body=encode(change).decode())

    async def take(self, tx: Tx, max_items: int = 0, max_entries: int = 1) -> Taken | None:
        """The oldest waiting entry, and the next ones while their items add up to at most
        `max_items` (at most `max_entries` in all), deleted in `tx`; None when none waits."""
        rows = await tx.run(TAKE, maxItems=max_items, maxEntries=max(1, max_entries))
        if not rows:
            return None
        return Taken([row["seq"] for row in rows], rows[0]["acceptedAt"],
                     decode([row["body"] for row in rows], now_ms()))

    async def ages(self) -> Ages:
        [row] = await self.graph.read(AGES)
        if not row["entries"]:
            return Ages(0)
        return Ages(row["entries"], row["oldestAge"], row["newestAge"])

    async def waiting(self) -> bool:
        """Whether an entry waits (a read: an idle settler's poll writes nothing)."""
        rows = await self.graph.read(WAITING)
        return bool(rows and rows[0]["waiting"])

    async def fail(self, seq: int, code: str, error: str) -> None:
        await self.graph.write(FAIL, seq=seq, now=now_ms(), code=code, error=error[:2000])

    async def retry_failed(self) -> int:
        """Failed entries wait again; returns how many."""
        rows = await self.graph.write(RETRY_FAILED)
        return int(rows[0]["entries"]) if rows else 0

    async def status(self) -> Status:
        [row] = await self.graph.read(STATUS, failedLimit=self.failed_limit)
        return Status(row["entries"], row["items"], row["oldestAcceptedAt"],
                      [Failed(f["seq"], f["acceptedAt"], f["failedAt"], f["items"], f["code"],
                              f["error"]) for f in row["failed"]])


def counted_now(change: ChangeSet) -> ChangeSet:
    """The part of an accepted batch's change the counters stage counts at acceptance: the
    identities it created (a settle cannot tell them from older ones)."""
    return ChangeSet(cause=change.cause, fresh=set(change.fresh), now=change.now)
