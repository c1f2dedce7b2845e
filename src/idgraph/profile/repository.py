"""Every Cypher statement of the profile domain: reads, computed attributes, merge policies,
materialised views, deletion and metrics. Values are parameters; nothing is formatted in."""

from __future__ import annotations

# -- reads -------------------------------------------------------------------------------------
# A profile is test data when any of its fragments says `testProfile: true` (a flag set on the
# Record at ingest, see docs/profiles.md). Evaluated over the current cluster, so it follows
# merges and splits.
IS_TEST = "EXISTS { (p)<-[:IN_PROFILE]-(:Identity)<-[:KEYED_BY]-(:Record {testProfile: true}) }"
# The view `pv` was merged under the default policy `dp` in force (none stored: the built-in
# 'default', revision 0).
VIEW_IS_CURRENT = ("pv._policy = coalesce(dp.id, 'default') "
                   "AND coalesce(pv._policyRevision, 0) = coalesce(dp.revision, 0)")

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
// The materialised default-policy view, when the caller only wants default attributes and the
// view was merged under the default policy in force: its id and revision (the built-in one's:
// 'default', 0). While a rebuild job runs after a policy change, views not yet rebuilt are not
// used: the read merges the fragments instead. (A separate OPTIONAL MATCH, not a subquery in
// the WHERE: that took 1.7x as long to plan.)
OPTIONAL MATCH (p)-[:VIEW]->(pv:ProfileView) WHERE $withView
OPTIONAL MATCH (dp:MergePolicy {isDefault: true}) WHERE $withView
RETURN p.id AS id, p.primaryKey AS primaryKey, p.createdAt AS createdAt,
       p.updatedAt AS updatedAt, identities, fragments, policies,
       CASE WHEN """ + VIEW_IS_CURRENT + """ THEN pv._json END AS viewJson,
       CASE WHEN """ + VIEW_IS_CURRENT + """ THEN pv._stitched END AS viewStitched,
       """ + IS_TEST + " AS isTest"

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

# -- computed attributes (profile/computed.py) --------------------------------------------------
# State is per (definition, identity): (:ComputedValue {def, key, ts, vals, events}). A new
# definition is `ready: false` until its backfill job has folded in the past events; reads
# leave it out until then (a partial value is never shown).
LIST_DEFINITIONS = "MATCH (d:ComputedAttribute) RETURN d {.*} AS d ORDER BY d.name"
GET_DEFINITION = "MATCH (d:ComputedAttribute {name: $name}) RETURN d {.*} AS d"
CREATE_DEFINITION = """
CREATE (d:ComputedAttribute {name: $d.name, function: $d.function, eventType: $d.eventType,
                             property: $d.property, lookbackMs: $d.lookbackMs, createdAt: $now,
                             ready: false})
RETURN d {.*} AS d
"""
DEFINITION_READY = "MATCH (d:ComputedAttribute {name: $name}) SET d.ready = true"
DELETE_DEFINITION = """
MATCH (d:ComputedAttribute {name: $name})
OPTIONAL MATCH (c:ComputedValue {def: $name})
DETACH DELETE c
WITH DISTINCT d
DELETE d
RETURN count(d) AS n
"""
# Append contributions and drop what fell out of the window. The state is locked (by a write)
# before it is read: under read-committed isolation, a read first would let two concurrent
# writers each append to the same old list, and the later commit would drop the other's events
# (a lost update). Locked first, the later writer waits, then reads the append. `$dedupe`
# (backfills): leave out events the state already holds (an ingest in flight folded them in).
WRITE_STATES = """
UNWIND $rows AS row
MATCH (i:Identity {key: row.key})
MERGE (c:ComputedValue {id: row.def + '|' + row.key})
  ON CREATE SET c.def = row.def, c.key = row.key, c.ts = [], c.vals = [], c.events = []
MERGE (i)-[:HAS_COMPUTED]->(c)
SET c.lockedAt = timestamp()
WITH c, row, [j IN range(0, size(row.ts) - 1)
              WHERE NOT ($dedupe AND row.events[j] IN c.events)] AS new
WITH c, row, c.ts + [j IN new | row.ts[j]] AS ts, c.vals + [j IN new | row.vals[j]] AS vals,
     c.events + [j IN new | row.events[j]] AS evs
WITH c, ts, vals, evs, [j IN range(0, size(ts) - 1) WHERE ts[j] >= row.cutoff] AS keep
SET c.ts = [j IN keep | ts[j]], c.vals = [j IN keep | vals[j]], c.events = [j IN keep | evs[j]]
"""
# One chunk of a backfill: events of the type in the window, in key order after the cursor.
EVENTS_FOR_BACKFILL = """
MATCH (e:Event {type: $type}) WHERE e.ts >= $cutoff AND e.key > $after
WITH e ORDER BY e.key LIMIT $limit
RETURN e.key AS key, e.ts AS ts, e.properties AS properties,
       [(e)-[:ABOUT]->(i:Identity) | i.key] AS keys,
       [(e)-[:ABOUT]->(:Identity)-[:IN_PROFILE]->(p:Profile) | p.id] AS profiles
"""
# The event-properties backfill (profile/event_properties.py): events in key order after the
# cursor (the unique index on key), whether any property is flattened already, their profiles.
COUNT_EVENTS = "MATCH (e:Event) RETURN count(e) AS n"
EVENTS_TO_FLATTEN = """
MATCH (e:Event) WHERE e.key > $after
WITH e ORDER BY e.key LIMIT $limit
RETURN e.key AS key, e.properties AS properties,
       any(k IN keys(e) WHERE k STARTS WITH 'p.') AS flattened,
       [(e)-[:ABOUT]->(:Identity)-[:IN_PROFILE]->(p:Profile) | p.id] AS profiles
"""
# Property names are the event's own validated dotted paths under `p.` (identity/items.py),
# in the map's keys: never Cypher text.
FLATTEN_EVENTS = """
UNWIND $rows AS row
MATCH (e:Event {key: row.key})
SET e += row.flat
"""
READ_STATES_MANY = """
UNWIND $ids AS id
MATCH (d:ComputedAttribute) WHERE coalesce(d.ready, true)
OPTIONAL MATCH (:Profile {id: id})<-[:IN_PROFILE]-(:Identity)-[:HAS_COMPUTED]->
               (c:ComputedValue {def: d.name})
RETURN id, d {.*} AS d, collect(c {.ts, .vals, .events}) AS states
ORDER BY id, d.name
"""

# -- merge policies (profile/policies.py) -------------------------------------------------------
# (:MergePolicy {id, name, kind, sources, stitching, isDefault, revision, createdAt, updatedAt});
# `revision` grows with every save, so a view can tell whether it follows the rules in force.
LIST_POLICIES = "MATCH (m:MergePolicy) RETURN m {.*} AS m ORDER BY m.name"
GET_POLICY = "MATCH (m:MergePolicy {id: $id}) RETURN m {.*} AS m"
POLICY_NAME_TAKEN = """
MATCH (m:MergePolicy {name: $name}) WHERE m.id <> $id RETURN count(m) AS n
"""
# Only one default: setting it on one policy clears it on every other.
CLEAR_DEFAULT_POLICY = """
MATCH (m:MergePolicy {isDefault: true}) WHERE m.id <> $id SET m.isDefault = false
"""
SAVE_POLICY = """
MERGE (m:MergePolicy {id: $p.id})
  ON CREATE SET m.createdAt = $now
SET m.name = $p.name, m.kind = $p.kind, m.sources = $p.sources, m.stitching = $p.stitching,
    m.isDefault = $p.isDefault, m.updatedAt = $now, m.revision = coalesce(m.revision, 0) + 1
RETURN m {.*} AS m
"""
DELETE_POLICY = """
MATCH (m:MergePolicy {id: $id})
WITH m, coalesce(m.isDefault, false) AS wasDefault
DELETE m
RETURN count(*) AS n, any(d IN collect(wasDefault) WHERE d) AS wasDefault
"""

# -- materialised views (profile/materialise.py) ------------------------------------------------
DEFAULT_POLICY = """
OPTIONAL MATCH (mp:MergePolicy {isDefault: true})
RETURN collect(mp {.*}) AS policies
"""
# Everything a refresh needs for many profiles in one round trip: the profiles named (by node
# id where the transaction read or made them, else by id) or holding the identities given (a
# retired or deleted one yields no entry: a retired profile's node is a ProfileAlias), their
# fragments, test flag and the stored default policy. Record keys are read only when that policy
# stitches off. Node ids first: in this updating statement a lookup by key or id is a locking
# index seek (see the identity repository's EXPAND_STEP).
READ_FOR_VIEWS = """
CALL () {""" + DEFAULT_POLICY + """}
CALL () {
  UNWIND $nodes AS node MATCH (p:Profile) WHERE elementId(p) = node RETURN p
  UNION
  UNWIND $ids AS id MATCH (p:Profile {id: id}) RETURN p
  UNION
  UNWIND $keys AS k MATCH (:Identity {key: k})-[:IN_PROFILE]->(p:Profile) RETURN p
}
// Lock each profile before reading its fragments: a concurrent ingest adding records to it
// (not re-clustering, so holding no lock yet) waits, then reads ours, and the last view written
// holds every record.
SET p.lockedAt = $now
WITH p, policies
CALL (p, policies) {
  MATCH (p)<-[:IN_PROFILE]-(:Identity)<-[:KEYED_BY]-(r:Record)
  WITH DISTINCT r
  RETURN collect({source: r.source, recordId: r.recordId, ts: r.ts, attributes: r.attributes,
    keys: CASE WHEN any(x IN policies WHERE NOT x.stitching)
               THEN [(r)-[:KEYED_BY]->(k:Identity) | k.key] ELSE [] END}) AS fragments,
         // IS_TEST over the records just read, not a second expansion
         true IN collect(r.testProfile) AS isTest
}
// One row (the driver's cost is per row): [id, primaryKey, size, fragments, isTest, node id]
// per profile.
RETURN head(collect(policies)) AS policies,
       collect([p.id, p.primaryKey, p.size, fragments, isTest, elementId(p)]) AS profiles"""
# Profiles by node id (read or created in this transaction): in an updating statement a lookup
# by id would be a locking index seek, which opens a fresh index reader each time.
WRITE_VIEWS = """
UNWIND $rows AS row
MATCH (p:Profile) WHERE elementId(p) = row.node
MERGE (p)-[:VIEW]->(v:ProfileView)
SET v = row.props
"""
# Profiles new identities joined with records that say nothing (profile/materialise.py,
# _bare_joins): their merged data is the same, only the size and the time change. Returns the
# ones without a view (a store from before views, say), which are then built in full.
TOUCH_VIEWS = """
UNWIND $rows AS row
MATCH (p:Profile) WHERE elementId(p) = row.node
OPTIONAL MATCH (p)-[:VIEW]->(v:ProfileView)
SET v._size = row.size, v._updatedAt = $now
WITH row, v WHERE v IS NULL
RETURN collect(row.node) AS missing
"""
DROP_VIEWS = """
UNWIND $ids AS id
MATCH (v:ProfileView {_profile: id})
DETACH DELETE v
"""
COUNT_PROFILES = "MATCH (p:Profile) RETURN count(p) AS n"
# One chunk of a rebuild, in id order (index-backed), locking the profiles so a concurrent
# ingest of the same profile waits for the chunk (or the chunk for it) instead of racing.
NEXT_PROFILES = """
MATCH (p:Profile) WHERE p.id > $after
WITH p ORDER BY p.id LIMIT $limit
SET p.lockedAt = $now
RETURN p.id AS id
"""
# -- privacy deletion (profile/deletion.py) -----------------------------------------------------
# Writing to the profile locks it: a concurrent ingest of this cluster waits for us.
CLUSTER_OF_IDENTITY = """
MATCH (:Identity {key: $key})-[:IN_PROFILE]->(p:Profile)
SET p.lockedAt = $now
WITH p
MATCH (p)<-[:IN_PROFILE]-(m:Identity)
WITH p, collect(m.key) AS keys
OPTIONAL MATCH (alias:ProfileAlias {mergedInto: p.id})
RETURN p.id AS id, keys, collect(alias.id) AS aliases
"""
# Each statement deletes one kind of thing attached to the identities in $keys, counting it.
DELETE_ATTACHED = {
    "records": "UNWIND $keys AS k MATCH (:Identity {key: k})<-[:KEYED_BY]-(x:Record) "
               "WITH DISTINCT x DETACH DELETE x RETURN count(*) AS n",
    "events": "UNWIND $keys AS k MATCH (:Identity {key: k})<-[:ABOUT]-(x:Event) "
              "WITH DISTINCT x WITH x, x.type AS type, x.key AS key DETACH DELETE x "
              "RETURN count(*) AS n, collect(type) AS types, collect(key) AS keys",
    "computed_values": "UNWIND $keys AS k MATCH (:Identity {key: k})-[:HAS_COMPUTED]->"
                       "(x:ComputedValue) WITH DISTINCT x DETACH DELETE x RETURN count(*) AS n",
    "links": "UNWIND $keys AS k MATCH (:Identity {key: k})-[x:LINK]-() "
             "WITH DISTINCT x DELETE x RETURN count(*) AS n",
    "memberships": "UNWIND $keys AS k MATCH (:Identity {key: k})-[x:IN_PROFILE]->() "
                   "DELETE x RETURN count(*) AS n",
    "identities": "UNWIND $keys AS k MATCH (x:Identity {key: k}) "
                  "WITH x, x.namespace AS namespace DETACH DELETE x "
                  "RETURN count(*) AS n, collect(namespace) AS namespaces",
}
# What else a cluster reaches: a record or event keyed by its identities and by identities of
# other clusters (a refused link, the size limit) is a fragment of those profiles too. Returns
# those profiles (their views must be recomputed), and the shared events with the identities of
# other clusters they are about (their computed states hold the events' keys).
REACH_OF_CLUSTER = """
UNWIND $keys AS k
MATCH (:Identity {key: k})<-[:KEYED_BY|ABOUT]-(x)-[:KEYED_BY|ABOUT]->(o:Identity)
WHERE NOT o.key IN $keys
WITH DISTINCT x, o
OPTIONAL MATCH (o)-[:IN_PROFILE]->(p:Profile)
RETURN collect(DISTINCT p.id) AS profiles,
       collect(DISTINCT CASE WHEN x:Event THEN o.key END) AS holders,
       collect(DISTINCT CASE WHEN x:Event THEN x.key END) AS events
"""
# Deleted events leave the computed states of the other identities they were about.
PRUNE_COMPUTED_EVENTS = """
UNWIND $keys AS k
MATCH (:Identity {key: k})-[:HAS_COMPUTED]->(c:ComputedValue)
WITH DISTINCT c
WITH c, [j IN range(0, size(c.events) - 1) WHERE NOT c.events[j] IN $events] AS keep
SET c.ts = [j IN keep | c.ts[j]], c.vals = [j IN keep | c.vals[j]],
    c.events = [j IN keep | c.events[j]]
"""
# Refused-link entries (on any profile) naming a deleted identity, in their pair or reason.
SCRUB_HISTORY = """
MATCH (c:ClusterChange {kind: 'link_refused'})
WHERE any(k IN $keys WHERE k IN c.related OR c.reason CONTAINS k)
DELETE c
RETURN count(*) AS n
"""
# A job's cursor (a computed backfill walks events in key order) naming a deleted event moves
# to the greatest event key before it: the job resumes exactly where it would have.
SCRUB_JOB_CURSORS = """
MATCH (j:Job) WHERE j.cursor IN $keys
CALL (j) {
  OPTIONAL MATCH (e:Event) WHERE e.key < j.cursor
  RETURN max(e.key) AS before
}
SET j.cursor = coalesce(before, '')
"""
# Profiles left without members go, with the ids merged into them and their history.
DELETE_EMPTY_PROFILES = """
UNWIND $ids AS id
MATCH (p:Profile {id: id}) WHERE NOT EXISTS { (p)<-[:IN_PROFILE]-() }
CALL (p) {
  OPTIONAL MATCH (a:ProfileAlias {mergedInto: p.id})
  WITH p, collect(a) AS aliases
  OPTIONAL MATCH (c:ClusterChange)
    WHERE c.profileId = p.id OR c.profileId IN [x IN aliases | x.id]
  // A "created" entry kept on a profile (or alias) node goes with it: counted as history too.
  WITH aliases, collect(c) AS changes,
       size([x IN [p] + aliases WHERE x.createdBy IS NOT NULL]) AS createdEntries
  // DETACH: an alias may still hold what hung off the id it retired (exited memberships).
  FOREACH (x IN aliases + changes | DETACH DELETE x)
  RETURN size(aliases) AS aliases, size(changes) + createdEntries AS history
}
WITH p, p.id AS id, p.size AS counted, aliases, history
DETACH DELETE p
RETURN collect(id) AS ids, count(*) AS profiles, sum(aliases) AS aliases,
       sum(history) AS history, collect(counted) AS countedSizes
"""
# Deletion by source: what the source stored, and the identities it touched.
SOURCE_ITEMS = """
CALL () {
  MATCH (r:Record {source: $source})-[:KEYED_BY]->(i:Identity) RETURN i.key AS key
  UNION
  MATCH (e:Event {source: $source})-[:ABOUT]->(i:Identity) RETURN i.key AS key
  UNION
  MATCH (i:Identity)-[:LINK {source: $source}]-() RETURN i.key AS key
}
OPTIONAL MATCH (:Identity {key: key})-[:IN_PROFILE]->(p:Profile)
RETURN collect(DISTINCT key) AS keys, collect(DISTINCT p.id) AS profiles
"""
DELETE_OF_SOURCE = {
    "records": "MATCH (x:Record {source: $source}) DETACH DELETE x RETURN count(*) AS n",
    "events": "MATCH (x:Event {source: $source}) WITH x, x.type AS type DETACH DELETE x "
              "RETURN count(*) AS n, collect(type) AS types",
    "links": "MATCH ()-[x:LINK {source: $source}]->() DELETE x RETURN count(*) AS n",
}
# The source's events leave the computed states of the identities they were about.
PRUNE_COMPUTED = """
UNWIND $keys AS k
MATCH (:Identity {key: k})-[:HAS_COMPUTED]->(c:ComputedValue)
WITH c, [j IN range(0, size(c.events) - 1) WHERE NOT c.events[j] STARTS WITH $prefix] AS keep
SET c.ts = [j IN keep | c.ts[j]], c.vals = [j IN keep | c.vals[j]],
    c.events = [j IN keep | c.events[j]]
"""
# Identities nothing refers to any more (no record, event or link) are the source's alone.
ORPHANS = """
UNWIND $keys AS k
MATCH (i:Identity {key: k})
WHERE NOT EXISTS { (i)<-[:KEYED_BY|ABOUT]-() } AND NOT EXISTS { (i)-[:LINK]-() }
RETURN collect(i.key) AS keys
"""

# -- metrics (profile/metrics.py, profile/counters.py) -----------------------------------------
# The counters stage, one statement: lock this write's shard, then (once the counters are
# ready: backfilled) add the write's deltas. A write locks one shard only after its own
# changes, and the backfill locks them all before it counts: either the backfill saw this write
# committed, or this write sees the backfill's `ready` and adds its deltas (never both).
ADD_COUNTERS = """
MERGE (s:CounterShard {shard: $shard})
SET s.lockedAt = $now
WITH s
OPTIONAL MATCH (ready:CountersReady)
WITH count(ready) > 0 AS ready
CALL (ready) {
  UNWIND CASE WHEN ready THEN $rows ELSE [] END AS row
  MERGE (c:Counter {id: row.id})
    ON CREATE SET c.kind = row.kind, c.name = row.name, c.shard = row.shard, c.n = 0
  SET c.n = c.n + row.d
}
RETURN ready
"""
READ_COUNTERS = """
OPTIONAL MATCH (ready:CountersReady)
CALL () {
  MATCH (c:Counter)
  WITH c.kind AS kind, c.name AS name, sum(c.n) AS n
  WHERE n <> 0
  RETURN collect({kind: kind, name: name, n: n}) AS counters
}
RETURN ready IS NOT NULL AS ready, counters
"""
LOCK_ALL_SHARDS = """
UNWIND $shards AS i
MERGE (s:CounterShard {shard: i})
SET s.lockedAt = $now
WITH count(*) AS locked
OPTIONAL MATCH (ready:CountersReady)
RETURN ready IS NOT NULL AS ready
"""
# The backfill's one pass: profiles by size (members, kept by re-clustering),
# identities by namespace, events by type. Every identity: one a deferred batch created and the
# settler has not yet put in a profile was counted when the batch was accepted, and its settle
# will not count it again (pipeline/backlog.py).
COUNT_ALL = """
CALL () {
  MATCH (p:Profile)
  WITH p.size AS size WHERE size > 0
  WITH size, count(*) AS n
  RETURN collect([size, n]) AS sizes
}
CALL () {
  MATCH (i:Identity)
  WITH i.namespace AS namespace, count(*) AS n
  RETURN collect([namespace, n]) AS namespaces
}
CALL () {
  MATCH (e:Event)
  WITH e.type AS type, count(*) AS n
  RETURN collect([type, n]) AS types
}
RETURN sizes, namespaces, types
"""
RESET_COUNTERS = """
CALL () { MATCH (c:Counter) DELETE c }
CALL () {
  UNWIND $rows AS row
  CREATE (:Counter {id: row.id, kind: row.kind, name: row.name, shard: row.shard, n: row.d})
}
CREATE (:CountersReady {at: timestamp()})
"""
# Test profiles (found from their flagged records: few) with their sizes and namespaces, and
# the types of events about test profiles only: what `metrics` subtracts to leave them out.
TEST_PROFILE_FIGURES = """
CALL () {
  MATCH (:Record {testProfile: true})-[:KEYED_BY]->(:Identity)-[:IN_PROFILE]->(p:Profile)
  RETURN collect(DISTINCT p) AS tests
}
CALL (tests) {
  UNWIND tests AS p
  MATCH (p)<-[:IN_PROFILE]-(m:Identity)
  WITH p, collect(m.namespace) AS namespaces
  RETURN collect([size(namespaces), namespaces]) AS profiles
}
CALL (tests) {
  UNWIND tests AS p
  MATCH (p)<-[:IN_PROFILE]-(:Identity)<-[:ABOUT]-(e:Event)
  WITH DISTINCT e
  WHERE NOT EXISTS { (e)-[:ABOUT]->(:Identity)-[:IN_PROFILE]->(q:Profile) WHERE NOT q IN tests }
  RETURN collect(e.type) AS types
}
RETURN profiles, types
"""
