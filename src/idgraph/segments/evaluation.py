"""Batch evaluation of saved segments into audiences: the rule is compiled for one instant
(`asOf`), run once, compared with the stored memberships (segments/transitions.py) and only
the changes are written, in chunks of `chunk` memberships per transaction."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from idgraph.db.graph import Graph
from idgraph.identity.service import now_ms
from idgraph.segments.compiler import CompiledQuery, compile_rule
from idgraph.segments.objects import SavedSegment
from idgraph.segments.repository import (
    DELETE_MEMBERSHIPS,
    ENTER,
    SET_STATUS,
    SegmentRepository,
)
from idgraph.segments.service import SegmentService
from idgraph.segments.transitions import Membership, Status, Transitions, plan

DAY_MS = 86_400_000
# (done, total, what): called after each chunk, and once per segment as it starts.
Progress = Callable[[int, int, str], Awaitable[None]]


async def no_progress(done: int, total: int, what: str) -> None:
    return None


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


@dataclass
class Evaluator:
    """Evaluates saved segments; rules of included segments are compiled in (inlined)."""

    service: SegmentService
    retention_days: float
    chunk: int

    @property
    def graph(self) -> Graph:
        return self.service.graph

    @property
    def repository(self) -> SegmentRepository:
        return self.service.repository

    async def compile(self, segment: SavedSegment, as_of: int) -> CompiledQuery:
        """The segment's rule as Cypher for the instant `as_of`, included segments inlined."""
        lookup = await self.service.rules_for(segment.references)
        return compile_rule(segment.rule, now_ms=as_of, include_test=segment.include_test,
                            attribute_schema=self.service.attribute_schema,
                            segment_lookup=lookup)

    async def evaluate(self, segment_id: str, as_of: int | None = None, job: str | None = None,
                       progress: Progress = no_progress) -> Evaluation:
        """Evaluate one segment at `as_of` (default now) and store its memberships."""
        segment = await self.service.get(segment_id)
        at = now_ms() if as_of is None else as_of
        query = await self.compile(segment, at)
        return await self._run(segment, query, at, job, progress)

    async def evaluate_many(self, ids: Sequence[str] | None = None, as_of: int | None = None,
                            job: str | None = None, progress: Progress = no_progress,
                            ) -> list[Evaluation]:
        """Evaluate `ids` (default: every segment) at one instant, included segments before
        the segments that include them."""
        at = now_ms() if as_of is None else as_of
        catalog = await self.repository.catalog()
        order = dependency_order({r["id"]: r["references"] or () for r in catalog},
                                 ids if ids is not None else [r["id"] for r in catalog])
        done = []
        for n, segment_id in enumerate(order):
            await progress(n, len(order), f"segment {segment_id}")
            done.append(await self.evaluate(segment_id, at, job, _within(progress, segment_id)))
        return done

    async def time_dependent(self) -> list[str]:
        """Segments whose membership moves with the clock: their rule reads it, or a segment
        they include does."""
        catalog = await self.repository.catalog()
        graph = {r["id"]: list(r["references"] or ()) for r in catalog}
        clocked = {r["id"] for r in catalog if r["timeDependent"]}
        return [i for i in graph if reaches(graph, i, clocked)]

    async def _run(self, segment: SavedSegment, query: CompiledQuery, as_of: int,
                   job: str | None, progress: Progress) -> Evaluation:
        rows = await self.graph.read_plain(query.cypher, **query.params)
        qualifying = [next(iter(row.values())) for row in rows]
        current = [Membership.of(r) for r in await self.repository.memberships(segment.id)]
        retention_ms = int(self.retention_days * DAY_MS)
        changes = plan(current, qualifying, segment.version, as_of - retention_ms)
        await self._write(segment, changes, as_of, progress)
        result = Evaluation(segment.id, segment.version, as_of, now_ms(), job, changes.size,
                            changes.counts())
        await self.repository.save_evaluation(segment.id, segment.version, result.size,
                                              result.to_json())
        return result

    async def _write(self, segment: SavedSegment, changes: Transitions, as_of: int,
                     progress: Progress) -> None:
        steps: list[tuple[str, list[str], dict[str, Any]]] = [
            (DELETE_MEMBERSHIPS, changes.delete, {}),
            (SET_STATUS, changes.exit, {"status": Status.EXITED.value}),
            (SET_STATUS, changes.to_existing, {"status": Status.EXISTING.value}),
            (ENTER, changes.enter, {"version": segment.version}),
        ]
        done, total = 0, changes.writes
        await progress(0, total, "writing memberships")
        for statement, ids, extra in steps:
            for chunk in chunks(ids, self.chunk):
                await self.graph.write(statement, segment=segment.id, ids=chunk, at=as_of,
                                       **extra)
                done += len(chunk)
                await progress(done, total, "writing memberships")


def _within(progress: Progress, segment_id: str) -> Progress:
    async def report(done: int, total: int, what: str) -> None:
        await progress(done, total, f"segment {segment_id}: {what}")

    return report


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
