"""Streaming membership: the segment stage of the change pipeline (pipeline/pipeline.py).

Inside every write's transaction, after the views are written, the stage
- ends the memberships of profiles merged away (exited, cause "merged into <survivor>"), of
  every segment, streaming or not: the id is gone, its memberships name a profile no more;
- re-evaluates every streaming segment for each profile the write touched (created, updated,
  absorbing, split, left with fewer members), in ONE query for all of them
  (`scoped.compile_scoped`), and writes only what changed in ONE more statement: a profile that
  now qualifies and was not a member is `realized`, a member that no longer qualifies `exited`.
A write that touches no profile, or a graph without segments, costs no statement at all.

Deleted profiles need nothing: their node goes with its memberships (a privacy deletion leaves
no exit naming the person). Time passing is the scheduler's (segments/scheduler.py).

Which segments stream is decided from the catalog (`classify`) and cached per process
(`StreamingCatalog`), refreshed when a segment changes here, after
`segment_streaming_cache_seconds`, or when a write finds a segment's version moved.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from idgraph.db.graph import Tx
from idgraph.pipeline.changeset import ChangeSet, MembershipChange
from idgraph.segments.ast import Rule
from idgraph.segments.composition import expand_segments
from idgraph.segments.repository import EXIT_MERGED, STREAM_WRITE, STREAMING_CATALOG
from idgraph.segments.scoped import ScopedRule, compile_scoped
from idgraph.segments.transitions import CURRENT, Status

BATCH_ONLY = "batch only, as asked (batchOnly): evaluated by evaluateSegment and the scheduler"
REALIZED, EXITED = Status.REALIZED.value, Status.EXITED.value
NO_RULE = "no rule to evaluate per profile (its members are loaded, not computed)"


@dataclass(frozen=True)
class Streaming:
    """Whether a segment is evaluated on every write, and if not, why."""

    streaming: bool
    reason: str | None = None


def classify(catalog: Iterable[Mapping[str, Any]]) -> dict[str, Streaming]:
    """Each segment's streaming status: a segment streams unless it asked for batch only, has
    no rule, or includes (directly or through others) a segment that does not stream."""
    rows = {row["id"]: row for row in catalog}
    found: dict[str, Streaming] = {}

    def visit(segment_id: str, path: tuple[str, ...]) -> Streaming:
        if segment_id in found:
            return found[segment_id]
        row = rows.get(segment_id)
        if row is None or segment_id in path:  # unknown or a cycle: refused at creation
            return Streaming(False, f"includes {segment_id!r}, which cannot be evaluated")
        result = _own(row) or _included(row, path + (segment_id,), visit)
        found[segment_id] = result
        return result

    for segment_id in rows:
        visit(segment_id, ())
    return found


def _own(row: Mapping[str, Any]) -> Streaming | None:
    if row.get("batchOnly"):
        return Streaming(False, BATCH_ONLY)
    if not row.get("ast"):
        return Streaming(False, NO_RULE)
    return None


def _included(row: Mapping[str, Any], path: tuple[str, ...], visit: Any) -> Streaming:
    for ref in row.get("references") or ():
        if not visit(ref, path).streaming:
            return Streaming(False, f"includes segment {ref!r}, which is not streaming")
    return Streaming(True)


@dataclass(frozen=True)
class StreamingSet:
    """What every write evaluates: the streaming segments (rules inlined) and their versions."""

    any_segment: bool
    rules: tuple[ScopedRule, ...] = ()
    versions: tuple[int, ...] = ()
    status: Mapping[str, Streaming] = field(default_factory=dict)  # every segment's

    @classmethod
    def of(cls, catalog: Sequence[Mapping[str, Any]]) -> StreamingSet:
        parsed = {r["id"]: rule for r in catalog if (rule := _rule(r)) is not None}
        # A stored rule this code cannot read is not streamed (never a failing write).
        status = classify([r if r["id"] in parsed else {**r, "ast": None} for r in catalog])
        chosen = [r for r in catalog if status[r["id"]].streaming]
        rules = tuple(ScopedRule(r["id"], expand_segments(parsed[r["id"]], parsed.get,
                                                          origin=r["id"]),
                                 bool(r.get("includeTest"))) for r in chosen)
        return cls(bool(catalog), rules, tuple(int(r["version"]) for r in chosen), status)


def _rule(row: Mapping[str, Any]) -> Rule | None:
    try:
        return Rule.model_validate(json.loads(row["ast"])) if row.get("ast") else None
    except ValueError:  # pydantic's ValidationError and JSON errors are ValueErrors
        return None


Reader = Callable[[str], Awaitable[list[dict[str, Any]]]]


@dataclass
class StreamingCatalog:
    """The streaming segments, read once and kept for `ttl` seconds or until `invalidate`."""

    ttl: float
    _held: StreamingSet | None = None
    _read_at: float = 0.0
    _generation: int = 0

    def invalidate(self) -> None:
        self._held = None
        self._generation += 1

    async def current(self, read: Reader) -> StreamingSet:
        """The set, read with `read(statement)` when not held or too old."""
        held = self._held
        if held is not None and time.monotonic() - self._read_at < self.ttl:
            return held
        generation = self._generation
        fresh = StreamingSet.of(await read(STREAMING_CATALOG))
        if generation == self._generation:  # not invalidated while reading
            self._held, self._read_at = fresh, time.monotonic()
        return fresh


@dataclass(frozen=True)
class Write:
    """One membership to write: `status` realized or exited, for segment `version`."""

    profile: str
    segment: str
    status: str
    version: int
    cause: str
    node: str = ""  # the profile's element id, read in the write's transaction


def decide(rows: Iterable[Mapping[str, Any]], streaming: StreamingSet, cause: str
           ) -> list[Write]:
    """The membership changes from evaluated rows `{id, hits, held}` (pure): qualifying and
    not a member of this version -> realized; a member that no longer qualifies -> exited."""
    writes: list[Write] = []
    for row in rows:
        held = {segment: (status, version) for segment, status, version in row["held"]}
        hits = set(row["hits"])
        for k, (rule, version) in enumerate(zip(streaming.rules, streaming.versions,
                                                strict=True)):
            hit = k in hits
            status, held_version = held.get(rule.segment, (None, None))
            member = status in CURRENT and held_version == version
            if hit and not member:
                writes.append(Write(row["id"], rule.segment, REALIZED, version, cause,
                                    row.get("node", "")))
            elif member and not hit:
                writes.append(Write(row["id"], rule.segment, EXITED, version, cause,
                                    row.get("node", "")))
    return writes


@dataclass
class SegmentStage:
    """The pipeline's segment membership stage (see the module's docstring)."""

    catalog: StreamingCatalog
    name: str = "segments"
    statements: int = field(default=0)  # run so far (benchmarks, tests)

    async def __call__(self, tx: Tx, change: ChangeSet) -> None:
        merged = change.report.merged
        gone = change.deleted | {old for old, _ in merged}
        profiles = sorted(change.changed_profiles() - gone)
        if not profiles and not merged:
            return
        streaming = await self.catalog.current(tx.run)
        if not streaming.any_segment:
            return
        if merged:
            await self._end_merged(tx, change, merged)
        if profiles and streaming.rules:
            await self._evaluate(tx, change, profiles, streaming)

    async def _end_merged(self, tx: Tx, change: ChangeSet,
                          merged: Sequence[tuple[str, str]]) -> None:
        rows = await tx.run(EXIT_MERGED, rows=[{"old": old, "into": into}
                                               for old, into in merged], now=change.now)
        self.statements += 1
        for row in rows:
            _note(change, row["profile"], row["segment"], EXITED, row["cause"])

    async def _evaluate(self, tx: Tx, change: ChangeSet, profiles: list[str],
                        streaming: StreamingSet) -> None:
        query = compile_scoped(streaming.rules, now_ms=change.now, stamp=True)
        # Plain lists (`values`): the driver's dict rows convert every nested list again, a
        # third of the stage's Python time with ten segments.
        rows = [{"id": id, "node": node, "hits": hits, "held": held} for id, node, hits, held
                in await tx.values(query.cypher, profiles=profiles, **query.params)]
        self.statements += 1
        writes = decide(rows, streaming, change.cause)
        if not writes:
            return
        written = await tx.values(STREAM_WRITE, now=change.now, segments=by_segment(writes))
        self.statements += 1
        if len(written) < len(writes):  # a segment changed or went: read the list again
            self.catalog.invalidate()
        for profile, segment, status in written:
            _note(change, profile, segment, status, change.cause)


def by_segment(writes: Iterable[Write]) -> list[dict[str, Any]]:
    """STREAM_WRITE's parameter: per segment (in id order, then profile order, so concurrent
    writers meet the nodes in one order), its version and the memberships to write."""
    grouped: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for w in sorted(writes, key=lambda w: (w.segment, w.profile)):
        grouped.setdefault((w.segment, w.version), []).append(
            {"profile": w.profile, "node": w.node, "status": w.status, "cause": w.cause})
    return [{"segment": segment, "version": version, "rows": rows}
            for (segment, version), rows in grouped.items()]


def _note(change: ChangeSet, profile: str, segment: str, status: str, cause: str) -> None:
    change.memberships.setdefault(profile, []).append(
        MembershipChange(segment, status, cause, change.now))
