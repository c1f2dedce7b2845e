"""The materialised merged view: per profile, the default policy's merged attributes as the
properties of one (:ProfileView) node, so a segment rule scans profiles, not fragments.

(:Profile)-[:VIEW]->(:ProfileView {`address.city`: …, _profile, _json, _isTest, _size,
_updatedAt, _policy, _policyRevision, _stitched}). Attribute paths whose every part matches
ATTRIBUTE_PATH and whose value Neo4j can store (a scalar or a non-empty list of one scalar type)
become properties; the whole merged object is always in `_json`. Metadata names start with `_`,
which no attribute property can, so the two never collide. Kept exact by the pipeline's views
stage inside every transaction that changes a profile's records or members (see
docs/profiles.md, "The materialised view").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from idgraph.clock import now_ms
from idgraph.db.graph import Graph, Tx
from idgraph.identity.clustering import Joined
from idgraph.identity.items import Item
from idgraph.identity.joining import PROFILE, PROFILE_NODE
from idgraph.pipeline.changeset import ChangeSet
from idgraph.pipeline.pipeline import Pipeline
from idgraph.profile import repository as q
from idgraph.profile.attributes import ATTRIBUTE_PATH, storable
from idgraph.profile.facts import says_test
from idgraph.profile.merge import Fragment, Policy, flatten, merge, merged_attributes
from idgraph.profile.policies import pick

if TYPE_CHECKING:
    from idgraph.jobs.service import Advance, Job

VIEW_REBUILD = "view_rebuild"


@dataclass(frozen=True)
class Views:
    """The pipeline's third stage: new records change their profiles' views; re-clustering its
    profiles'; a rebuild the ones it names; deleted profiles lose theirs. Profiles the change
    made from identities it created are built from its own records; the others are read back."""

    name: str = "views"

    async def __call__(self, tx: Tx, change: ChangeSet) -> None:
        report, records = change.report, change.records
        built = _fresh_rows(report.fresh, report.profile_nodes, records)
        fresh_keys = {k for _, members in report.fresh.values() for k in members}
        keys = {k for it in records for k in it.identity_keys} - fresh_keys
        bare = _bare_joins(change)
        ids = ((report.changed_profiles | change.updated) - report.fresh.keys() - change.deleted
               - bare.keys())
        keys, held = _profiles_held(keys, change, skip=bare.keys())
        held |= await touch(tx, {report.profile_nodes[pid]: j.size for pid, j in bare.items()})
        await refresh(tx, ids, keys, built, nodes=report.profile_nodes, held=held)
        if change.deleted:
            await drop(tx, change.deleted)


def _bare_joins(change: ChangeSet) -> dict[str, Joined]:
    """The joined profiles whose merged view stays as it is but for its size: every record of
    the change holding one of their identities says nothing (no attribute, no test flag), and
    the primary identity stayed. A record that says nothing adds no candidate to any merge
    (profile/merge.py), whatever the policy; a joined profile changed nothing else
    (identity/clustering.py, ClusterReport.joined). Saves reading back all of the profile's
    records to merge them again: the commonest record of a till's or an app's daily file (a
    known e-mail and a new device id) is such a join."""
    bare = {pid: j for pid, j in change.report.joined.items()
            if j.primary_kept and pid not in change.updated}
    if not bare:
        return {}
    owner = {k: pid for pid, j in bare.items() for k in j.members}
    for item in change.records:
        if _says_something(item.payload):
            for key in item.identity_keys:
                row = change.visited.get(key)
                pid = owner.get(key) or (row[PROFILE] if row is not None else None)
                if pid is not None:
                    bare.pop(pid, None)
    return bare


def _says_something(payload: str) -> bool:
    return payload != "{}" and bool(flatten(json.loads(payload)))


def _profiles_held(keys: set[str], change: ChangeSet, skip: Iterable[str] = ()
                   ) -> tuple[set[str], set[str]]:
    """The record identities whose profile must still be found by key, and the node ids of
    the profiles this transaction already read for the others (but those in `skip`). An
    identity it created was re-clustered: its profile is built or among the changed ones. One
    it read (and locked) keeps the profile read, unless re-clustering moved it, and then both
    ends are changed profiles; a read profile merged away is a ProfileAlias now, which
    READ_FOR_VIEWS does not match."""
    by_key, held, skip = set(), set(), set(skip)
    for key in keys - change.fresh:
        row = change.visited.get(key)
        if row is not None and row[PROFILE_NODE] is not None:
            if row[PROFILE] not in skip:
                held.add(row[PROFILE_NODE])
        else:
            by_key.add(key)
    return by_key, held


def _fresh_rows(fresh: dict[str, tuple[str, frozenset[str]]], nodes: dict[str, str],
                records: list[Item]) -> list[dict[str, Any]]:
    """READ_FOR_VIEWS' profile rows for profiles whose every record is in `records`: a record
    is a fragment of each profile holding one of its identities. `nodes`: node id by profile
    id."""
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
                  built: list[dict[str, Any]] | None = None, *,
                  nodes: Mapping[str, str] | None = None, held: Iterable[str] = ()) -> None:
    """Recompute the views of the profiles `ids` and of the profiles holding `keys`, batched;
    drop the views of ids that are no profile any more (merged away, deleted). `built`: rows
    (as READ_FOR_VIEWS returns them) of profiles whose fragments the caller already has.
    `nodes`: node ids (of this transaction) of some of the `ids`; `held`: node ids of more
    profiles to recompute, found without an index seek."""
    ids, keys, held = sorted(set(ids)), sorted(set(keys)), sorted(set(held))
    if not ids and not keys and not held and not built:
        return
    now = now_ms()
    policies, rows = None, list(built or [])
    if ids or keys or held:
        nodes = nodes or {}
        by_node = sorted({nodes[pid] for pid in ids if pid in nodes} | set(held))
        [[policies, found]] = await tx.values(
            q.READ_FOR_VIEWS, nodes=by_node, ids=[pid for pid in ids if pid not in nodes],
            keys=keys, now=now)
        rows += [{"id": pid, "primaryKey": primary, "size": size, "fragments": fragments,
                  "isTest": is_test, "node": node}
                 for pid, primary, size, fragments, is_test, node in found]
    if rows:
        if policies is None:  # READ_FOR_VIEWS found no profile (or was not needed)
            [[policies]] = await tx.values(q.DEFAULT_POLICY)
        policy = pick(policies, None)
        await tx.run(q.WRITE_VIEWS, rows=[{"node": r["node"], "props": properties(r, policy, now)}
                                          for r in rows])
    gone = set(ids) - {r["id"] for r in rows}
    if gone:
        await drop(tx, gone)


async def touch(tx: Tx, sizes: Mapping[str, int]) -> set[str]:
    """Set the size (and time) of the views of the profiles `sizes` names by node id, whose
    merged data stays; returns the node ids of those that have no view yet."""
    if not sizes:
        return set()
    [[missing]] = await tx.values(q.TOUCH_VIEWS, now=now_ms(), rows=[
        {"node": node, "size": size} for node, size in sorted(sizes.items())])
    return set(missing)


async def drop(tx: Tx, ids: Iterable[str]) -> None:
    await tx.run(q.DROP_VIEWS, ids=sorted(set(ids)))


@dataclass(frozen=True)
class ViewRebuild:
    """The job recomputing every view (after a default-policy change, an upgrade, a repair):
    profiles in id order, one pipeline write per chunk. One transaction for all profiles could
    outgrow memory and the timeout, and CALL … IN TRANSACTIONS cannot run inside a managed
    transaction. Each chunk reads the default policy in its own transaction, as every ingest
    does, so once the walk ends every view follows the policy in force; until then reads merge
    at read time for views of another policy (profile/repository.py, VIEW)."""

    pipeline: Pipeline
    kind: str = VIEW_REBUILD

    async def total(self, job: Job) -> int | None:
        return await count_profiles(self.pipeline.graph)

    async def chunk(self, job: Job, cursor: str, limit: int, advance: Advance
                    ) -> tuple[str, bool]:
        async def work(tx: Tx) -> ChangeSet:
            rows = await tx.run(q.NEXT_PROFILES, after=cursor, limit=limit, now=now_ms())
            ids = [r["id"] for r in rows]
            if ids:
                await advance(tx, ids[-1], len(ids))
            return ChangeSet(cause=f"job:{job.id}", updated=set(ids))

        change = await self.pipeline.write(work)
        return max(change.updated, default=cursor), len(change.updated) < limit

    async def finish(self, job: Job) -> None:
        return None


async def count_profiles(graph: Graph) -> int:
    return int((await graph.read(q.COUNT_PROFILES))[0]["n"])


def properties(row: dict[str, Any], policy: Policy, now: int) -> dict[str, Any]:
    """The view node's properties: storable attribute paths, the merged JSON and metadata."""
    fragments = [Fragment.from_row(f) for f in row["fragments"]]
    # Stitching off: the primary identity's view, as profileById shows it.
    values = merge(fragments, policy, row["primaryKey"])
    props = {v.path: v.winner.value for v in values
             if ATTRIBUTE_PATH.fullmatch(v.path) and storable(v.winner.value)}
    props.update({
        "_profile": row["id"], "_isTest": bool(row["isTest"]), "_size": row["size"],
        "_updatedAt": now, "_policy": policy.id, "_policyRevision": policy.revision,
        "_stitched": policy.stitching,
        "_json": json.dumps(merged_attributes(values), sort_keys=True, separators=(",", ":")),
    })
    return props
