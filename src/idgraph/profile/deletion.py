"""Privacy deletion: a whole profile cluster, or everything one source contributed.

Each is one pipeline write (one transaction: the deletion, then re-clustering what a source held
together, views, and the change feed after the commit) and returns a receipt of what was
removed. A deleted cluster's links to identities of other clusters go too, so no later data can
reach it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from idgraph.db.graph import Tx
from idgraph.pipeline.changeset import ChangeSet
from idgraph.privacy.suppression import Suppressions
from idgraph.profile import repository as q


@dataclass
class Receipt:
    """What a deletion removed: the profile ids concerned and counts of each kind."""

    profile_ids: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


async def delete_profile(tx: Tx, identity_key: str,
                         suppressions: Suppressions | None = None) -> ChangeSet:
    """Remove the whole cluster of one identity; an unknown identity removes nothing.
    `suppressions`: also suppress every identity of the cluster (the identity asked for when
    it is unknown), so later data carrying them is rejected."""
    change = ChangeSet(cause="delete profile")
    rows = await tx.run(q.CLUSTER_OF_IDENTITY, key=identity_key, now=change.now)
    if suppressions is not None:
        keys = rows[0]["keys"] if rows else [identity_key]
        change.counts["suppressed"] = await suppressions.suppress(tx, keys, change.now)
    if not rows:
        return change
    row = rows[0]
    change.receipt_ids = [row["id"], *sorted(row["aliases"])]
    keys = row["keys"]
    reach = (await tx.run(q.REACH_OF_CLUSTER, keys=keys))[0]
    if reach["events"]:
        await tx.run(q.PRUNE_COMPUTED_EVENTS, keys=reach["holders"], events=reach["events"])
    deleted_events = await _delete_attached(tx, keys, change)
    if deleted_events:
        await tx.run(q.SCRUB_JOB_CURSORS, keys=deleted_events)
    await _delete_profiles(tx, [row["id"]], change)
    scrubbed = (await tx.run(q.SCRUB_HISTORY, keys=keys))[0]["n"]
    change.counts["history"] = change.counts.get("history", 0) + scrubbed
    # Other profiles the person's records and events were fragments of: their views follow.
    change.touched = set(reach["profiles"]) - change.deleted
    change.updated = set(change.touched)
    return change


async def delete_source(tx: Tx, source: str) -> ChangeSet:
    """Remove every record, event and link of a source; the pipeline re-clusters what it held
    together. Profiles left without members go."""
    change = ChangeSet(cause=f"delete source:{source}")
    touched = (await tx.run(q.SOURCE_ITEMS, source=source))[0]
    await tx.run(q.PRUNE_COMPUTED, keys=touched["keys"], prefix=f"{source}|")
    for name, statement in q.DELETE_OF_SOURCE.items():
        _count(change, name, await tx.run(statement, source=source))
    orphans = (await tx.run(q.ORPHANS, keys=touched["keys"]))[0]["keys"]
    for name in ("computed_values", "memberships", "identities"):
        _count(change, name, await tx.run(q.DELETE_ATTACHED[name], keys=orphans))
    # Profiles whose members were all the source's alone are empty now: re-clustering the rest
    # never reaches them, so they go first.
    await _delete_profiles(tx, touched["profiles"], change)
    change.seeds = set(touched["keys"]) - set(orphans)
    # Every touched profile lost the source's records, not only the re-clustered ones.
    change.touched = set(touched["profiles"])
    change.updated = change.touched - change.deleted
    change.receipt_ids = sorted(change.touched)
    return change


def receipt(change: ChangeSet) -> Receipt:
    """The receipt of a deletion's change set."""
    return Receipt(list(change.receipt_ids), dict(change.counts))


async def _delete_attached(tx: Tx, keys: list[str], change: ChangeSet) -> list[str]:
    """Delete what hangs off the identities `keys`; returns the keys of the deleted events."""
    event_keys: list[str] = []
    for name, statement in q.DELETE_ATTACHED.items():
        rows = await tx.run(statement, keys=keys)
        _count(change, name, rows)
        event_keys += rows[0].get("keys", []) if rows and name == "events" else []
    return event_keys


def _count(change: ChangeSet, name: str, rows: list[dict[str, Any]]) -> None:
    """Add a deletion statement's count to the receipt, and what it removed to the counters'."""
    row = rows[0] if rows else {}
    change.counts[name] = change.counts.get(name, 0) + row.get("n", 0)
    change.removed_event_types += row.get("types", [])
    change.removed_namespaces += row.get("namespaces", [])


async def _delete_profiles(tx: Tx, ids: list[str], change: ChangeSet) -> None:
    row = (await tx.run(q.DELETE_EMPTY_PROFILES, ids=ids))[0]
    change.deleted |= set(row["ids"])
    change.removed_sizes += [size for size in row["countedSizes"] if size]
    for name in ("profiles", "aliases", "history"):
        change.counts[name] = change.counts.get(name, 0) + row[name]
