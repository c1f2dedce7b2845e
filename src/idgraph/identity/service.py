"""Identity use cases: ingest (and its dry run), resolve, look up, unlink, explain, history."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from idgraph.clock import now_ms
from idgraph.db.graph import Graph, Tx
from idgraph.identity import repository as q
from idgraph.identity.batching import Unit, plan_units
from idgraph.identity.clustering import (
    MAX_COMPONENT_IDENTITIES,
    ClusterReport,
    ComponentLimit,
    ComponentTooLarge,
)
from idgraph.identity.evidence import Evidence, aggregate
from idgraph.identity.items import (
    Item,
    Limits,
    Rejection,
    TypeAttributes,
    event_property_columns,
    validate_item,
)
from idgraph.identity.linking import namespace_of
from idgraph.identity.namespaces import NamespaceRegistry
from idgraph.identity.normalise import IdentityKey, IdentityRejected, Normaliser
from idgraph.pipeline.changeset import ChangeSet
from idgraph.pipeline.pipeline import Pipeline
from idgraph.privacy.suppression import SUPPRESSED, Suppressions


@dataclass
class IngestResult:
    """What an ingest did (or, for a dry run, would do): counts, rejections, cluster changes."""

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


class Resolved(NamedTuple):
    """One identity of a resolve: normalised (as given, with `error`, when rejected), and the
    profile it is in (None when unknown or rejected). A tuple: built 10,000 times per bulk
    resolve, where a frozen dataclass's __init__ was a seventh of the API's CPU."""

    namespace: str
    value: str
    profile_id: str | None
    error: str | None = None

    @property
    def identity(self) -> Resolved:
        """The identity part, read as GraphQL's `Resolution.identity` is (namespace, value):
        the compiled bulk resolve (api/graphql/fast_resolve.py) completes these directly."""
        return self


@dataclass(frozen=True)
class UnlinkResult:
    """How many links an unlink marked `unlinked`, and how the clusters changed."""

    unlinked: int
    report: ClusterReport


@dataclass(frozen=True)
class LinkEvidence:
    """One link between two identities (keys), with its provenance."""

    a: str
    b: str
    source: str
    status: str
    reason: str | None
    first_seen: int | None
    last_seen: int | None
    count: int
    first_record_id: str | None
    last_record_id: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> LinkEvidence:
        return cls(row["a"], row["b"], row["source"], row["status"], row["reason"],
                   row["firstSeen"], row["lastSeen"], row["count"] or 0, row["firstRecordId"],
                   row["lastRecordId"])


@dataclass(frozen=True)
class Explanation:
    """Why two identities are, or are not, in one profile."""

    same_profile: bool
    links: list[LinkEvidence]
    message: str


# Items validated between two hand-backs of the event loop (~5-10 ms of CPU).
VALIDATE_CHUNK = 500
# The smallest batch a call is split into (`call_batch_size`).
MIN_SPLIT_BATCH = 250


def call_batch_size(items: int, batch_size: int, concurrency: int) -> int:
    """The batch size for one call of `items` items: `batch_size`, or smaller so that a call
    of up to a few batches still runs `concurrency` transactions side by side (never below
    MIN_SPLIT_BATCH). A partner's mutation of 1,000 records was one transaction, so Neo4j
    waited while Python validated and re-clustered, and Python waited on Neo4j: split in two
    or three, one part's Python runs while another's statements do (1.24x the records/s,
    bench/results/scale-1000000.md). A call of many batches is already concurrent."""
    share = -(-items // concurrency)  # ceil
    return min(batch_size, max(MIN_SPLIT_BATCH, share))


class IdentityService:
    def __init__(self, graph: Graph, registry: NamespaceRegistry, limits: Limits,
                 pipeline: Pipeline, max_cluster_size: int = 50, batch_size: int = 1000,
                 concurrency: int = 1, type_attributes: TypeAttributes | None = None,
                 max_component_identities: int = MAX_COMPONENT_IDENTITIES,
                 suppressions: Suppressions | None = None) -> None:
        # Every write goes through the pipeline: re-clustering, profile facts and views run
        # in the writer's transaction, the change feed hears of it after the commit.
        self.pipeline = pipeline
        self.graph = graph
        self.registry = registry
        self.limits = limits
        self.normaliser = Normaliser(registry, limits.default_region)
        self.max_cluster_size = max_cluster_size
        # Re-clustering reads at most this many identities of a component (ComponentLimit).
        self.component_limit = ComponentLimit.of(registry, max_component_identities)
        self.batch_size = batch_size
        # Batch transactions in flight at once (IDGRAPH_INGEST_CONCURRENCY): Neo4j works on
        # one batch while Python prepares or finishes another.
        self.concurrency = max(1, concurrency)
        # Declared attribute types (profile/attributes.py): every way in types records alike.
        self.type_attributes = type_attributes
        # Identities deleted with suppression: items carrying one are rejected (SUPPRESSED).
        self.suppressions = suppressions or Suppressions(graph)

    # -- ingest -----------------------------------------------------------------------------
    async def validate(self, records: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]],
                       ) -> tuple[list[tuple[int, Item]], list[Rejection]]:
        """Valid items with their input index (records first, then events) and rejections.
        Hands the event loop back every VALIDATE_CHUNK items: validating a large call takes a
        fraction of a second of CPU, and the batches of other calls in flight (a file ingest
        overlaps its windows) must not wait for it to send their next statement."""
        good: list[tuple[int, Item]] = []
        bad: list[Rejection] = []
        raw_items = [(r, "record") for r in records] + [(e, "event") for e in events]
        for start in range(0, len(raw_items), VALIDATE_CHUNK):
            self._validate_range(raw_items, start, start + VALIDATE_CHUNK, good, bad)
            await asyncio.sleep(0)
        return good, bad

    def _validate_range(self, raw_items: list[tuple[dict[str, Any], str]], start: int, stop: int,
                        good: list[tuple[int, Item]], bad: list[Rejection]) -> None:
        for index in range(start, min(stop, len(raw_items))):
            raw, kind = raw_items[index]
            try:
                good.append((index, validate_item(raw, kind, self.registry, self.limits,
                                                  self.normaliser, self.type_attributes)))
            except IdentityRejected as exc:
                bad.append(Rejection(index, exc.code, str(exc)))

    async def ingest(self, records: Sequence[dict[str, Any]] = (),
                     events: Sequence[dict[str, Any]] = (),
                     dry_run: bool = False, on_batch: Callable[[int], None] | None = None,
                     slots: asyncio.Semaphore | None = None, defer: bool = False
                     ) -> IngestResult:
        """Validate, then write in batches. `on_batch` is told the item count of each batch
        as it commits (progress for long calls). `slots`: the batch transactions in flight,
        shared with other calls (a file ingest overlapping its windows); by default the call
        has `concurrency` of its own. `defer`: each batch commits its items, identities and
        links with an entry of the ingest backlog, and its profiles are built when the
        settler takes the entry (pipeline/backlog.py); the result reports no cluster change."""
        if defer and dry_run:
            raise ValueError("a dry run cannot be deferred")
        good, bad = await self.validate(records, events)
        good = await self._without_suppressed(good, bad)
        result = IngestResult(rejected=bad)
        items = _dedupe([item for _, item in good], result)
        index_of: dict[tuple[str, str], int] = {}
        for index, item in good:
            index_of.setdefault((item.kind, item.key), index)
        # Items sharing identities go in one batch however the batches run: a person split over
        # batches meets their own profile again in each later one (read back, locked,
        # re-clustered, view rebuilt), which made sequential ingest 3-4x slower. A dry run is
        # never split: its batches roll back, so a later one would not see an earlier one's.
        units = plan_units(items, self.batch_size if dry_run or slots is not None
                           else call_batch_size(len(items), self.batch_size, self.concurrency))
        if dry_run or self.concurrency == 1 or (len(units) == 1 and slots is None):
            for batch in (batch for unit in units for batch in unit):
                result.absorb(await self._write_batch(batch, index_of, dry_run, defer))
                if on_batch:
                    on_batch(len(batch))
            result.rejected.sort(key=lambda rejection: rejection.index)
            return result
        for unit_results in await self._run_units(units, index_of, on_batch, slots, defer):
            for batch_result in unit_results:
                result.absorb(batch_result)
        result.rejected.sort(key=lambda rejection: rejection.index)
        return result

    async def _without_suppressed(self, good: list[tuple[int, Item]], bad: list[Rejection]
                                  ) -> list[tuple[int, Item]]:
        """Items carrying a suppressed identity become rejections (in input order with the
        others); one lookup of the call's identity hashes, none while nothing is suppressed."""
        blocked = await self.suppressions.suppressed(
            k for _, item in good for k in item.identity_keys)
        if not blocked:
            return good
        kept = []
        for index, item in good:
            hit = sorted(k for k in item.identity_keys if k in blocked)
            if hit:
                namespaces = ", ".join(sorted({k.split(":", 1)[0] for k in hit}))
                bad.append(Rejection(index, SUPPRESSED, (
                    f"an identity of this item ({namespaces}) was deleted with suppression; "
                    "an admin can lift it with liftSuppression")))
            else:
                kept.append((index, item))
        bad.sort(key=lambda r: r.index)
        return kept

    async def _run_units(self, units: list[Unit], index_of: dict[tuple[str, str], int],
                         on_batch: Callable[[int], None] | None = None,
                         slots: asyncio.Semaphore | None = None, defer: bool = False
                         ) -> list[list[IngestResult]]:
        """Up to `concurrency` units at once (or as many as `slots` lets in), each batch its
        own write transaction; results in planned order. On a failure the other units stop
        (their open batches roll back)."""
        slots = slots or asyncio.Semaphore(self.concurrency)

        async def run(unit: Unit) -> list[IngestResult]:
            results = []
            async with slots:
                for batch in unit:
                    results.append(await self._write_batch(batch, index_of, defer=defer))
                    if on_batch:
                        on_batch(len(batch))
            return results

        tasks = [asyncio.create_task(run(unit)) for unit in units]
        try:
            return await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _write_batch(self, batch: list[Item], index_of: dict[tuple[str, str], int],
                           dry_run: bool = False, defer: bool = False) -> IngestResult:
        """One batch through the pipeline: stored, re-clustered, facts and views, committed.
        Items touching a component too large to re-cluster are rejected (COMPONENT_TOO_LARGE)
        and the batch is written again without them. Deferred: stored and put in the backlog
        (a component too large is then found by the settle, which keeps the entry as failed)."""
        refused: list[Rejection] = []
        limit = self.component_limit
        if defer:
            change = await self.pipeline.defer(
                lambda tx: _store_batch(tx, batch, limit, expand=False))
            return IngestResult(accepted=len(change.items),
                                duplicates=len(batch) - len(change.items))
        while batch:
            try:
                change = await self.pipeline.write(
                    lambda tx, b=batch: _store_batch(tx, b, limit), dry_run)  # type: ignore[misc]
            except ComponentTooLarge as exc:
                touching = [it for it in batch if exc.keys.intersection(it.identity_keys)]
                if not touching:
                    raise
                refused += [Rejection(index_of[(it.kind, it.key)], exc.code, str(exc))
                            for it in touching]
                batch = [it for it in batch if not exc.keys.intersection(it.identity_keys)]
                continue
            accepted = len(change.items)
            return IngestResult(accepted=accepted, duplicates=len(batch) - accepted,
                                rejected=refused, report=change.report)
        return IngestResult(rejected=refused)

    # -- reads ------------------------------------------------------------------------------
    def normalise(self, namespace: str, value: str) -> IdentityKey:
        return self.normaliser(namespace, value)

    async def resolve(self, identities: Sequence[tuple[str, str]]) -> list[str | None]:
        """Profile id of each identity, in input order; None when unknown or invalid."""
        return [r.profile_id for r in await self.resolve_each(identities)]

    async def resolve_each(self, identities: Sequence[tuple[str, str]]) -> list[Resolved]:
        """Each identity normalised (or rejected, with why) and its profile id, in input
        order: one statement, one row, however many identities (bulk resolve is measured
        against the bare driver's UNWIND; bench/results/scale.md)."""
        normalised: list[tuple[str, str] | IdentityRejected] = []
        pair = self.normaliser.pair  # strings only, no key objects (normalise.py)
        for namespace, value in identities:
            try:
                normalised.append(pair(namespace, value))
            except IdentityRejected as exc:
                normalised.append(exc)
        if not normalised:
            return []
        keys = [f"{n[0]}:{n[1]}" if type(n) is tuple else "" for n in normalised]  # "": no match
        [row] = await self.graph.read_plain(q.RESOLVE, keys=keys)
        profile_ids = row["profileIds"]
        return [Resolved(n[0], n[1], profile_id) if type(n) is tuple
                else Resolved(raw[0], raw[1], None, str(n))
                for n, raw, profile_id in zip(normalised, identities, profile_ids, strict=True)]

    async def histories(self, profile_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Cluster changes of several profiles (with their merged-away ids), newest first."""
        rows = await self.graph.read(q.HISTORIES, ids=profile_ids)
        return {row["id"]: row["changes"] for row in rows}

    # -- operations -------------------------------------------------------------------------
    async def unlink(self, pair: tuple[IdentityKey, IdentityKey] | None = None,
                     source: str | None = None, reason: str = "manual unlink") -> UnlinkResult:
        """Unlink one pair (optionally only one source's evidence) or every link of a source."""

        async def work(tx: Tx) -> ChangeSet:
            change = ChangeSet(cause=f"unlink:{reason}")
            if pair is not None:
                a, b = sorted(k.key for k in pair)
                rows = [{"a": a, "b": b}]
            else:
                rows = await tx.run(q.LINKS_OF_SOURCE, source=source)
            if rows:
                done = await tx.run(q.UNLINK, rows=rows, source=source, reason=reason,
                                    now=change.now)
                change.counts["unlinked"] = done[0]["unlinked"]
                change.seeds = {r["a"] for r in rows} | {r["b"] for r in rows}
            return change

        change = await self.pipeline.write(work)
        return UnlinkResult(change.counts.get("unlinked", 0), change.report)


async def _store_batch(tx: Tx, items: list[Item], limit: ComponentLimit,
                       expand: bool = True) -> ChangeSet:
    """An ingest batch's own writes: what the pipeline's stages then work from (`expand`: with
    the first step of re-clustering, read and locked; a deferred batch's settle reads its
    own)."""
    # The batch id marks what this transaction created (items, identities, links). An
    # integer: it is written on each of them, and a long takes a quarter of the property
    # store that a 32-character id does.
    batch_id, now = secrets.randbits(62), now_ms()
    new_items, seeds, visited, fresh = await _store(tx, items, batch_id, now, limit, expand)
    return ChangeSet(cause=f"ingest:{batch_id:x}", items=new_items, seeds=seeds,
                     visited=visited, fresh=fresh, now=now, batches=(batch_id,),
                     touched={row[1] for row in visited.values() if row[1]})


async def _store(tx: Tx, items: list[Item], batch_id: int, now: int, limit: ComponentLimit,
                 expand: bool = True,
                 ) -> tuple[list[Item], set[str], dict[str, list[Any]], set[str]]:
    """Claim items, attach identities, add link evidence: (items this batch created, seeds to
    re-cluster, the expansion rows of every identity attached, the identities it created).
    Seeds are the identities this batch created and the ends of pairs that are not settled:
    evidence for a pair that is already active never changes the clusters (replaying it
    earlier only joins sets that end up joined anyway; see docs/identity.md), so only new
    identities and unsettled pairs are re-clustered."""
    # (item this batch created, its node id) in batch order, records before events as they
    # were written before evidence was aggregated: the order decides ties between items of one
    # link (docs/identity.md).
    stored: list[tuple[Item, str]] = []
    for kind, statement in (("record", q.CLAIM_RECORDS), ("event", q.CLAIM_EVENTS)):
        of_kind = [it for it in items if it.kind == kind]
        if of_kind:
            [[created]] = await tx.values(statement, rows=[_claim_row(it) for it in of_kind],
                                          batch=batch_id, now=now)
            node_ids = dict(created)
            stored += [(it, node_ids[it.key]) for it in of_kind if it.key in node_ids]
    if not stored:
        return [], set(), {}, set()
    evidence = aggregate(stored)
    # A new identity of a unique namespace joins a known profile without a read only if the
    # profile holds none of that namespace (identity/joining.py): then the step says which.
    holders = any(row[1] in limit.unique for row in evidence.identities)
    [[node_ids, fresh, unsettled, expanded]] = await tx.values(
        q.STORE_EVIDENCE, **evidence.parameters(), **limit.params(holders),
        batch=batch_id, now=now, expand=expand)
    new_identities = set(fresh)
    visited = {row[0]: row for row in expanded}
    if expand:  # a deferred batch's settle reads its own (prepare_settle)
        node_of = {row[0]: node_id for row, node_id in zip(evidence.identities, node_ids,
                                                            strict=True)}
        visited.update(_links_of_new(evidence, new_identities, node_of))
    return ([item for item, _ in stored], set(unsettled) | new_identities, visited,
            new_identities)


async def prepare_settle(tx: Tx, change: ChangeSet, limit: ComponentLimit) -> None:
    """A settle's change (one deferred batch, or several settled together) as an immediate
    ingest's transaction has it, read (and locked) now: the expansion rows of every identity of
    its items, the profiles they are in (`touched`), and the identities its batches created that
    nothing else has touched since (`fresh`: no profile yet and no item but the change's own,
    so every link of theirs is in the change, as `_links_of_new` assumes). With them the joins
    and new people need no read, and new profiles' views are built from the change's records,
    as in an immediate ingest (identity/joining.py). An identity a call outside the change
    attached an item to is not fresh: re-clustered in full, its view read back."""
    keys = sorted({k for item in change.items for k in item.identity_keys})
    if not keys:
        return
    holders = any(namespace_of(k) in limit.unique for k in keys)
    [[expanded]] = await tx.values(q.EXPAND_COMPONENT, nodes=[], keys=keys, now=change.now,
                                   **limit.params(holders))
    change.visited = {row[0]: row for row in expanded}
    change.touched = {row[1] for row in expanded if row[1]}
    unprofiled = [row[0] for row in expanded if row[1] is None]
    if not change.batches or not unprofiled:
        return
    [[rows]] = await tx.values(q.SETTLE_FRESH, keys=unprofiled, batches=list(change.batches))
    own = Counter(k for item in change.items for k in set(item.identity_keys))
    change.fresh = {key for key, carried in rows if carried == own[key]}


def _links_of_new(evidence: Evidence, new_identities: set[str],
                  node_of: dict[str, str]) -> dict[str, list[Any]]:
    """Expansion rows (as EXPAND_STEP returns them) of the identities this batch created, from
    the batch's own evidence: such an identity has no profile, and its only links are the ones
    this batch made, one per pair and source, active, last seen at the newest item's time.
    `node_of`: node id by identity key."""
    rows: dict[str, list[Any]] = {
        key: [key, None, None, [], node_of[key], None, None, None, None]
        for key in new_identities}
    for (a, b, source), link in evidence.links.items():
        for mine, other in ((a, b), (b, a)):
            if mine in rows:
                rows[mine][3].append([other, source, link.last_seen, "active", node_of[other]])
    return rows


def _claim_row(item: Item) -> dict[str, Any]:
    row = {"key": item.key, "source": item.source, "id": item.item_id, "ts": item.ts,
           "payload": item.payload, "type": item.event_type}
    if item.kind == "event":
        row["flat"] = event_property_columns(item.payload)
    return row


def _dedupe(items: list[Item], result: IngestResult) -> list[Item]:
    """The same record or event twice in one call counts once (the rest are duplicates)."""
    seen: dict[tuple[str, str], Item] = {}
    for item in items:
        if (item.kind, item.key) in seen:
            result.duplicates += 1
        else:
            seen[(item.kind, item.key)] = item
    return list(seen.values())


async def links_of_profiles(service: IdentityService, profile_ids: list[str],
                            limit: int) -> dict[str, list[dict[str, Any]]]:
    """Each profile's links (active first, then newest), at most `limit` each, in one read."""
    rows = await service.graph.read(q.PROFILE_LINKS, ids=profile_ids, limit=limit)
    return {row["id"]: row["links"] for row in rows}


async def explain(service: IdentityService, identity: IdentityKey,
                  other: IdentityKey) -> Explanation:
    """The chain of links (with provenance) joining two identities, or what keeps them apart."""
    if identity == other:
        return Explanation(True, [], "the same identity")
    rows = await service.graph.read(q.EXPLAIN_PATH, a=identity.key, b=other.key)
    if not rows:
        return Explanation(False, [], "one of the identities is unknown")
    row = rows[0]
    same = row["profileA"] is not None and row["profileA"] == row["profileB"]
    links = [LinkEvidence.from_row(link) for link in row["links"] or []]
    if same:
        message = f"linked by a chain of {len(links)} link(s)"
    elif links:
        message = "; ".join(f"{lk.a} - {lk.b} ({lk.source}): {lk.status}, "
                            f"{lk.reason or 'no reason recorded'}"
                            for lk in links if lk.status != "active")
    else:
        message = "no evidence connects them"
    return Explanation(same, links, message)
