"""The materialised merged view: per profile, the default policy's merged attributes as the
properties of one (:ProfileView) node, so a segment rule scans profiles, not fragments.

(:Profile)-[:VIEW]->(:ProfileView {`address.city`: …, _profile, _json, _isTest, _size,
_updatedAt, _policy}). Attribute paths whose every part matches ATTRIBUTE_PATH and whose value
Neo4j can store (a scalar or a non-empty list of one scalar type) become properties; the whole
merged object is always in `_json`. Metadata names start with `_`, which no attribute property
can, so the two never collide. Kept exact inside every transaction that changes a profile's
records or members (see docs/profiles.md, "The materialised view").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from idgraph.db.graph import Graph, Tx
from idgraph.identity.clustering import ClusterReport
from idgraph.identity.items import Item
from idgraph.identity.service import now_ms
from idgraph.profile.attributes import storable
from idgraph.profile.merge import Fragment, Policy, merge, merged_attributes
from idgraph.profile.policies import pick
from idgraph.profile.service import says_test

PART = r"[A-Za-z][A-Za-z0-9_]{0,63}"
ATTRIBUTE_PATH = re.compile(rf"{PART}(?:\.{PART}){{0,7}}")
REBUILD_CHUNK = 500

DEFAULT_POLICY = """
OPTIONAL MATCH (mp:MergePolicy {isDefault: true})
RETURN collect(mp {.*}) AS policies
"""
# Everything a refresh needs for many profiles in one round trip: the profiles named or
# holding the identities given (a retired or deleted id yields no entry), their fragments, test
# flag and the stored default policy. Record keys are read only when that policy stitches off.
READ = """
CALL () {""" + DEFAULT_POLICY + """}
CALL () {
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
         // profile/repository.IS_TEST over the records just read, not a second expansion
         true IN collect(r.testProfile) AS isTest
}
// One row (the driver's cost is per row): [id, primaryKey, size, fragments, isTest, node id]
// per profile.
RETURN head(collect(policies)) AS policies,
       collect([p.id, p.primaryKey, p.size, fragments, isTest, elementId(p)]) AS profiles"""
# Profiles by node id (read or created in this transaction): in an updating statement a lookup
# by id would be a locking index seek, which opens a fresh index reader each time.
WRITE = """
UNWIND $rows AS row
MATCH (p:Profile) WHERE elementId(p) = row.node
MERGE (p)-[:VIEW]->(v:ProfileView)
SET v = row.props
"""
DROP = """
UNWIND $ids AS id
MATCH (v:ProfileView {_profile: id})
DETACH DELETE v
"""
# One chunk of a rebuild, in id order (index-backed), locking the profiles so a concurrent
# ingest of the same profile waits for the chunk (or the chunk for it) instead of racing.
NEXT_CHUNK = """
MATCH (p:Profile) WHERE p.id > $after
WITH p ORDER BY p.id LIMIT $limit
SET p.lockedAt = $now
RETURN p.id AS id
"""


async def after_batch(tx: Tx, items: list[Item], report: ClusterReport) -> None:
    """Identity hook: new records change their profiles' views; re-clustering its profiles'.
    Profiles the batch made from identities it created are built from its own records; the
    others are read back."""
    records = [it for it in items if it.kind == "record"]
    built = _fresh_rows(report.fresh, report.profile_nodes, records)
    fresh_keys = {k for _, members in report.fresh.values() for k in members}
    keys = {k for it in records for k in it.identity_keys} - fresh_keys
    await refresh(tx, set(report.changed_profiles) - report.fresh.keys(), keys, built)


def _fresh_rows(fresh: dict[str, tuple[str, frozenset[str]]], nodes: dict[str, str],
                records: list[Item]) -> list[dict[str, Any]]:
    """READ's profile rows for profiles whose every record is in `records`: a record is a
    fragment of each profile holding one of its identities. `nodes`: node id by profile id."""
    profile_of = {k: pid for pid, (_, members) in fresh.items() for k in members}
    fragments: dict[str, list[dict[str, Any]]] = {pid: [] for pid in fresh}
    tests: set[str] = set()
    for item in records:
        for pid in {profile_of[k] for k in item.identity_keys if k in profile_of}:
            fragments[pid].append({"source": item.source, "recordId": item.item_id,
                                   "ts": item.ts, "attributes": item.payload,
                                   "keys": list(item.identity_keys)})
            if says_test(item.payload):
                tests.add(pid)
    return [{"id": pid, "primaryKey": primary, "size": len(members),
             "fragments": fragments[pid], "isTest": pid in tests, "node": nodes[pid]}
            for pid, (primary, members) in sorted(fresh.items())]


async def refresh(tx: Tx, ids: Iterable[str], keys: Iterable[str] = (),
                  built: list[dict[str, Any]] = ()) -> None:
    """Recompute the views of the profiles `ids` and of the profiles holding `keys`, batched;
    drop the views of ids that are no profile any more (merged away, deleted). `built`: rows
    (as READ returns them) of profiles whose fragments the caller already has."""
    ids, keys = sorted(set(ids)), sorted(set(keys))
    if not ids and not keys and not built:
        return
    now = now_ms()
    policies, rows = None, list(built)
    if ids or keys:
        [[policies, found]] = await tx.values(READ, ids=ids, keys=keys, now=now)
        rows += [{"id": pid, "primaryKey": primary, "size": size, "fragments": fragments,
                  "isTest": is_test, "node": node}
                 for pid, primary, size, fragments, is_test, node in found]
    if rows:
        if policies is None:  # READ found no profile (or was not needed)
            [[policies]] = await tx.values(DEFAULT_POLICY)
        policy = pick(policies, None)
        await tx.run(WRITE, rows=[{"node": r["node"], "props": properties(r, policy, now)}
                                  for r in rows])
    gone = set(ids) - {r["id"] for r in rows}
    if gone:
        await drop(tx, gone)


async def drop(tx: Tx, ids: Iterable[str]) -> None:
    await tx.run(DROP, ids=sorted(set(ids)))


async def count_profiles(graph: Graph) -> int:
    return (await graph.read("MATCH (p:Profile) RETURN count(p) AS n"))[0]["n"]


async def rebuild(graph: Graph, chunk: int = REBUILD_CHUNK,
                  on_chunk: Callable[[int], None] | None = None) -> int:
    """Recompute every view, one write transaction per chunk of profiles; returns the count.

    One transaction for all profiles could outgrow memory and the timeout, and CALL … IN
    TRANSACTIONS cannot run inside a managed transaction. Each chunk reads the default policy
    in its own transaction, and ingest hooks read it in theirs, so once the loop ends every view
    follows the policy in force.
    """
    after, done = "", 0
    while True:
        ids = await graph.write_tx(lambda tx, a=after: _rebuild_chunk(tx, a, chunk))
        done += len(ids)
        if on_chunk:
            on_chunk(len(ids))
        if len(ids) < chunk:
            return done
        after = ids[-1]


async def _rebuild_chunk(tx: Tx, after: str, chunk: int) -> list[str]:
    ids = [r["id"] for r in await tx.run(NEXT_CHUNK, after=after, limit=chunk, now=now_ms())]
    await refresh(tx, ids)
    return ids


def properties(row: dict[str, Any], policy: Policy, now: int) -> dict[str, Any]:
    """The view node's properties: storable attribute paths, the merged JSON and metadata."""
    fragments = [Fragment.from_row(f) for f in row["fragments"]]
    # Stitching off: the primary identity's view, as profileById shows it.
    values = merge(fragments, policy, row["primaryKey"])
    props = {v.path: v.winner.value for v in values
             if ATTRIBUTE_PATH.fullmatch(v.path) and storable(v.winner.value)}
    props.update({
        "_profile": row["id"], "_isTest": bool(row["isTest"]), "_size": row["size"],
        "_updatedAt": now, "_policy": policy.id, "_stitched": policy.stitching,
        "_json": json.dumps(merged_attributes(values), sort_keys=True, separators=(",", ":")),
    })
    return props
