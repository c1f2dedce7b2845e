"""Identity use cases: ingest (and its dry run), resolve, look up, unlink, explain, history."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from idgraph.db.graph import Graph, Tx
from idgraph.identity import repository as q
from idgraph.identity.clustering import ClusterReport, recluster
from idgraph.identity.items import Item, Limits, Rejection, validate_item
from idgraph.identity.namespaces import NamespaceRegistry
from idgraph.identity.normalise import IdentityKey, IdentityRejected, normalise_identity


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    report: ClusterReport = field(default_factory=ClusterReport)

    def absorb(self, other: IngestResult) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        for name in ("created", "merged", "split", "refused"):
            getattr(self.report, name).extend(getattr(other.report, name))
        self.report.changed_profiles |= other.report.changed_profiles
        self.report.touched_profiles |= other.report.touched_profiles


@dataclass(frozen=True)
class ProfileView:
    id: str
    primary_key: str
    identities: list[dict[str, Any]]
    created_at: int
    updated_at: int


def now_ms() -> int:
    return int(time.time() * 1000)


class IdentityService:
    def __init__(self, graph: Graph, registry: NamespaceRegistry, limits: Limits,
                 max_cluster_size: int = 50, batch_size: int = 1000) -> None:
        # Called inside every transaction that stores items or re-clusters (ingest, unlink),
        # with the newly stored items and what re-clustering changed: other domains (profiles'
        # computed attributes and views) keep their state current in the same transaction.
        self.after_batch: list[Callable[[Tx, list[Item], ClusterReport], Awaitable[None]]] = []
        self.graph = graph
        self.registry = registry
        self.limits = limits
        self.max_cluster_size = max_cluster_size
        self.batch_size = batch_size

    # -- ingest -----------------------------------------------------------------------------
    def validate(self, records: Sequence[dict], events: Sequence[dict],
                 ) -> tuple[list[tuple[int, Item]], list[Rejection]]:
        """Valid items with their input index (records first, then events) and rejections."""
        good, bad = [], []
        raw_items = [(r, "record") for r in records] + [(e, "event") for e in events]
        for index, (raw, kind) in enumerate(raw_items):
            try:
                good.append((index, validate_item(raw, kind, self.registry, self.limits)))
            except IdentityRejected as exc:
                bad.append(Rejection(index, exc.code, str(exc)))
        return good, bad

    async def ingest(self, records: Sequence[dict] = (), events: Sequence[dict] = (),
                     dry_run: bool = False) -> IngestResult:
        good, bad = self.validate(records, events)
        result = IngestResult(rejected=bad)
        items = _dedupe([item for _, item in good], result)
        run = self.graph.rolled_back_tx if dry_run else self.graph.write_tx
        for start in range(0, len(items), self.batch_size):
            batch = items[start:start + self.batch_size]
            result.absorb(await run(lambda tx, b=batch: self._ingest_batch(tx, b)))
        return result

    async def _ingest_batch(self, tx: Tx, items: list[Item]) -> IngestResult:
        batch_id, now = uuid.uuid4().hex, now_ms()
        new_items = await _claim(tx, items, batch_id, now)
        result = IngestResult(accepted=len(new_items), duplicates=len(items) - len(new_items))
        seeds, touched = await _attach(tx, new_items, batch_id)
        link_rows = [{"a": a, "b": b, "source": it.source, "id": it.item_id, "ts": it.ts}
                     for it in new_items for a, b in it.pairs()]
        if link_rows:
            # Evidence for a pair that is already active never changes the clusters (replaying
            # it earlier only joins sets that end up joined anyway; see docs/identity.md), so
            # only new identities and unsettled pairs are re-clustered.
            for row in await tx.run(q.MERGE_LINKS, rows=link_rows, batch=batch_id):
                seeds |= {row["a"], row["b"]}
        if seeds:
            result.report = await recluster(tx, seeds, self.registry, self.max_cluster_size,
                                            now, cause=f"ingest:{batch_id}")
        result.report.touched_profiles = touched | result.report.changed_profiles
        await self.run_hooks(tx, new_items, result.report)
        return result

    async def run_hooks(self, tx: Tx, items: list[Item], report: ClusterReport) -> None:
        for hook in self.after_batch:
            await hook(tx, items, report)

    # -- reads ------------------------------------------------------------------------------
    def normalise(self, namespace: str, value: str) -> IdentityKey:
        return normalise_identity(self.registry, namespace, value, self.limits.default_region)

    async def resolve(self, identities: Sequence[tuple[str, str]]) -> list[str | None]:
        """Profile id of each identity, in input order; None when unknown or invalid."""
        keys = []
        for namespace, value in identities:
            try:
                keys.append(self.normalise(namespace, value).key)
            except IdentityRejected:
                keys.append("")  # matches no identity
        if not keys:
            return []
        rows = await self.graph.read(q.RESOLVE, keys=keys)
        by_index = {row["idx"]: row["profileId"] for row in rows}
        return [by_index.get(i) for i in range(len(keys))]

    async def histories(self, profile_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Cluster changes of several profiles (with their merged-away ids), newest first."""
        rows = await self.graph.read(q.HISTORIES, ids=profile_ids)
        return {row["id"]: row["changes"] for row in rows}

    # -- operations -------------------------------------------------------------------------
    async def unlink(self, pair: tuple[IdentityKey, IdentityKey] | None = None,
                     source: str | None = None, reason: str = "manual unlink") -> dict:
        """Unlink one pair (optionally only one source's evidence) or every link of a source."""

        async def work(tx: Tx) -> dict:
            now = now_ms()
            if pair is not None:
                a, b = sorted(k.key for k in pair)
                rows = [{"a": a, "b": b}]
            else:
                rows = await tx.run(q.LINKS_OF_SOURCE, source=source)
            if not rows:
                return {"unlinked": 0, "report": ClusterReport()}
            done = await tx.run(q.UNLINK, rows=rows, source=source, reason=reason, now=now)
            seeds = {r["a"] for r in rows} | {r["b"] for r in rows}
            report = await recluster(tx, seeds, self.registry, self.max_cluster_size, now,
                                     cause=f"unlink:{reason}")
            await self.run_hooks(tx, [], report)
            return {"unlinked": done[0]["unlinked"], "report": report}

        return await self.graph.write_tx(work)


async def _attach(tx: Tx, items: list[Item], batch_id: str) -> tuple[set[str], set[str]]:
    """Merge identities and attach items: (identities this batch created, profiles touched)."""
    created: set[str] = set()
    touched: set[str] = set()
    for kind, statement in (("record", q.ATTACH_RECORD_IDENTITIES),
                            ("event", q.ATTACH_EVENT_IDENTITIES)):
        rows = [{"item": it.key, "identity": i.key, "namespace": i.namespace,
                 "value": i.value, "ts": it.ts}
                for it in items if it.kind == kind for i in it.identities]
        for row in await tx.run(statement, rows=rows, batch=batch_id) if rows else []:
            if row["created"]:
                created.add(row["key"])
            if row["profileId"]:
                touched.add(row["profileId"])
    return created, touched


def _dedupe(items: list[Item], result: IngestResult) -> list[Item]:
    """The same record or event twice in one call counts once (the rest are duplicates)."""
    seen: dict[tuple[str, str], Item] = {}
    for item in items:
        if (item.kind, item.key) in seen:
            result.duplicates += 1
        else:
            seen[(item.kind, item.key)] = item
    return list(seen.values())


async def _claim(tx: Tx, items: list[Item], batch_id: str, now: int) -> list[Item]:
    created: set[tuple[str, str]] = set()
    for kind, statement in (("record", q.CLAIM_RECORDS), ("event", q.CLAIM_EVENTS)):
        rows = [{"key": it.key, "source": it.source, "id": it.item_id, "ts": it.ts,
                 "payload": it.payload, "type": it.event_type}
                for it in items if it.kind == kind]
        if rows:
            for row in await tx.run(statement, rows=rows, batch=batch_id, now=now):
                if row["created"]:
                    created.add((kind, row["key"]))
    return [it for it in items if (it.kind, it.key) in created]


async def explain(service: IdentityService, a: IdentityKey, b: IdentityKey) -> dict[str, Any]:
    """The chain of links (with provenance) joining a and b, or what keeps them apart."""
    if a == b:
        return {"same_profile": True, "links": [], "message": "the same identity"}
    rows = await service.graph.read(q.EXPLAIN_PATH, a=a.key, b=b.key)
    if not rows:
        return {"same_profile": False, "links": [], "message": "one of the identities is unknown"}
    row = rows[0]
    same = row["profileA"] is not None and row["profileA"] == row["profileB"]
    links = row["links"] or []
    if same:
        message = f"linked by a chain of {len(links)} link(s)"
    elif links:
        blocked = [lk for lk in links if lk["status"] != "active"]
        message = "; ".join(f"{lk['a']} - {lk['b']} ({lk['source']}): {lk['status']}, "
                            f"{lk['reason'] or 'no reason recorded'}" for lk in blocked)
    else:
        message = "no evidence connects them"
    return {"same_profile": same, "links": links, "message": message}
