"""Cypher of the merged profile reads. Each read is one round trip: the profile, its identities,
its fragments and the merge policies it may need come back together."""

from __future__ import annotations

# A profile is test data when any of its fragments says `testProfile: true` (a flag set on the
# Record at ingest, see docs/profiles.md). Evaluated over the current cluster, so it follows
# merges and splits.
IS_TEST = "EXISTS { (p)<-[:IN_PROFILE]-(:Identity)<-[:KEYED_BY]-(:Record {testProfile: true}) }"

BY_IDENTITY = "MATCH (:Identity {key: $key})-[:IN_PROFILE]->(p:Profile)"
BY_ID = """
OPTIONAL MATCH (alias:ProfileAlias {id: $id})
WITH coalesce(alias.mergedInto, $id) AS target
MATCH (p:Profile {id: target})
"""
# Fragments (and the policies to merge them) only when the caller selected attributes.
VIEW = """
CALL (p) {
  MATCH (p)<-[:IN_PROFILE]-(m:Identity)
  RETURN collect({namespace: m.namespace, value: m.value, firstSeen: m.firstSeen,
                  lastSeen: m.lastSeen}) AS identities
}
CALL (p) {
  WITH p WHERE $withFragments
  MATCH (p)<-[:IN_PROFILE]-(:Identity)<-[:KEYED_BY]-(r:Record)
  WITH DISTINCT r
  RETURN collect({source: r.source, recordId: r.recordId, ts: r.ts, attributes: r.attributes,
                  keys: [(r)-[:KEYED_BY]->(k:Identity) | k.key]}) AS fragments
}
CALL () {
  MATCH (mp:MergePolicy) WHERE $withFragments AND (mp.isDefault OR mp.id IN $policies)
  RETURN collect(mp {.*}) AS policies
}
// The materialised default-policy view, when the caller only wants default attributes: the
// merge is then already done (profile/materialise.py keeps it exact).
OPTIONAL MATCH (p)-[:VIEW]->(pv:ProfileView) WHERE $withView
RETURN p.id AS id, p.primaryKey AS primaryKey, p.createdAt AS createdAt,
       p.updatedAt AS updatedAt, identities, fragments, policies,
       pv._json AS viewJson, pv._stitched AS viewStitched, """ + IS_TEST + " AS isTest"

VIEW_BY_IDENTITY = BY_IDENTITY + VIEW
VIEW_BY_ID = BY_ID + VIEW
# Many profiles in one round trip (DataLoaders): each row says which requested id it answers.
VIEW_BY_IDS = """
UNWIND $ids AS requested
OPTIONAL MATCH (alias:ProfileAlias {id: requested})
WITH requested, coalesce(alias.mergedInto, requested) AS target
MATCH (p:Profile {id: target})
""" + VIEW + ", requested"

# Newest first; the cursor is (ts, key), so pages never skip or repeat when events arrive.
# One page of events (newest first) for each of several profiles, in one round trip: the
# `events` field of many profiles is batched (api/graphql/loaders.py), each with the same page.
EVENTS_PAGES = """
UNWIND $ids AS id
CALL (id) {
  MATCH (:Profile {id: id})<-[:IN_PROFILE]-(:Identity)<-[:ABOUT]-(e:Event)
  WITH DISTINCT e
  WHERE ($types IS NULL OR e.type IN $types)
    AND ($since IS NULL OR e.ts >= $since) AND ($until IS NULL OR e.ts < $until)
    AND ($afterTs IS NULL OR e.ts < $afterTs OR (e.ts = $afterTs AND e.key < $afterKey))
  WITH e ORDER BY e.ts DESC, e.key DESC LIMIT $limit
  RETURN collect([e.key, e.source, e.eventId, e.type, e.ts, e.properties]) AS events
}
RETURN id, events
"""

# Records that say they are test data carry a flag, so the IS_TEST check never parses JSON.
FLAG_TEST_RECORDS = """
UNWIND $keys AS k
MATCH (r:Record {key: k})
SET r.testProfile = true
"""
