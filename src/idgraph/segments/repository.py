"""All Cypher of segments as objects: the saved segments, their memberships, the scheduler's
lease. Values always travel as parameters.

(:Segment {id, name, description, kind, text, ast, version, createdAt, updatedAt,
           timeDependent, includeTest, mergePolicy, references, size, evaluation, batchOnly})
  kind: absent for a rule's segment, 'imported' for an imported audience (no text, no ast)
(:Profile)-[:IN_SEGMENT {segment, profile, status, since, changedAt, version, run, cause}]->
  (:Segment)
  `cause`: why the status last changed: "evaluation" (batch), the write's cause ("ingest",
  "unlink", ...: streaming) or "merged into <profile id>". A membership of a merged-away id
  stays on its ProfileAlias node, exited, until the retention has passed.
(:Lease {name, holder, expiresAt})

Creating memberships: no writer MERGEs one. A relationship MERGE locks both nodes, and the
segment's node is shared by every writer of its memberships: concurrent ingest batches queued
behind each other's commits. Instead every writer locks the PROFILE (streaming's transaction
already holds it; an evaluation chunk's ENTER takes it), then looks for the profile's
membership and updates it or CREATEs one. Two writers of one profile's membership therefore
take turns, and the second sees what the first committed: never two memberships of one
profile in one segment (tests/test_segment_evaluation_races.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from idgraph.db.graph import Graph, Tx
from idgraph.segments.compiler import CompiledQuery

SEGMENT_FIELDS = """s {.id, .name, .description, .kind, .text, .ast, .version, .createdAt,
  .updatedAt, .timeDependent, .includeTest, .mergePolicy, .references, .size, .evaluation,
  .batchOnly} AS s"""

# Segment definitions change under one lock, so two concurrent updates can never make a cycle
# of inSegment references that neither saw alone, nor take one name twice.
LOCK_CATALOG = "MERGE (c:SegmentCatalog {name: 'segments'}) SET c.lockedAt = $now"
CATALOG = """
MATCH (s:Segment)
RETURN s.id AS id, s.name AS name, s.references AS references, s.timeDependent AS timeDependent
"""
GET = "MATCH (s:Segment {id: $id}) RETURN " + SEGMENT_FIELDS
GET_MANY = "UNWIND $ids AS id MATCH (s:Segment {id: id}) RETURN " + SEGMENT_FIELDS
# Newest last; the cursor is (createdAt, id) so pages never skip or repeat on inserts.
PAGE = """
MATCH (s:Segment)
WHERE $afterAt IS NULL OR s.createdAt > $afterAt OR (s.createdAt = $afterAt AND s.id > $afterId)
RETURN """ + SEGMENT_FIELDS + """
ORDER BY s.createdAt, s.id
LIMIT $limit
"""
CREATE = """
CREATE (s:Segment)
SET s = $props, s.version = 1, s.createdAt = $now, s.updatedAt = $now, s.size = 0
RETURN """ + SEGMENT_FIELDS
# A new version starts with no members: memberships of the old version are no longer read (they
# carry its number) and the next evaluation deletes them.
UPDATE = """
MATCH (s:Segment {id: $id})
SET s += $props, s.version = s.version + 1, s.updatedAt = $now, s.size = 0,
    s.evaluation = null
RETURN """ + SEGMENT_FIELDS
# An imported audience found by name (to import into it again), under the catalog lock.
BY_NAME = "MATCH (s:Segment {name: $name}) RETURN " + SEGMENT_FIELDS
# Identities of an import to their profiles (and whether each is test data); an identity the
# graph does not have returns no row.
RESOLVE_KEYS = """
UNWIND $keys AS key
MATCH (:Identity {key: key})-[:IN_PROFILE]->(p:Profile)
OPTIONAL MATCH (p)-[:VIEW]->(v:ProfileView)
RETURN key, p.id AS profile, coalesce(v._isTest, false) AS isTest
"""
# Name and description only: the members stay (same version).
RENAME = """
MATCH (s:Segment {id: $id})
SET s += $props, s.updatedAt = $now
RETURN """ + SEGMENT_FIELDS
DELETE = "MATCH (s:Segment {id: $id}) DETACH DELETE s RETURN count(*) AS n"
REFERRED_BY = """
MATCH (o:Segment) WHERE $id IN o.references RETURN o.id AS id, o.name AS name ORDER BY o.name
"""
SAVE_EVALUATION = """
MATCH (s:Segment {id: $id}) WHERE s.version = $version
SET s.size = $size, s.evaluation = $evaluation
RETURN count(s) AS n
"""

# A segment's memberships, in chunks (deleting a segment with a million members in one
# transaction would hold them all in memory).
DROP_MEMBERSHIPS = """
MATCH ()-[m:IN_SEGMENT]->() WHERE m.segment = $segment AND m.profile IS NOT NULL
WITH m LIMIT $limit
DELETE m
RETURN count(*) AS n
"""
# Every membership of a segment, for the evaluation's comparison, as ONE row of lists
# [profile, status, version, changedAt, live, run, ref] (the driver's cost is per row: a
# million rows cost seconds). A membership left on a profile id that was merged away (its node
# is now a ProfileAlias) says so in `live`; `ref` is the relationship's element id, by which
# the evaluation's chunks find it again (SET_STATUS).
MEMBERSHIPS = """
MATCH (p)-[m:IN_SEGMENT]->() WHERE m.segment = $segment AND m.profile IS NOT NULL
RETURN collect([m.profile, m.status, m.version, m.changedAt, p:Profile, m.run,
                elementId(m)]) AS rows
"""
# The ids a compiled rule selects, as one row (a compiled rule returns rows `id`).
COLLECT_IDS = """
CALL () {
%s
}
RETURN collect(id) AS ids
"""
# Entries of an evaluation chunk (see the module's docstring): each profile locked, then its
# membership set realized, or created when it has none. A profile streaming decided for since
# `$since` (its `_segmentsAt`, read under the lock) is left alone and returned in `recent`: the
# evaluation decides it again in this transaction (`Evaluator._decide_again`).
ENTER = """
MATCH (s:Segment {id: $segment})
UNWIND $ids AS id
MATCH (p:Profile {id: id})
SET p._locked = true
REMOVE p._locked
WITH s, p, id, coalesce(p._segmentsAt, 0) >= $since AS recent
OPTIONAL MATCH (p)-[held:IN_SEGMENT]->(s)
CALL (s, p, id, held, recent) {
  WITH * WHERE held IS NULL AND NOT recent
  CREATE (p)-[:IN_SEGMENT {segment: $segment, profile: id, status: 'realized', since: $at,
                           changedAt: $at, version: $version, run: $run,
                           cause: 'evaluation'}]->(s)
}
CALL (held, recent) {
  WITH * WHERE held IS NOT NULL AND NOT recent
  SET held.status = 'realized', held.since = $at, held.changedAt = $at,
      held.version = $version, held.run = $run, held.cause = 'evaluation'
}
RETURN collect(CASE WHEN NOT recent THEN id END) AS written,
       collect(CASE WHEN recent THEN id END) AS recent
"""
# Each membership by the element id the evaluation read it with (`rows`: [ref, profile,
# status, version, changedAt] as read), its profile locked, then checked to be unchanged: still
# that profile's membership of the segment (a deleted relationship's id can be reused), with
# the status, version and time read. A membership a write changed since is left as that write
# decided. Not found by the index on (segment, profile): even with an index hint the planner
# could seek on `segment` alone and filter on the profile, reading every membership of the
# segment for each row, and did after the first evaluation of a fresh segment: a chunk of
# 1,000 ran for minutes, a re-evaluation of 250,000 members took 146 s instead of 5
# (bench/results/segments.md). A seek by element id has no other plan; the checks are outside
# the subquery, else the planner folds them into the MATCH and seeks the index again
# (tests/test_segment_plans.py).
_MEMBERSHIP_BY_REF = """
UNWIND $rows AS row
CALL (row) {
  MATCH (p)-[m:IN_SEGMENT]->() WHERE elementId(m) = row[0]
  RETURN p, m
}
SET p._locked = true
REMOVE p._locked
WITH p, m, row
WHERE m.segment = $segment AND m.profile = row[1] AND m.status = row[2]
  AND coalesce(m.version, 0) = row[3] AND coalesce(m.changedAt, 0) = row[4]
"""
# Exits also return in `recent` the profiles streaming decided for since `$since` (see ENTER),
# unchanged: streaming may have found one still a member, which writes nothing.
SET_STATUS = _MEMBERSHIP_BY_REF + """\
WITH m, row, $exit AND coalesce(p._segmentsAt, 0) >= $since AS recent
CALL (m, recent) {
  WITH * WHERE NOT recent
  SET m.status = $status, m.changedAt = $at, m.run = $run, m.cause = 'evaluation'
}
RETURN collect(CASE WHEN NOT recent THEN row[1] END) AS written,
       collect(CASE WHEN recent THEN row[1] END) AS recent
"""
DELETE_MEMBERSHIPS = _MEMBERSHIP_BY_REF + """\
DELETE m
RETURN collect(row[1]) AS written, [] AS recent
"""
# Members in profile id order from the index on (segment, profile): a page costs its own
# rows (plus the memberships of other statuses it skips), never a scan of the segment.
MEMBERS_PAGE = """
// Any node: the exit of a profile id merged away is kept on its ProfileAlias node.
MATCH (p)-[m:IN_SEGMENT]->()
WHERE m.segment = $segment AND m.profile > $after AND m.version = $version
  AND m.status IN $statuses
// Ordered as the index is (segment first, equal here): the planner then reads it in order
// and stops at the page's end (ordered by profile alone, it sorted every membership).
WITH p, m ORDER BY m.segment, m.profile LIMIT $limit
RETURN m.profile AS id, p.primaryKey AS primaryKey, m.status AS status, m.since AS since,
       m.changedAt AS changedAt, m.cause AS cause
"""
# Profile.segments of many profiles in one round trip (a DataLoader's batch).
PROFILE_SEGMENTS = """
UNWIND $ids AS id
MATCH (p:Profile {id: id})-[m:IN_SEGMENT]->(s:Segment)
WHERE m.version = s.version AND m.status IN $statuses
WITH id, m, s ORDER BY s.name
RETURN id, collect({segment: """ + SEGMENT_FIELDS.removesuffix(" AS s") + """,
                    status: m.status, since: m.since, changedAt: m.changedAt}) AS segments
"""
PRIMARY_KEYS = """
UNWIND $ids AS id
MATCH (p:Profile {id: id})
RETURN p.id AS id, p.primaryKey AS primaryKey
"""

# The lease: taken when free, expired or already ours, in one statement. Writing `_takenBy`
# first takes the node's write lock, so a concurrent taker waits for this transaction and then
# reads the holder it committed (a read before the lock could see the lease free in both).
TAKE_LEASE = """
MERGE (l:Lease {name: $name})
  ON CREATE SET l.holder = $holder, l.expiresAt = $until
SET l._takenBy = $holder
WITH l, l.holder = $holder OR l.expiresAt <= $now AS ours
SET l.holder = CASE WHEN ours THEN $holder ELSE l.holder END,
    l.expiresAt = CASE WHEN ours THEN $until ELSE l.expiresAt END
REMOVE l._takenBy
RETURN ours, l.holder AS holder, l.expiresAt AS expiresAt
"""
RELEASE_LEASE = """
MATCH (l:Lease {name: $name}) WHERE l.holder = $holder
SET l.expiresAt = $now
RETURN count(l) AS n
"""

# Streaming (segments/streaming.py): the segments every write evaluates, as one row each.
STREAMING_CATALOG = """
MATCH (s:Segment)
RETURN s.id AS id, s.ast AS ast, s.version AS version, s.includeTest AS includeTest,
       s.references AS references, s.batchOnly AS batchOnly
ORDER BY id
"""
# The memberships a write changed, in one statement: only for the segment version the
# transitions were decided for (a segment changed since by another process writes nothing, and
# the caller's cached list is refreshed). Returns what was written. `seg.run`: the evaluation
# that decided (segments/evaluation.py decides again with this statement), absent for streaming.
# CREATE, not MERGE, for a profile's first membership of a segment: a MERGE of a relationship
# locks both its nodes, so every write that changed a membership held the segment's node until
# it committed, and concurrent ingest batches queued behind one another (a CREATE leaves a
# segment's many-relationship node unlocked). The profile is locked (the pipeline already
# holds it) before its membership is looked for, as every membership writer does (the module's
# docstring). Each segment is found once by its id, each profile by the element id the
# evaluation read in this transaction (a lookup by key in an updating statement is a locking
# index seek, a measurable cost per row).
STREAM_WRITE = """
UNWIND $segments AS seg
MATCH (s:Segment {id: seg.segment}) WHERE s.version = seg.version
UNWIND seg.rows AS row
MATCH (p:Profile) WHERE elementId(p) = row.node
SET p._locked = true
REMOVE p._locked
WITH s, seg, row, p
OPTIONAL MATCH (p)-[held:IN_SEGMENT]->(s)
CALL (p, s, seg, row, held) {
  WITH * WHERE held IS NULL
  CREATE (p)-[:IN_SEGMENT {segment: seg.segment, profile: row.profile, status: row.status,
                           version: seg.version, changedAt: $now, cause: row.cause,
                           since: $now, run: seg.run}]->(s)
}
CALL (seg, row, held) {
  WITH * WHERE held IS NOT NULL
  SET held.status = row.status, held.version = seg.version, held.changedAt = $now,
      held.cause = row.cause, held.run = seg.run,
      held.since = CASE WHEN row.status = 'realized' THEN $now ELSE held.since END
}
RETURN row.profile AS profile, seg.segment AS segment, row.status AS status
"""
# Profiles merged away (now ProfileAlias nodes): every current membership ends, naming the
# survivor. Returns the memberships ended.
EXIT_MERGED = """
UNWIND $rows AS row
MATCH (:ProfileAlias {id: row.old})-[m:IN_SEGMENT]->()
WHERE m.status IN ['realized', 'existing']
SET m.status = 'exited', m.changedAt = $now, m.cause = 'merged into ' + row.into, m.run = null
RETURN row.old AS profile, m.segment AS segment, m.cause AS cause
"""


async def member_ids(graph: Graph, query: CompiledQuery) -> list[str]:
    """The ids of the profiles a compiled rule selects, in order (one auto-commit read)."""
    return [row["id"] for row in await graph.read_plain(query.cypher, **query.params)]


class SegmentRepository:
    """The segment domain's queries, one method per statement."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    async def lock_catalog(self, tx: Tx, now: int) -> list[dict[str, Any]]:
        """Lock segment definitions for this transaction; every segment's references."""
        await tx.run(LOCK_CATALOG, now=now)
        return await tx.run(CATALOG)

    async def get_in(self, tx: Tx, segment_id: str) -> dict[str, Any] | None:
        rows = await tx.run(GET, id=segment_id)
        return dict(rows[0]["s"]) if rows else None

    async def create(self, tx: Tx, props: dict[str, Any], now: int) -> dict[str, Any]:
        return dict((await tx.run(CREATE, props=props, now=now))[0]["s"])

    async def update(self, tx: Tx, segment_id: str, props: dict[str, Any], now: int,
                     new_version: bool) -> dict[str, Any]:
        statement = UPDATE if new_version else RENAME
        return dict((await tx.run(statement, id=segment_id, props=props, now=now))[0]["s"])

    async def delete(self, tx: Tx, segment_id: str) -> None:
        await tx.run(DELETE, id=segment_id)

    async def by_name(self, tx: Tx, name: str) -> dict[str, Any] | None:
        rows = await tx.run(BY_NAME, name=name)
        return dict(rows[0]["s"]) if rows else None

    async def resolve_keys(self, keys: Sequence[str]) -> dict[str, tuple[str, bool]]:
        """Identity key -> (profile id, is test data), for the keys the graph has."""
        rows = await self.graph.read_plain(RESOLVE_KEYS, keys=list(keys))
        return {row["key"]: (row["profile"], bool(row["isTest"])) for row in rows}

    async def catalog(self) -> list[dict[str, Any]]:
        return await self.graph.read_plain(CATALOG)

    async def get(self, segment_id: str) -> dict[str, Any] | None:
        rows = await self.graph.read_plain(GET, id=segment_id)
        return rows[0]["s"] if rows else None

    async def get_many(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = await self.graph.read_plain(GET_MANY, ids=list(ids))
        return {row["s"]["id"]: row["s"] for row in rows}

    async def page(self, limit: int, after: tuple[int, str] | None) -> list[dict[str, Any]]:
        after_at, after_id = after or (None, None)
        rows = await self.graph.read_plain(PAGE, limit=limit, afterAt=after_at,
                                           afterId=after_id)
        return [row["s"] for row in rows]

    async def members_page(self, segment_id: str, version: int, statuses: Sequence[str],
                           after: str, limit: int) -> list[dict[str, Any]]:
        return await self.graph.read_plain(MEMBERS_PAGE, segment=segment_id, version=version,
                                           statuses=list(statuses), after=after, limit=limit)

    async def profile_segments(self, ids: Sequence[str], statuses: Sequence[str],
                               ) -> dict[str, list[dict[str, Any]]]:
        rows = await self.graph.read_plain(PROFILE_SEGMENTS, ids=list(ids),
                                           statuses=list(statuses))
        return {row["id"]: row["segments"] for row in rows}

    async def primary_keys(self, ids: Sequence[str]) -> dict[str, str]:
        rows = await self.graph.read_plain(PRIMARY_KEYS, ids=list(ids))
        return {row["id"]: row["primaryKey"] for row in rows}

    async def memberships(self, segment_id: str) -> list[list[Any]]:
        """Every membership of a segment: [profile, status, version, changedAt, live, run]."""
        rows = await self.graph.read_plain(MEMBERSHIPS, segment=segment_id)
        return list(rows[0]["rows"]) if rows else []

    async def qualifying(self, query: CompiledQuery) -> list[str]:
        """The ids of the profiles a compiled rule selects, in no order (one row, see
        COLLECT_IDS)."""
        rows = await self.graph.read_plain(COLLECT_IDS % query.unordered, **query.params)
        return list(rows[0]["ids"]) if rows else []

    async def save_evaluation(self, segment_id: str, version: int, size: int,
                              evaluation: str) -> bool:
        """Record an evaluation on the segment, unless a new version was saved meanwhile."""
        rows = await self.graph.write(SAVE_EVALUATION, id=segment_id, version=version,
                                      size=size, evaluation=evaluation)
        return bool(rows[0]["n"] > 0)

    async def drop_memberships(self, segment_id: str, chunk: int) -> int:
        """Delete every membership of a segment, `chunk` per transaction; how many."""
        dropped = 0
        while True:
            rows = await self.graph.write(DROP_MEMBERSHIPS, segment=segment_id, limit=chunk)
            n = int(rows[0]["n"])
            dropped += n
            if n < chunk:
                return dropped

    async def referred_by(self, tx: Tx, segment_id: str) -> list[dict[str, Any]]:
        return await tx.run(REFERRED_BY, id=segment_id)

    async def take_lease(self, name: str, holder: str, now: int, until: int) -> bool:
        rows = await self.graph.write(TAKE_LEASE, name=name, holder=holder, now=now,
                                      until=until)
        return bool(rows[0]["ours"])

    async def release_lease(self, name: str, holder: str, now: int) -> bool:
        rows = await self.graph.write(RELEASE_LEASE, name=name, holder=holder, now=now)
        return bool(rows[0]["n"] > 0)
