"""Every Cypher statement of the identity graph. Values are parameters; nothing is formatted in.

Model: (:Identity {key, namespace, value, firstSeen, lastSeen, createdBatch})
       -[:LINK {source, firstSeen, lastSeen, count, firstRecordId, lastRecordId, batch,
                status: active|refused|unlinked, reason}]-> (:Identity)   (one per pair and source)
       (:Identity)-[:IN_PROFILE]->(:Profile {id, createdAt, updatedAt, size, primaryKey})
       (:ProfileAlias {id, mergedInto, at})  a retired profile id, resolvable forever (the same
                                             node, relabelled: it keeps createdAt, createdBy)
       (:Record {key, source, recordId, ts, attributes})-[:KEYED_BY]->(:Identity)
       (:Event {key, source, eventId, type, ts, properties, `p.<path>`...})-[:ABOUT]->(:Identity)
           properties is the JSON text; each storable value is also `p.<dotted path>`
       (:ClusterChange {profileId, at, kind, related, reason, cause})  merges, splits, refused
           links; a profile's "created" entry is its createdAt and createdBy (see HISTORIES)
Times are epoch milliseconds.
"""

from __future__ import annotations

# The expansion step shared by the ingest statement (its first step) and EXPAND_COMPONENT (the
# later ones); see EXPAND_COMPONENT. Links that can never change a clustering are not followed:
# unlinked ones (no evidence), and refused ones between two identities of one unique namespace
# ($unique), which no clustering can join (docs/identity.md, "Bounded re-clustering"). At most
# $maxLinks links per identity are read: one with more makes its component too large to
# re-cluster (identity/clustering.py).
EXPAND_STEP = """
OPTIONAL MATCH (i)-[:IN_PROFILE]->(p:Profile)
FOREACH (locked IN CASE WHEN p IS NULL THEN [] ELSE [p] END | SET locked.lockedAt = $now)
WITH i, p
RETURN collect([i.key, p.id, p.createdAt,
                COLLECT { MATCH (i)-[l:LINK]-(j)
                          WHERE l.status <> 'unlinked'
                            AND NOT (l.status = 'refused' AND j.namespace = i.namespace
                                     AND i.namespace IN $unique)
                          RETURN [j.key, l.source, l.lastSeen, l.status, elementId(j)]
                          LIMIT $maxLinks },
                elementId(i), elementId(p), p.size, p.primaryKey,
                CASE WHEN $holders AND p IS NOT NULL
                     THEN [(p)<-[:IN_PROFILE]-(m:Identity) WHERE m.namespace IN $unique
                           | m.namespace] END]) AS expanded
"""
# A batch is written in two statements. First each item key is claimed: the items this
# transaction created come back with their node ids (re-ingest is a no-op, so an item that
# existed contributes nothing). Then Python aggregates the new items' evidence
# (identity/evidence.py) and STORE_EVIDENCE writes it: each identity merged once, each item
# attached to its identities, each link (pair and source) merged once with the batch's count,
# first and last record. Aggregating first means one index lookup per identity instead of one
# per item and identity, one MERGE per link instead of one per item and pair, and no lookups at
# all for the ends of pairs (identities are picked from the merged list by position).
CLAIM_RECORDS = """
UNWIND $rows AS row
MERGE (r:Record {key: row.key})
  ON CREATE SET r.source = row.source, r.recordId = row.id, r.ts = row.ts,
                r.attributes = row.payload, r.batch = $batch, r.ingestedAt = $now
WITH r, row WHERE r.batch = $batch
RETURN collect([row.key, elementId(r)]) AS created
"""
CLAIM_EVENTS = """
UNWIND $rows AS row
MERGE (e:Event {key: row.key})
  ON CREATE SET e.source = row.source, e.eventId = row.id, e.ts = row.ts, e.type = row.type,
                e.properties = row.payload, e.batch = $batch, e.ingestedAt = $now,
                e += row.flat
WITH e, row WHERE e.batch = $batch
RETURN collect([row.key, elementId(e)]) AS created
"""


def _attach(items: str, label: str, relationship: str) -> str:
    """STORE_EVIDENCE's subquery attaching each item of `$items` (by node id) to its
    identities (by position in `nodes`); the names come from code, never from input."""
    return f"""
CALL (nodes) {{
  UNWIND ${items} AS item
  MATCH (x:{label}) WHERE elementId(x) = item[0]
  UNWIND item[1] AS position
  WITH x, nodes[position] AS i
  CREATE (x)-[:{relationship}]->(i)
}}"""


# $identities: [key, namespace, value, firstSeen, lastSeen] each, collected in that order
# (ORDER BY before collect fixes the list's order) so `nodes[i]` is the identity at position i.
# $records / $events: [node id, [identity positions]]. $links: [a, b, source, count, firstSeen,
# firstRecordId, lastSeen, lastRecordId], a and b positions, a's key < b's.
# Returns `nodeIds`, the node id of each identity (by position); `fresh`, the identities this
# transaction created; `unsettled`, the identity keys of
# pairs that are not settled (a new link, a re-activated one, or one not active): only those
# and fresh identities can change the clusters; and `expanded`, the first step of
# re-clustering done here for every attached identity that existed before: its profile,
# locked, and its links, as EXPAND_COMPONENT returns them.
# Identity times and link properties are written only when they change: most evidence repeats
# what is known, and every write takes a lock. The conditions give the per-item rules applied
# in order: a later time wins, a tie on the last time goes to the later item; an earlier time
# wins the first seen. Evidence newer than a manual unlink re-activates the link (the unlink
# stays in history). New links start active (the common outcome); re-clustering in the same
# transaction corrects the status of any it refuses, so no other transaction ever sees an
# undecided link.
STORE_EVIDENCE = """
UNWIND range(0, size($identities) - 1) AS position
WITH position, $identities[position] AS row
MERGE (i:Identity {key: row[0]})
  ON CREATE SET i.namespace = row[1], i.value = row[2], i.firstSeen = row[3],
                i.lastSeen = row[4], i.createdBatch = $batch
FOREACH (_ IN CASE WHEN row[4] > i.lastSeen THEN [1] ELSE [] END | SET i.lastSeen = row[4])
FOREACH (_ IN CASE WHEN row[3] < i.firstSeen THEN [1] ELSE [] END | SET i.firstSeen = row[3])
WITH i ORDER BY position
WITH collect(i) AS nodes
""" + _attach("records", "Record", "KEYED_BY") + _attach("events", "Event", "ABOUT") + """
CALL (nodes) {
  UNWIND $links AS row
  WITH nodes[row[0]] AS a, nodes[row[1]] AS b, row
  MERGE (a)-[l:LINK {source: row[2]}]->(b)
    ON CREATE SET l.firstSeen = row[4], l.firstRecordId = row[5], l.lastSeen = row[6],
                  l.lastRecordId = row[7], l.count = row[3], l.status = 'active',
                  l.batch = $batch
    ON MATCH SET l.count = l.count + row[3]
  WITH row, a, b, l
  FOREACH (_ IN CASE WHEN row[6] > l.lastSeen OR (row[6] = l.lastSeen AND row[7] <> l.lastRecordId)
                     THEN [1] ELSE [] END |
    SET l.lastSeen = row[6], l.lastRecordId = row[7])
  FOREACH (_ IN CASE WHEN row[4] < l.firstSeen THEN [1] ELSE [] END |
    SET l.firstSeen = row[4], l.firstRecordId = row[5])
  FOREACH (_ IN CASE WHEN l.status = 'unlinked' AND row[6] > l.unlinkedAt THEN [1] ELSE [] END |
    SET l.status = 'active', l.batch = $batch)
  WITH a, b, l WHERE l.batch = $batch OR l.status <> 'active'
  UNWIND [a.key, b.key] AS key
  RETURN collect(DISTINCT key) AS unsettled
}
CALL (nodes) {
  UNWIND nodes AS i
  RETURN collect(CASE WHEN i.createdBatch = $batch THEN i.key END) AS fresh,
         collect(CASE WHEN i.createdBatch = $batch THEN null ELSE i END) AS known
}
// An identity this batch created has no profile yet and only the links this batch made, which
// the caller knows from its evidence (identity/service.py, _links_of_new): only `known` ones
// are read back, and none for a deferred batch ($expand false): its settle reads its own.
CALL (known) {
  UNWIND CASE WHEN $expand THEN known ELSE [] END AS i
""" + EXPAND_STEP + """
}
RETURN CASE WHEN $expand THEN [node IN nodes | elementId(node)] ELSE [] END AS nodeIds,
       fresh, unsettled, expanded
"""
# One breadth-first step from the identities `i`, over all links: locks each visited profile (by
# writing to it) so that concurrent writers touching the same clusters serialise instead of
# racing. One row holding a list of [key, profileId, profileCreatedAt, [[other, source,
# lastSeen, status, other's node id], ...], identity node id, profile node id, profile size,
# profile primary identity, the unique namespaces the profile holds (only with $holders, for
# identity/joining.py)] per identity
# (lists, not maps, and one row, not one per identity: this is the hottest read of an ingest,
# and the driver's cost is per row). The node ids let later steps and the write-back find the
# nodes without an index: in an updating statement every lookup by a unique key is a locking
# index seek, which opens a fresh index reader each time (a JFR profile put them at ~15% of an
# ingest's Neo4j CPU). So identities are found by node id where an earlier step read it (a
# link's far end), by key only where nothing was read yet (the seeds of a writer).
EXPAND_COMPONENT = """
CALL () {
  UNWIND $nodes AS node
  MATCH (i:Identity) WHERE elementId(i) = node
  RETURN i
  UNION
  UNWIND $keys AS k
  MATCH (i:Identity {key: k})
  RETURN i
}
""" + EXPAND_STEP
# A settle of deferred batches (identity/service.py, prepare_settle): of the identities they
# created that have no profile yet, how many items each carries (the batches' own, or more:
# another call attached some since).
SETTLE_FRESH = """
UNWIND $keys AS key
MATCH (i:Identity {key: key})
WHERE i.createdBatch IN $batches AND NOT EXISTS { (i)-[:IN_PROFILE]->(:Profile) }
RETURN collect([key, COUNT { (i)<-[:KEYED_BY|ABOUT]-() }]) AS rows
"""
# Everything re-clustering changed, written back in one statement (each part may be empty):
# new profiles with the members they take, kept ones (size, primary), members that moved into
# kept ones, retired ids (aliases, with older aliases flattened to the survivor), decided link
# statuses and the history entries. Identities and kept profiles are found by node id (read in
# this transaction, see EXPAND_STEP). The parts run in this order: members move into profiles
# that exist, away from retired ones. Returns [profile id, node id] of each new profile, and
# the (old, new) size of each kept profile and the last size of each retired one, which the
# dashboard counters (profile/counters.py) turn into deltas without reading anything again.
WRITE_CLUSTERS = """
CALL () {
  UNWIND $created AS row
  CREATE (p:Profile {id: row.id, createdAt: $now, updatedAt: $now, size: row.size,
                     primaryKey: row.primary, createdBy: row.createdBy})
  WITH p, row
  CALL (p, row) {
    UNWIND row.members AS member
    MATCH (i:Identity) WHERE elementId(i) = member
    OPTIONAL MATCH (i)-[old:IN_PROFILE]->()
    DELETE old
    CREATE (i)-[:IN_PROFILE]->(p)
  }
  RETURN collect([row.id, elementId(p)]) AS createdProfiles
}
CALL () {
  UNWIND $kept AS row
  MATCH (p:Profile) WHERE elementId(p) = row.node
  WITH p, row, p.size AS old
  SET p.size = row.size, p.primaryKey = row.primary, p.updatedAt = $now
  RETURN collect([old, row.size]) AS keptSizes
}
CALL () {
  UNWIND $moves AS row
  MATCH (i:Identity) WHERE elementId(i) = row.identity
  MATCH (p:Profile) WHERE elementId(p) = row.profile
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
  CALL (row) {
    MATCH (older:ProfileAlias {mergedInto: row.id})
    SET older.mergedInto = row.into
  }
  RETURN collect(p.size) AS retiredSizes
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
RETURN createdProfiles, keptSizes, retiredSizes
"""
# The profile id of each key, or null, in the keys' order, as one row holding one list: per row
# the driver costs more than the lookup itself (10,000 rows were a third of a bulk resolve's
# CPU). A list comprehension fixes the order, which collect() over UNWIND does not promise.
RESOLVE = """
RETURN [k IN $keys | COLLECT { MATCH (:Identity {key: k})-[:IN_PROFILE]->(p:Profile)
                               RETURN p.id }[0]] AS profileIds
"""
# A profile made of new identities (no split) carries its "created" entry itself (createdAt,
# createdBy): a ClusterChange node per new profile was a third of the nodes an ingest of new
# people wrote after its records and identities. Profiles created before that have a node.
HISTORIES = """
UNWIND $ids AS id
OPTIONAL MATCH (alias:ProfileAlias {mergedInto: id})
WITH id, collect(alias) AS aliases
// The nodes whose "created" entries belong here: the profile itself (or the alias asked for)
// and the aliases merged into it, already matched.
WITH id, aliases, aliases + COLLECT {
       MATCH (p:Profile {id: id}) RETURN p UNION MATCH (p:ProfileAlias {id: id}) RETURN p
     } AS nodes
CALL (id, aliases, nodes) {
  UNWIND [id] + [a IN aliases | a.id] AS one
  MATCH (c:ClusterChange {profileId: one})
  RETURN c {.profileId, .at, .kind, .related, .reason, .cause} AS change
  UNION ALL
  UNWIND nodes AS p
  WITH p WHERE p.createdBy IS NOT NULL
  RETURN {profileId: p.id, at: p.createdAt, kind: 'created', related: [],
          reason: 'new identities', cause: p.createdBy} AS change
}
WITH id, change ORDER BY change.at DESC, change.kind
RETURN id, collect(change) AS changes
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
# Every link touching a profile's identities, whatever its status, for many profiles at once:
# links between two members (seen from both ends, hence DISTINCT) and links to identities
# outside (refused or unlinked ones keep them out). Active links first, then newest; at most
# $limit per profile.
PROFILE_LINKS = """
UNWIND $ids AS id
MATCH (:Profile {id: id})<-[:IN_PROFILE]-(:Identity)-[l:LINK]-(:Identity)
WITH DISTINCT id, l
ORDER BY CASE l.status WHEN 'active' THEN 0 ELSE 1 END, l.lastSeen DESC, l.source
WITH id, collect({a: startNode(l).key, b: endNode(l).key, source: l.source, status: l.status,
                  reason: l.reason, firstSeen: l.firstSeen, lastSeen: l.lastSeen,
                  count: l.count, firstRecordId: l.firstRecordId,
                  lastRecordId: l.lastRecordId})[..$limit] AS links
RETURN id, links
"""
