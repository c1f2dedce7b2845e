"""Every Cypher statement of the identity graph. Values are parameters; nothing is formatted in.

Model: (:Identity {key, namespace, value, firstSeen, lastSeen, createdBatch})
       -[:LINK {source, firstSeen, lastSeen, count, firstRecordId, lastRecordId, batch,
                status: active|refused|unlinked, reason}]-> (:Identity)   (one per pair and source)
       (:Identity)-[:IN_PROFILE]->(:Profile {id, createdAt, updatedAt, size, primaryKey})
       (:ProfileAlias {id, mergedInto, at})  a retired profile id, resolvable forever
       (:Record {key, source, recordId, ts, attributes})-[:KEYED_BY]->(:Identity)
       (:Event {key, source, eventId, type, ts, properties})-[:ABOUT]->(:Identity)
       (:ClusterChange {profileId, at, kind, related, reason})
Times are epoch milliseconds.
"""

from __future__ import annotations

# Claim item keys; only the ones this transaction created are processed (idempotent re-ingest).
CLAIM_RECORDS = """
UNWIND $rows AS row
MERGE (r:Record {key: row.key})
  ON CREATE SET r.source = row.source, r.recordId = row.id, r.ts = row.ts,
                r.attributes = row.payload, r.batch = $batch, r.ingestedAt = $now
RETURN row.key AS key, r.batch = $batch AS created
"""
CLAIM_EVENTS = """
UNWIND $rows AS row
MERGE (e:Event {key: row.key})
  ON CREATE SET e.source = row.source, e.eventId = row.id, e.ts = row.ts, e.type = row.type,
                e.properties = row.payload, e.batch = $batch, e.ingestedAt = $now
RETURN row.key AS key, e.batch = $batch AS created
"""
# One row per (item, identity): merge the identity and attach the item to it. Returns each
# identity once: whether this batch created it, and the profile it is in (None when new).
ATTACH_RECORD_IDENTITIES = """
UNWIND $rows AS row
MERGE (i:Identity {key: row.identity})
  ON CREATE SET i.namespace = row.namespace, i.value = row.value, i.firstSeen = row.ts,
                i.lastSeen = row.ts, i.createdBatch = $batch
  ON MATCH SET i.lastSeen = CASE WHEN row.ts > i.lastSeen THEN row.ts ELSE i.lastSeen END,
               i.firstSeen = CASE WHEN row.ts < i.firstSeen THEN row.ts ELSE i.firstSeen END
WITH i, row
MATCH (r:Record {key: row.item})
MERGE (r)-[:KEYED_BY]->(i)
WITH DISTINCT i
OPTIONAL MATCH (i)-[:IN_PROFILE]->(p:Profile)
RETURN i.key AS key, i.createdBatch = $batch AS created, p.id AS profileId
"""
ATTACH_EVENT_IDENTITIES = ATTACH_RECORD_IDENTITIES.replace(
    "MATCH (r:Record {key: row.item})\nMERGE (r)-[:KEYED_BY]->(i)",
    "MATCH (r:Event {key: row.item})\nMERGE (r)-[:ABOUT]->(i)",
)
# One row per (item, pair): the pair's link for that source gains one more piece of evidence.
# Evidence newer than a manual unlink re-activates the link (the unlink stays in history).
# New links start active (the common outcome); re-clustering in the same transaction corrects
# the status of any it refuses, so no other transaction ever sees an undecided link.
# Returns the pairs that were not already active (new, refused, re-activated in this batch):
# only those can change the clusters.
MERGE_LINKS = """
UNWIND $rows AS row
MATCH (a:Identity {key: row.a}), (b:Identity {key: row.b})
MERGE (a)-[l:LINK {source: row.source}]->(b)
  ON CREATE SET l.firstSeen = row.ts, l.lastSeen = row.ts, l.count = 1,
                l.firstRecordId = row.id, l.lastRecordId = row.id, l.status = 'active',
                l.batch = $batch
  ON MATCH SET l.count = l.count + 1
WITH row, l
// Only properties that change are written: most evidence repeats a known link.
FOREACH (_ IN CASE WHEN row.ts > l.lastSeen OR (row.ts = l.lastSeen AND row.id <> l.lastRecordId)
                   THEN [1] ELSE [] END |
  SET l.lastSeen = row.ts, l.lastRecordId = row.id)
FOREACH (_ IN CASE WHEN row.ts < l.firstSeen THEN [1] ELSE [] END |
  SET l.firstSeen = row.ts, l.firstRecordId = row.id)
FOREACH (_ IN CASE WHEN l.status = 'unlinked' AND row.ts > l.unlinkedAt THEN [1] ELSE [] END |
  SET l.status = 'active', l.batch = $batch)
WITH row, l WHERE l.batch = $batch OR l.status <> 'active'
RETURN DISTINCT row.a AS a, row.b AS b
"""
# One breadth-first step over all links; locks each visited profile (by writing to it) so that
# concurrent writers touching the same clusters serialise instead of racing. Rows are
# [key, profileId, profileCreatedAt, [[other, source, lastSeen, status], ...]] (lists, not maps:
# this is the hottest read of an ingest).
EXPAND_COMPONENT = """
UNWIND $keys AS k
MATCH (i:Identity {key: k})
OPTIONAL MATCH (i)-[:IN_PROFILE]->(p:Profile)
FOREACH (locked IN CASE WHEN p IS NULL THEN [] ELSE [p] END | SET locked.lockedAt = $now)
WITH i, p
RETURN i.key AS key, p.id AS profileId, p.createdAt AS profileCreatedAt,
       COLLECT { MATCH (i)-[l:LINK]-(j) RETURN [j.key, l.source, l.lastSeen, l.status] } AS links
"""
CREATE_PROFILES = """
UNWIND $rows AS row
CREATE (p:Profile {id: row.id, createdAt: $now, updatedAt: $now, size: row.size,
                   primaryKey: row.primary})
"""
UPDATE_PROFILES = """
UNWIND $rows AS row
MATCH (p:Profile {id: row.id})
SET p.size = row.size, p.primaryKey = row.primary, p.updatedAt = $now
"""
RETIRE_PROFILES = """
UNWIND $rows AS row
MATCH (p:Profile {id: row.id})
REMOVE p:Profile
SET p:ProfileAlias, p.mergedInto = row.into, p.at = $now
WITH p, row
MATCH (older:ProfileAlias {mergedInto: row.id})
SET older.mergedInto = row.into
"""
MOVE_MEMBERS = """
UNWIND $rows AS row
MATCH (i:Identity {key: row.key}), (p:Profile {id: row.profile})
OPTIONAL MATCH (i)-[old:IN_PROFILE]->()
DELETE old
CREATE (i)-[:IN_PROFILE]->(p)
"""
SET_LINK_STATUS = """
UNWIND $rows AS row
MATCH (a:Identity {key: row.a})-[l:LINK]->(b:Identity {key: row.b})
WHERE l.status <> 'unlinked'
SET l.status = row.status, l.reason = row.reason, l.statusAt = $now
"""
RECORD_CHANGES = """
UNWIND $rows AS row
CREATE (:ClusterChange {profileId: row.profileId, at: $now, kind: row.kind,
                        related: row.related, reason: row.reason, cause: $cause})
"""
RESOLVE = """
UNWIND range(0, size($keys) - 1) AS idx
OPTIONAL MATCH (:Identity {key: $keys[idx]})-[:IN_PROFILE]->(p:Profile)
RETURN idx, p.id AS profileId
"""
HISTORIES = """
UNWIND $ids AS id
OPTIONAL MATCH (alias:ProfileAlias {mergedInto: id})
WITH id, [id] + collect(alias.id) AS ids
OPTIONAL MATCH (c:ClusterChange) WHERE c.profileId IN ids
WITH id, c ORDER BY c.at DESC, c.kind
RETURN id, collect(c {.profileId, .at, .kind, .related, .reason, .cause}) AS changes
"""
LINKS_OF_SOURCE = """
MATCH (a:Identity)-[l:LINK {source: $source}]->(b:Identity)
WHERE l.status <> 'unlinked'
RETURN a.key AS a, b.key AS b
"""
UNLINK = """
UNWIND $rows AS row
MATCH (a:Identity {key: row.a})-[l:LINK]->(b:Identity {key: row.b})
WHERE ($source IS NULL OR l.source = $source) AND l.status <> 'unlinked'
SET l.status = 'unlinked', l.reason = $reason, l.unlinkedAt = $now, l.statusAt = $now
RETURN count(l) AS unlinked
"""
# Why two identities are (or are not) one profile: the shortest chain of active links, else the
# shortest chain over any evidence, whose refused or unlinked links say what keeps them apart.
EXPLAIN_PATH = """
MATCH (a:Identity {key: $a}), (b:Identity {key: $b})
OPTIONAL MATCH (a)-[:IN_PROFILE]->(pa:Profile)
OPTIONAL MATCH (b)-[:IN_PROFILE]->(pb:Profile)
OPTIONAL MATCH active = shortestPath((a)-[:LINK*..100]-(b))
  WHERE all(l IN relationships(active) WHERE l.status = 'active')
OPTIONAL MATCH anyPath = shortestPath((a)-[:LINK*..100]-(b))
WITH pa, pb, coalesce(active, anyPath) AS path
RETURN pa.id AS profileA, pb.id AS profileB,
       [l IN relationships(path) | {a: startNode(l).key, b: endNode(l).key, source: l.source,
         status: l.status, reason: l.reason, firstSeen: l.firstSeen, lastSeen: l.lastSeen,
         count: l.count, firstRecordId: l.firstRecordId, lastRecordId: l.lastRecordId}] AS links
"""
