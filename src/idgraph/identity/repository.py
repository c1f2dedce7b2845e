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

# The expansion step shared by the ingest statement (its first step) and EXPAND_COMPONENT (the
# later ones); see EXPAND_COMPONENT.
EXPAND_STEP = """
OPTIONAL MATCH (i)-[:IN_PROFILE]->(p:Profile)
FOREACH (locked IN CASE WHEN p IS NULL THEN [] ELSE [p] END | SET locked.lockedAt = $now)
WITH i, p
RETURN collect([i.key, p.id, p.createdAt,
                COLLECT { MATCH (i)-[l:LINK]-(j) RETURN [j.key, l.source, l.lastSeen, l.status] }
               ]) AS expanded
"""
# One statement per batch and item kind: claim each item key; for the items this transaction
# created (re-ingest is a no-op), merge their identities, attach the item to them and give each
# pair of identities the item carries one more piece of evidence on the pair's link for the
# item's source. Returns one row of flat, distinct lists (the driver's cost grows with the
# result): `created`, the keys of the items this transaction created; `fresh`, the identities
# it created; `unsettled`, the identity keys of pairs that are not settled (a new link, a
# re-activated one, or one not active): only those and fresh identities can change the
# clusters; and `expanded`, the first step of re-clustering done here for every attached
# identity that existed before: its profile, locked, and its links, as EXPAND_COMPONENT
# returns them.
# Identity times and link properties are written only when they change: most evidence repeats
# what is known, and every write takes a lock.
# Evidence newer than a manual unlink re-activates the link (the unlink stays in history). New
# links start active (the common outcome); re-clustering in the same transaction corrects the
# status of any it refuses, so no other transaction ever sees an undecided link.
INGEST_RECORDS = """
UNWIND $rows AS row
MERGE (r:Record {key: row.key})
  ON CREATE SET r.source = row.source, r.recordId = row.id, r.ts = row.ts,
                r.attributes = row.payload, r.batch = $batch, r.ingestedAt = $now
WITH r, row WHERE r.batch = $batch
CALL (r, row) {
  UNWIND row.ids AS id
  MERGE (i:Identity {key: id[0]})
    ON CREATE SET i.namespace = id[1], i.value = id[2], i.firstSeen = row.ts,
                  i.lastSeen = row.ts, i.createdBatch = $batch
  FOREACH (_ IN CASE WHEN row.ts > i.lastSeen THEN [1] ELSE [] END | SET i.lastSeen = row.ts)
  FOREACH (_ IN CASE WHEN row.ts < i.firstSeen THEN [1] ELSE [] END | SET i.firstSeen = row.ts)
  CREATE (r)-[:KEYED_BY]->(i)
  RETURN collect(i) AS identities
}
CALL (row) {
  UNWIND row.pairs AS pair
  MATCH (a:Identity {key: pair[0]}), (b:Identity {key: pair[1]})
  MERGE (a)-[l:LINK {source: row.source}]->(b)
    ON CREATE SET l.firstSeen = row.ts, l.lastSeen = row.ts, l.count = 1,
                  l.firstRecordId = row.id, l.lastRecordId = row.id, l.status = 'active',
                  l.batch = $batch
    ON MATCH SET l.count = l.count + 1
  WITH row, pair, l
  FOREACH (_ IN CASE WHEN row.ts > l.lastSeen OR (row.ts = l.lastSeen AND row.id <> l.lastRecordId)
                     THEN [1] ELSE [] END |
    SET l.lastSeen = row.ts, l.lastRecordId = row.id)
  FOREACH (_ IN CASE WHEN row.ts < l.firstSeen THEN [1] ELSE [] END |
    SET l.firstSeen = row.ts, l.firstRecordId = row.id)
  FOREACH (_ IN CASE WHEN l.status = 'unlinked' AND row.ts > l.unlinkedAt THEN [1] ELSE [] END |
    SET l.status = 'active', l.batch = $batch)
  WITH pair, l WHERE l.batch = $batch OR l.status <> 'active'
  UNWIND pair AS key
  RETURN collect(key) AS unsettled
}
WITH collect(row.key) AS created, collect(identities) AS attached,
     collect(unsettled) AS unsettledLists
CALL (unsettledLists) {
  UNWIND unsettledLists AS keys
  UNWIND keys AS key
  RETURN collect(DISTINCT key) AS unsettled
}
CALL (attached) {
  UNWIND attached AS identities
  UNWIND identities AS i
  WITH DISTINCT i
  RETURN collect(CASE WHEN i.createdBatch = $batch THEN i.key END) AS fresh,
         collect(CASE WHEN i.createdBatch = $batch THEN null ELSE i END) AS known
}
// An identity this batch created has no profile yet and only the links this batch made, which
// the caller knows from its items (identity/service.py, _links_of_new): only `known` ones are
// read back.
CALL (known) {
  UNWIND known AS i
""" + EXPAND_STEP + """
}
RETURN created, fresh, unsettled, expanded
"""
INGEST_EVENTS = INGEST_RECORDS.replace(
    "MERGE (r:Record {key: row.key})\n"
    "  ON CREATE SET r.source = row.source, r.recordId = row.id, r.ts = row.ts,\n"
    "                r.attributes = row.payload,",
    "MERGE (r:Event {key: row.key})\n"
    "  ON CREATE SET r.source = row.source, r.eventId = row.id, r.ts = row.ts, r.type = row.type,\n"
    "                r.properties = row.payload,",
).replace("CREATE (r)-[:KEYED_BY]->(i)", "CREATE (r)-[:ABOUT]->(i)")
# One breadth-first step from the identities `i`, over all links: locks each visited profile (by
# writing to it) so that concurrent writers touching the same clusters serialise instead of
# racing. One row holding a list of [key, profileId, profileCreatedAt, [[other, source,
# lastSeen, status], ...]] per identity (lists, not maps, and one row, not one per identity:
# this is the hottest read of an ingest, and the driver's cost is per row).
EXPAND_COMPONENT = """
UNWIND $keys AS k
MATCH (i:Identity {key: k})
""" + EXPAND_STEP
# Everything re-clustering changed, written back in one statement (each part may be empty):
# new profiles, kept ones (size, primary), memberships that moved, retired ids (aliases, with
# older aliases flattened to the survivor), decided link statuses and the history entries.
# The parts run in this order: members move into profiles that exist, away from retired ones.
WRITE_CLUSTERS = """
CALL () {
  UNWIND $created AS row
  CREATE (:Profile {id: row.id, createdAt: $now, updatedAt: $now, size: row.size,
                    primaryKey: row.primary})
}
CALL () {
  UNWIND $kept AS row
  MATCH (p:Profile {id: row.id})
  SET p.size = row.size, p.primaryKey = row.primary, p.updatedAt = $now
}
CALL () {
  UNWIND $moves AS row
  MATCH (i:Identity {key: row.key}), (p:Profile {id: row.profile})
  OPTIONAL MATCH (i)-[old:IN_PROFILE]->()
  DELETE old
  CREATE (i)-[:IN_PROFILE]->(p)
}
CALL () {
  UNWIND $retired AS row
  MATCH (p:Profile {id: row.id})
  REMOVE p:Profile
  SET p:ProfileAlias, p.mergedInto = row.into, p.at = $now
  WITH p, row
  MATCH (older:ProfileAlias {mergedInto: row.id})
  SET older.mergedInto = row.into
}
CALL () {
  UNWIND $statuses AS row
  MATCH (a:Identity {key: row.a})-[l:LINK]->(b:Identity {key: row.b})
  WHERE l.status <> 'unlinked'
  SET l.status = row.status, l.reason = row.reason, l.statusAt = $now
}
CALL () {
  UNWIND $changes AS row
  CREATE (:ClusterChange {profileId: row.profileId, at: $now, kind: row.kind,
                          related: row.related, reason: row.reason, cause: $cause})
}
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
