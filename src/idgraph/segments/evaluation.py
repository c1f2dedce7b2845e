"""Batch evaluation of saved segments into audiences: the rule is compiled for one instant
(`asOf`), run once, compared with the stored memberships (segments/transitions.py) and only
the changes are written, in chunks of `chunk` memberships per transaction, `concurrency`
transactions at a time (the chunks of one evaluation touch disjoint profiles, so they never
wait on each other's locks; on 2 cores two writers keep both busy, where one leaves the
second idle: bench/results/segments.md).

Entries lock each profile, then update its membership or CREATE one (never a MERGE, which
would lock the segment's node against streaming writes: segments/repository.py).

Writes meanwhile keep their decisions. Exits and updates lock each profile and write only a
membership unchanged since the read (status, version and time). A profile that streaming decided
for since the read (its stamp, `_segmentsAt`) may have been found a member, or not, without a trace
in its memberships; the chunk decides it again, in its own transaction, under the profile's
lock, with streaming's query for this one rule at `asOf`. So an evaluation never overwrites a
fresher decision with the one it read before it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from idgraph.clock import now_ms
from idgraph.db.graph import Graph, Tx
from idgraph.errors import NotFound
from idgraph.pipeline.changeset import ChangeKind, MembershipChange, ProfileEvent
from idgraph.pipeline.feed import ChangeFeed
from idgraph.pipeline.outbox import Events
from idgraph.segments.compiler import CompiledQuery, compile_rule
from idgraph.segments.composition import expand_segments
from idgraph.segments.objects import SavedSegment
from idgraph.segments.repository import (
    DELETE_MEMBERSHIPS,
    ENTER,
    SET_STATUS,
    STREAM_WRITE,
    SegmentRepository,
)
from idgraph.segments.scoped import ScopedRule, compile_scoped
from idgraph.segments.service import SegmentService
from idgraph.segments.streaming import StreamingSet, by_segment, decide
from idgraph.segments.transitions import Membership, Status, Transitions, plan

DAY_MS = 86_400_000
# Batches per writer in one wave (Evaluator.write_wave): a job step, and the unit a failure
# sends back to be decided again.
WAVE_DEPTH = 4
# A `since` no stamp reaches: nothing is decided again (an imported list has no rule).
NEVER = 2**62
# How long before its read an evaluation counts a streaming stamp as possibly unseen, beyond
# the write timeout: a write stamps the time taken in its transaction, which the server ends
# within the timeout, so a write that committed after the read stamped no earlier than the
# read less the timeout (plus this, for clocks of two processes).
RECENT_SLACK_MS = 5_000


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation did: stored on the segment as its `lastEvaluation`."""

    segment: str
    version: int
    as_of: int
    at: int  # wall clock when it finished
    job: str | None
    size: int
    counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))


class Step(StrEnum):
    """What one batch does to its memberships."""

    DELETE = "delete"
    EXIT = "exit"
    EXISTING = "existing"
    ENTER = "enter"  # realized again (a membership was stored when read)
    CREATE = "create"  # realized, none stored when read (one may have been streamed since)


ANNOUNCED = {Step.ENTER: Status.REALIZED.value, Step.CREATE: Status.REALIZED.value,
             Step.EXIT: Status.EXITED.value}


@dataclass(frozen=True)
class Batch:
    step: Step
    ids: list[str]


@dataclass
class Prepared:
    """One segment's evaluation, decided and waiting to be written: `batches` of at most
    `chunk` memberships, each written in its own transaction."""

    segment: SavedSegment
    as_of: int
    run: str
    changes: Transitions
    batches: list[Batch]
    # Each stored membership read, by profile: exits, updates and deletes find its
    # relationship by its element id, and write only if it is unchanged (SET_STATUS).
    held: dict[str, Membership] = field(default_factory=dict)
    # Profiles streaming stamped at or after this (ms) are decided again by `scoped` (None: an
    # imported list, nothing to decide again).
    since: int = NEVER
    scoped: ScopedRule | None = None
    # What each written batch changed, by batch index: (profile, status) for the change feed.
    changed: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    # How the profiles a batch decided again ended against the plan, by batch index: the
    # counts to correct (an entry that is not a member after all, an exit that still is).
    corrections: dict[int, dict[str, int]] = field(default_factory=dict)

    def result(self, job: str | None) -> Evaluation:
        counts = self.changes.counts()
        for correction in self.corrections.values():
            for name, delta in correction.items():
                counts[name] += delta
        return Evaluation(self.segment.id, self.segment.version, self.as_of, now_ms(), job,
                          counts["realized"] + counts["existing"], counts)


@dataclass
class Evaluator:
    """Evaluates saved segments into stored memberships."""

    service: SegmentService
    retention_days: float
    chunk: int
    feed: ChangeFeed | None = None  # told what each committed batch changed (live audiences)
    concurrency: int = 1  # batches written at once, each in its own transaction
    wave_depth: int = WAVE_DEPTH

    @property
    def graph(self) -> Graph:
        return self.service.graph

    @property
    def repository(self) -> SegmentRepository:
        return self.service.repository

    async def compile(self, segment: SavedSegment, as_of: int,
                      fresh: Collection[str] = ()) -> CompiledQuery:
        """The segment's rule as Cypher for the instant `as_of`. Included segments are read
        from their stored memberships when all of them are `fresh` (evaluated at `as_of` just
        before, in the same run), else their rules are compiled in (inlined)."""
        lookup = None
        if not set(segment.references) <= set(fresh):
            lookup = (await self.service.rules_for(segment.references)).get
        return compile_rule(segment.rule, now_ms=as_of, include_test=segment.include_test,
                            attribute_schema=self.service.attribute_schema,
                            segment_lookup=lookup)

    async def prepare(self, segment_id: str, as_of: int, run: str,
                      fresh: Collection[str] = ()) -> Prepared:
        """Run the segment's rule at `as_of` and decide the membership changes."""
        segment = await self.service.get(segment_id)
        query = await self.compile(segment, as_of, fresh)
        scoped = await self.scoped(segment)
        read_at = now_ms()
        # Two reads at once, in two transactions: on 2 cores the stored memberships (250,000
        # rows for an audience of that size) are read while the rule runs.
        qualifying, current = await asyncio.gather(self.repository.qualifying(query),
                                                   self.repository.memberships(segment.id))
        prepared = self._decide(segment, qualifying, current, as_of, run)
        prepared.scoped = scoped
        prepared.since = read_at - int(self.graph.timeout * 1000) - RECENT_SLACK_MS
        return prepared

    async def scoped(self, segment: SavedSegment) -> ScopedRule | None:
        """The segment's rule as streaming evaluates it (included segments inlined), to decide
        again the profiles a write decided for since the evaluation's read."""
        if segment.imported:
            return None
        rules = await self.service.rules_for(segment.references) if segment.references else {}
        return ScopedRule(segment.id, expand_segments(segment.rule, rules.get,
                                                      origin=segment.id),
                          segment.include_test)

    async def decide(self, segment: SavedSegment, qualifying: Iterable[str], as_of: int,
                     run: str) -> Prepared:
        """The membership changes that make `qualifying` the segment's members at `as_of`."""
        current = await self.repository.memberships(segment.id)
        return self._decide(segment, qualifying, current, as_of, run)

    def _decide(self, segment: SavedSegment, qualifying: Iterable[str],
                rows: Iterable[Sequence[Any]], as_of: int, run: str) -> Prepared:
        current = [Membership.of(r) for r in rows]
        purge_before = as_of - int(self.retention_days * DAY_MS)
        changes = plan(current, qualifying, segment.version, purge_before, run)
        held = {m.profile: m for m in current if m.ref is not None}
        return Prepared(segment, as_of, run, changes, self._batches(changes), held)

    async def store(self, segment: SavedSegment, qualifying: Iterable[str], as_of: int,
                    run: str, written: Callable[[int, int], None] | None = None) -> Evaluation:
        """Make `qualifying` the members (an imported audience's list), in chunks; `written`
        is told (memberships written, of how many) after each."""
        prepared = await self.decide(segment, qualifying, as_of, run)
        done = 0
        for start in self.waves(prepared):
            done += await self.write_wave(prepared, start, announce=False)
            if written is not None:
                written(done, prepared.changes.writes)
        return await self.save(prepared, None)

    def _batches(self, changes: Transitions) -> list[Batch]:
        steps = [(Step.DELETE, changes.delete), (Step.EXIT, changes.exit),
                 (Step.EXISTING, changes.to_existing), (Step.ENTER, changes.enter),
                 (Step.CREATE, changes.create)]
        return [Batch(step, ids) for step, all_ids in steps
                for ids in chunks(all_ids, self.chunk)]

    @property
    def wave_size(self) -> int:
        """Batches per wave: `wave_depth` per writer, so a writer that finishes early takes
        the next batch instead of waiting at every pair."""
        return self.concurrency * self.wave_depth

    def waves(self, prepared: Prepared) -> range:
        """Where each wave of `prepared` starts."""
        return range(0, len(prepared.batches), self.wave_size)

    def wave(self, prepared: Prepared, start: int) -> range:
        """The indexes of the batches of the wave from `start`."""
        return range(start, min(start + self.wave_size, len(prepared.batches)))

    async def write_wave(self, prepared: Prepared, start: int, announce: bool = True,
                         advance: Callable[[Tx, int], Awaitable[None]] | None = None) -> int:
        """Write the wave of batches from `start`, each in its own transaction, `concurrency`
        at a time; how many memberships they changed. `advance` is called in each batch's
        transaction with its count (a job's progress). After a failure no further batch
        starts, and the ones running are waited for before it is raised."""
        slots = asyncio.Semaphore(self.concurrency)
        failed: list[BaseException] = []

        async def one(index: int) -> int:
            async def work(tx: Tx) -> int:
                written = await self.write(prepared, index, tx, announce)
                if advance is not None:
                    await advance(tx, written)
                return written

            async with slots:
                if failed:
                    return 0
                try:
                    written = await self.graph.write_tx(work)
                except BaseException as exc:
                    failed.append(exc)
                    raise
            if announce:
                self.committed(prepared, index)
            return written

        results = await asyncio.gather(*(one(i) for i in self.wave(prepared, start)),
                                       return_exceptions=True)
        if failed:
            raise failed[0]
        return sum(r for r in results if isinstance(r, int))

    async def write(self, prepared: Prepared, index: int, tx: Tx, announce: bool = True) -> int:
        """Write batch `index` of `prepared` in `tx`; how many memberships it changed. With
        `announce`, its entries or exits go to the change feed in the same transaction (call
        `committed` after the commit)."""
        batch = prepared.batches[index]
        statement, params = self._statement(prepared, batch)
        [[written, recent]] = await tx.values(statement, **params)
        again = (await self._decide_again(prepared, index, recent, tx)
                 if recent and prepared.scoped is not None else [])
        status = ANNOUNCED.get(batch.step)
        prepared.changed[index] = ([(i, status) for i in written] if status else []) + again
        if announce and self.feed is not None and (events := self._events(prepared, index)):
            await self.feed.record(tx, events)
        return len(written) + len(again)

    def _statement(self, prepared: Prepared, batch: Batch) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {"segment": prepared.segment.id, "at": prepared.as_of,
                                  "run": prepared.run, "since": prepared.since}
        if batch.step in (Step.ENTER, Step.CREATE):
            return ENTER, {**params, "ids": batch.ids, "version": prepared.segment.version}
        # memberships read by the evaluation: each found by its element id, written if unchanged
        rows = [[m.ref, m.profile, m.status.value, m.version, m.changed_at]
                for m in (prepared.held[i] for i in batch.ids)]
        if batch.step is Step.DELETE:
            return DELETE_MEMBERSHIPS, {**params, "rows": rows}
        status = Status.EXITED if batch.step is Step.EXIT else Status.EXISTING
        return SET_STATUS, {**params, "rows": rows, "status": status.value,
                            "exit": batch.step is Step.EXIT}

    async def _decide_again(self, prepared: Prepared, index: int, ids: list[str],
                            tx: Tx) -> list[tuple[str, str]]:
        """Decide `ids` of batch `index` (locked by this transaction, stamped by streaming since
        the read) as streaming does, for this segment at `asOf`; write what changed (realized
        or exited), and note how they ended against the plan."""
        assert prepared.scoped is not None
        query = compile_scoped([prepared.scoped], now_ms=prepared.as_of)
        rows = [{"id": id, "node": node, "hits": hits, "held": held} for id, node, hits, held
                in await tx.values(query.cypher, profiles=ids, **query.params)]
        members = sum(1 for row in rows if row["hits"])
        prepared.corrections[index] = _correction(prepared.batches[index].step, len(ids), members)
        writes = decide(rows, StreamingSet(True, (prepared.scoped,),
                                           (prepared.segment.version,)), "evaluation")
        if not writes:
            return []
        segments = [{**seg, "run": prepared.run} for seg in by_segment(writes)]
        written = await tx.values(STREAM_WRITE, now=prepared.as_of, segments=segments)
        return [(profile, status) for profile, _, status in written]

    def committed(self, prepared: Prepared, index: int) -> None:
        """After batch `index` (written with `announce`) committed: its entries or exits
        reach this process's subscribers."""
        if self.feed is not None and (events := self._events(prepared, index)):
            self.feed.committed(events)

    @staticmethod
    def _events(prepared: Prepared, index: int) -> Events | None:
        """A written batch's change for the feed (made only if someone listens): profiles that
        entered or exited; None when there are none."""
        changed = prepared.changed.get(index)
        if not changed:
            return None
        segment, at = prepared.segment.id, prepared.as_of
        return lambda: [ProfileEvent(i, ChangeKind.MEMBERSHIP, (), "evaluation",
                                     (MembershipChange(segment, status, "evaluation", at),))
                        for i, status in changed]

    async def save(self, prepared: Prepared, job: str | None) -> Evaluation:
        """Record the evaluation on the segment (unless a new version was saved meanwhile)."""
        result = prepared.result(job)
        await self.repository.save_evaluation(prepared.segment.id, prepared.segment.version,
                                              result.size, result.to_json())
        return result

    async def evaluate(self, segment_id: str, as_of: int | None = None, job: str | None = None,
                       fresh: Collection[str] = ()) -> Evaluation:
        """Evaluate one segment at `as_of` (default now) and store its memberships."""
        at = now_ms() if as_of is None else as_of
        segment = await self.service.get(segment_id)
        if segment.imported:  # its members change only by an import: nothing to evaluate
            return Evaluation(segment.id, segment.version, at, now_ms(), job, segment.size,
                              dict((segment.evaluation or {}).get("counts") or {}))
        prepared = await self.prepare(segment_id, at, job or uuid.uuid4().hex, fresh)
        for start in self.waves(prepared):
            await self.write_wave(prepared, start)
        return await self.save(prepared, job)

    async def evaluate_many(self, ids: Sequence[str] | None = None, as_of: int | None = None,
                            job: str | None = None) -> list[Evaluation]:
        """Evaluate `ids` (default: every segment) at one instant, included segments before
        the segments that include them."""
        at = now_ms() if as_of is None else as_of
        order = await self.order(ids)
        return [await self.evaluate(segment_id, at, job, order[:n])
                for n, segment_id in enumerate(order)]

    async def order(self, ids: Sequence[str] | None = None) -> list[str]:
        """`ids` (default: every segment) in dependency order; unknown ids are refused."""
        catalog = await self.repository.catalog()
        graph = {r["id"]: r["references"] or () for r in catalog}
        if ids is not None and (unknown := [i for i in ids if i not in graph]):
            raise NotFound(f"No segment has the id {unknown[0]!r}.")
        return dependency_order(graph, ids if ids is not None else sorted(graph))

    async def time_dependent(self) -> list[str]:
        """Segments whose membership moves with the clock: their rule reads it, or a segment
        they include does."""
        catalog = await self.repository.catalog()
        graph = {r["id"]: list(r["references"] or ()) for r in catalog}
        clocked = {r["id"] for r in catalog if r["timeDependent"]}
        return [i for i in sorted(graph) if reaches(graph, i, clocked)]


def _correction(step: Step, decided: int, members: int) -> dict[str, int]:
    """The counts to correct when `decided` profiles planned for `step` (an entry or an exit)
    were decided again and `members` of them are members after all."""
    if step is Step.EXIT:  # planned as exits; the members stay (as `existing`)
        return {"exited": -members, "exitedNow": -members, "existing": members}
    missed = decided - members  # planned as entries; these are not members
    return {"realized": -missed, "entered": -missed}


def chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def dependency_order(graph: Mapping[str, Iterable[str]], wanted: Iterable[str]) -> list[str]:
    """`wanted` ordered so that every segment comes after the wanted segments it includes
    (directly or through others); ties keep the order given."""
    wanted_set, order, seen = set(wanted), [], set()

    def visit(node: str) -> None:
        if node in seen:
            return
        seen.add(node)
        for dependency in graph.get(node, ()):
            visit(dependency)
        if node in wanted_set:
            order.append(node)

    for node in wanted:
        visit(node)
    return order


def reaches(graph: Mapping[str, Sequence[str]], start: str, targets: set[str]) -> bool:
    """Is any of `targets` `start` itself or reachable from it?"""
    stack, seen = [start], set()
    while stack:
        node = stack.pop()
        if node in targets:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, ()))
    return False
