"""Privacy deletion: a whole profile cluster, or everything one source contributed.

Each runs in one write transaction and returns a receipt of what was removed. A deleted
cluster's links to identities of other clusters go too, so no later data can reach it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from idgraph.db.graph import Tx
from idgraph.identity.clustering import ClusterReport, recluster
from idgraph.identity.service import IdentityService, now_ms
from idgraph.profile import materialise

# Writing to the profile locks it: a concurrent ingest of this cluster waits for us.
CLUSTER = """
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
              "WITH DISTINCT x DETACH DELETE x RETURN count(*) AS n",
    "computed_values": "UNWIND $keys AS k MATCH (:Identity {key: k})-[:HAS_COMPUTED]->"
                       "(x:ComputedValue) WITH DISTINCT x DETACH DELETE x RETURN count(*) AS n",
    "links": "UNWIND $keys AS k MATCH (:Identity {key: k})-[x:LINK]-() "
             "WITH DISTINCT x DELETE x RETURN count(*) AS n",
    "memberships": "UNWIND $keys AS k MATCH (:Identity {key: k})-[x:IN_PROFILE]->() "
                   "DELETE x RETURN count(*) AS n",
    "identities": "UNWIND $keys AS k MATCH (x:Identity {key: k}) "
                  "DETACH DELETE x RETURN count(*) AS n",
}
# Profiles left without members go, with the ids merged into them and their history.
DELETE_PROFILES = """
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
  FOREACH (x IN aliases + changes | DELETE x)
  RETURN size(aliases) AS aliases, size(changes) + createdEntries AS history
}
DETACH DELETE p
RETURN count(*) AS profiles, sum(aliases) AS aliases, sum(history) AS history
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
    "events": "MATCH (x:Event {source: $source}) DETACH DELETE x RETURN count(*) AS n",
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


@dataclass
class Receipt:
    profile_ids: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    report: ClusterReport = field(default_factory=ClusterReport)


async def _delete_attached(tx: Tx, keys: list[str], receipt: Receipt) -> None:
    for name, statement in DELETE_ATTACHED.items():
        rows = await tx.run(statement, keys=keys)
        receipt.counts[name] = receipt.counts.get(name, 0) + (rows[0]["n"] if rows else 0)


async def _delete_profiles(tx: Tx, ids: list[str], receipt: Receipt) -> None:
    row = (await tx.run(DELETE_PROFILES, ids=ids))[0]
    for name in ("profiles", "aliases", "history"):
        receipt.counts[name] = receipt.counts.get(name, 0) + row[name]


async def delete_profile(tx: Tx, identity_key: str) -> Receipt:
    """Remove the whole cluster of one identity; an unknown identity removes nothing."""
    receipt = Receipt()
    rows = await tx.run(CLUSTER, key=identity_key, now=now_ms())
    if not rows:
        return receipt
    row = rows[0]
    receipt.profile_ids = [row["id"], *sorted(row["aliases"])]
    await _delete_attached(tx, row["keys"], receipt)
    await _delete_profiles(tx, [row["id"]], receipt)
    await materialise.drop(tx, [row["id"]])
    return receipt


async def delete_source(tx: Tx, source: str, identity: IdentityService) -> Receipt:
    """Remove every record, event and link of a source; re-cluster what it held together."""
    receipt = Receipt()
    touched = (await tx.run(SOURCE_ITEMS, source=source))[0]
    await tx.run(PRUNE_COMPUTED, keys=touched["keys"], prefix=f"{source}|")
    for name, statement in DELETE_OF_SOURCE.items():
        receipt.counts[name] = (await tx.run(statement, source=source))[0]["n"]
    orphans = (await tx.run(ORPHANS, keys=touched["keys"]))[0]["keys"]
    await _delete_orphans(tx, orphans, receipt)
    remaining = set(touched["keys"]) - set(orphans)
    if remaining:
        receipt.report = await recluster(tx, remaining, identity.registry,
                                         identity.max_cluster_size, now_ms(),
                                         cause=f"delete source:{source}",
                                         max_component=identity.component_limit.max_identities)
    await _delete_profiles(tx, touched["profiles"], receipt)
    receipt.profile_ids = sorted(set(touched["profiles"]))
    # Every touched profile lost the source's records, not only the re-clustered ones: the
    # hooks (materialised views) see them all as changed; deleted ones drop their views.
    receipt.report.changed_profiles |= set(receipt.profile_ids)
    await identity.run_hooks(tx, [], receipt.report)
    return receipt


async def _delete_orphans(tx: Tx, keys: list[str], receipt: Receipt) -> None:
    for name in ("computed_values", "memberships", "identities"):
        rows = await tx.run(DELETE_ATTACHED[name], keys=keys)
        receipt.counts[name] = rows[0]["n"] if rows else 0
