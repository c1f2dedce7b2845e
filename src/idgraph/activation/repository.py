"""Every Cypher statement of activation. Values are parameters; nothing is formatted in.

(:Destination {id, name, kind, location, format, headers (JSON: name -> sealed value), secret
               (sealed), secretsSealed (absent: clear, from an earlier version), batchSize,
               createdAt, updatedAt})
(:Activation {id, segment, destination, namespaces, attributes, schedule, everySeconds, mode,
              createdAt, updatedAt, lastRunAt})
(:ExportRun {id (= its job's id), stream, activation, destination, segment, mode, location,
             since, until, createdAt, succeeded, finishedAt})
A run's progress and counts are its (:Job)'s (jobs/): the job's cursor carries them, written in
the transaction that records each delivered batch. `stream` names what incremental runs
continue from: the activation, or an ad-hoc export's segment and location.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from idgraph.db.graph import Graph

DESTINATION_FIELDS = "d {.*} AS d"
CREATE_DESTINATION = """
CREATE (d:Destination)
SET d = $props, d.createdAt = $now, d.updatedAt = $now
RETURN """ + DESTINATION_FIELDS
UPDATE_DESTINATION = """
MATCH (d:Destination {id: $id})
SET d += $props, d.updatedAt = $now
RETURN """ + DESTINATION_FIELDS
GET_DESTINATION = "MATCH (d:Destination {id: $id}) RETURN " + DESTINATION_FIELDS
# Key rotation: the same values sealed again, unless the destination changed meanwhile.
RESEAL_DESTINATION = """
MATCH (d:Destination {id: $id}) WHERE coalesce(d.updatedAt, 0) = $updatedAt
SET d.headers = $headers, d.secret = $secret, d.secretsSealed = true
RETURN count(d) AS n
"""
# Destinations an earlier version wrote (secrets and header values in clear).
CLEAR_DESTINATIONS = """
MATCH (d:Destination) WHERE d.secretsSealed IS NULL
RETURN """ + DESTINATION_FIELDS + " LIMIT $first"
LIST_DESTINATIONS = """
MATCH (d:Destination) RETURN """ + DESTINATION_FIELDS + """ ORDER BY d.createdAt, d.id
LIMIT $first
"""
DELETE_DESTINATION = """
MATCH (d:Destination {id: $id})
OPTIONAL MATCH (a:Activation {destination: $id})
WITH d, count(a) AS used
CALL (d, used) { WITH d, used WHERE used = 0 DETACH DELETE d }
RETURN used
"""

ACTIVATION_FIELDS = "a {.*} AS a"
CREATE_ACTIVATION = """
MATCH (:Segment {id: $props.segment}), (:Destination {id: $props.destination})
CREATE (a:Activation)
SET a = $props, a.createdAt = $now, a.updatedAt = $now
RETURN """ + ACTIVATION_FIELDS
GET_ACTIVATION = "MATCH (a:Activation {id: $id}) RETURN " + ACTIVATION_FIELDS
LIST_ACTIVATIONS = """
MATCH (a:Activation) WHERE $segment IS NULL OR a.segment = $segment
RETURN """ + ACTIVATION_FIELDS + " ORDER BY a.createdAt, a.id LIMIT $first"
DELETE_ACTIVATION = "MATCH (a:Activation {id: $id}) DELETE a RETURN count(*) AS n"
SCHEDULED_ACTIVATIONS = """
MATCH (a:Activation) WHERE a.schedule IN ['interval', 'on_change']
RETURN """ + ACTIVATION_FIELDS
TOUCH_ACTIVATION = "MATCH (a:Activation {id: $id}) SET a.lastRunAt = $now"
# Has any membership of the segment changed since `since` (an on-change activation is due)?
# The first one found answers: counting them all read every membership of a changed segment.
CHANGED_SINCE = """
MATCH ()-[m:IN_SEGMENT]->() WHERE m.segment = $segment AND m.profile IS NOT NULL
  AND m.changedAt > $since
WITH m LIMIT 1
RETURN count(m) > 0 AS changed
"""

CREATE_RUN = """
CREATE (r:ExportRun)
SET r = $props, r.createdAt = $now, r.succeeded = false
RETURN r {.*} AS r
"""
GET_RUNS = "UNWIND $ids AS id MATCH (r:ExportRun {id: id}) RETURN r {.*} AS r"
LIST_RUNS = """
MATCH (r:ExportRun) WHERE $activation IS NULL OR r.activation = $activation
RETURN r {.*} AS r ORDER BY r.createdAt DESC, r.id LIMIT $first
"""
FINISH_RUN = """
MATCH (r:ExportRun {id: $id}) SET r.succeeded = true, r.finishedAt = $now
"""
# Where the next incremental run of a stream starts: the end of its last successful run.
WATERMARK = """
MATCH (r:ExportRun {stream: $stream, succeeded: true})
RETURN max(r.until) AS watermark
"""

# The rows of a segment export, in profile id order after `after` (keyset paging through the
# index on (segment, profile): a page costs its own rows, at any depth). Full: the current
# members. Incremental ($since given): members who entered in (since, until] and exits in
# (since, until] of profiles that were members at `since` (one that came and went between two
# runs is news to no one). A membership left on a merged-away id has no identities: skipped.
SEGMENT_FILTER = """
MATCH (p)-[m:IN_SEGMENT]->()
WHERE m.segment = $segment AND m.profile > $after AND m.version = $version
  AND CASE WHEN $since IS NULL THEN m.status IN ['realized', 'existing']
      ELSE (m.status IN ['realized', 'existing'] AND m.since > $since AND m.since <= $until)
        OR (m.status = 'exited' AND m.changedAt > $since AND m.changedAt <= $until
            AND m.since <= $since) END
"""
SEGMENT_PAGE = SEGMENT_FILTER + """
WITH p, m ORDER BY m.segment, m.profile LIMIT $limit
OPTIONAL MATCH (p)-[:VIEW]->(v:ProfileView)
RETURN m.profile AS id, m.status AS status, m.changedAt AS changedAt, v._json AS json,
       [(p)<-[:IN_PROFILE]-(i:Identity) WHERE i.namespace IN $namespaces | i.key] AS keys
"""
SEGMENT_COUNT = SEGMENT_FILTER + "RETURN count(m) AS n"
# Every profile, in id order (the unique index on Profile.id), with its current segments.
PROFILE_PAGE = """
MATCH (p:Profile) WHERE p.id > $after
WITH p ORDER BY p.id LIMIT $limit
OPTIONAL MATCH (p)-[:VIEW]->(v:ProfileView)
RETURN p.id AS id, v._json AS json,
       [(p)<-[:IN_PROFILE]-(i:Identity) WHERE i.namespace IN $namespaces | i.key] AS keys,
       [(p)-[m:IN_SEGMENT]->(s:Segment) WHERE m.version = s.version
          AND m.status IN ['realized', 'existing'] | s.id] AS segments
"""
PROFILE_COUNT = "MATCH (p:Profile) RETURN count(p) AS n"


class ActivationRepository:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    async def one(self, statement: str, key: str, **params: Any) -> dict[str, Any] | None:
        rows = await self.graph.write(statement, **params)
        return dict(rows[0][key]) if rows else None

    async def read_one(self, statement: str, key: str, **params: Any
                       ) -> dict[str, Any] | None:
        rows = await self.graph.read_plain(statement, **params)
        return dict(rows[0][key]) if rows else None

    async def read_all(self, statement: str, key: str, **params: Any) -> list[dict[str, Any]]:
        return [dict(r[key]) for r in await self.graph.read_plain(statement, **params)]

    async def delete_destination(self, destination_id: str) -> int:
        """How many activations use it (then it was not deleted)."""
        rows = await self.graph.write(DELETE_DESTINATION, id=destination_id)
        return int(rows[0]["used"]) if rows else 0

    async def delete_activation(self, activation_id: str) -> bool:
        rows = await self.graph.write(DELETE_ACTIVATION, id=activation_id)
        return bool(rows[0]["n"])

    async def touch(self, activation_id: str, now: int) -> None:
        await self.graph.write(TOUCH_ACTIVATION, id=activation_id, now=now)

    async def changed_since(self, segment: str, since: int) -> bool:
        rows = await self.graph.read_plain(CHANGED_SINCE, segment=segment, since=since)
        return bool(rows and rows[0]["changed"])

    async def watermark(self, stream: str) -> int | None:
        rows = await self.graph.read_plain(WATERMARK, stream=stream)
        value = rows[0]["watermark"] if rows else None
        return None if value is None else int(value)

    async def finish_run(self, run_id: str, now: int) -> None:
        await self.graph.write(FINISH_RUN, id=run_id, now=now)

    async def runs(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = await self.graph.read_plain(GET_RUNS, ids=list(ids))
        return {r["r"]["id"]: dict(r["r"]) for r in rows}

    async def segment_page(self, params: dict[str, Any], after: str, limit: int
                           ) -> list[dict[str, Any]]:
        return await self.graph.read_plain(SEGMENT_PAGE, after=after, limit=limit, **params)

    async def segment_count(self, params: dict[str, Any]) -> int:
        query = {k: v for k, v in params.items() if k != "namespaces"}
        rows = await self.graph.read_plain(SEGMENT_COUNT, after="", **query)
        return int(rows[0]["n"])

    async def profile_page(self, namespaces: Sequence[str], after: str, limit: int
                           ) -> list[dict[str, Any]]:
        return await self.graph.read_plain(PROFILE_PAGE, after=after, limit=limit,
                                           namespaces=list(namespaces))

    async def profile_count(self) -> int:
        return int((await self.graph.read_plain(PROFILE_COUNT))[0]["n"])
