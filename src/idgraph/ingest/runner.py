"""`idgraph ingest FILE`: stream a file in batches through the identity service, with progress."""

from __future__ import annotations

import asyncio
import json
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from idgraph.collector import bulk_collection
from idgraph.identity.service import IdentityService, IngestResult
from idgraph.ingest.files import FileLine, open_text, read_items
from idgraph.ingest.planning import LinePlan, Regrouper, plan_lines

# Windows in flight: while the last batches of one run, the next is read, validated and
# planned, and its batches take each slot as it frees. One at a time, Neo4j sat idle (or one
# lane did) at every window's start and end.
WINDOWS_IN_FLIGHT = 2
# Lines read between two hand-backs of the event loop, so batches in flight are served.
READ_CHUNK = 1000


@dataclass
class FileSummary:
    accepted: int = 0
    duplicates: int = 0
    rejected_by_code: Counter[str] = field(default_factory=Counter)

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_code.values())


async def ingest_file(service: IdentityService, path: Path, batch_size: int,
                      rejects_path: Path | None = None, show_progress: bool = True,
                      window_lines: int = 20_000, max_held_lines: int = 200_000,
                      defer: bool = False) -> FileSummary:
    """Two passes over the file: plan which lines belong together (ingest/planning.py), then
    hand the service windows of whole groups of lines (`defer`: into the ingest backlog, the
    profiles built by a settler: pipeline/backlog.py)."""
    summary = FileSummary()
    # A window of lines per call: the service groups the items of a call that share identities
    # into one batch, and batches in flight then seldom meet on a profile (each meeting is a
    # lock wait or a deadlock retry). At least ten rounds of `concurrency` batches.
    lines_per_call = max(window_lines, batch_size * service.concurrency * 10)
    rejects = rejects_path.open("w") if rejects_path else None
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), disable=not show_progress, transient=False)
    try:
        with bulk_collection(), progress:  # a file ingest holds many objects (collector.py)
            # A pipe can be read only once: it goes in unplanned, in windows as it comes.
            plan = _plan(service, path, progress) if path.is_file() else LinePlan.empty()
            task = progress.add_task(f"ingesting {path.name}", total=len(plan) or None)
            regroup = Regrouper(plan, max_held_lines)
            windows = _Windows(service, summary, rejects, progress, task, defer)
            window: list[FileLine] = []
            # Neo4j waits for the first window's validation: with a plan (windows hold whole
            # groups, whatever their size) the windows start at one round of batches and
            # double up to full size, so the first batches go out in milliseconds.
            limit = min(batch_size * service.concurrency, lines_per_call) if plan \
                else lines_per_call
            try:
                with open_text(path) as handle:
                    for count, line in enumerate(read_items(path, handle), 1):
                        window.extend(regroup.add(line))
                        if len(window) >= limit:
                            await windows.submit(window)
                            window = []
                            limit = min(limit * 2, lines_per_call)
                        if count % READ_CHUNK == 0:
                            await asyncio.sleep(0)
                window.extend(regroup.rest())
                await windows.submit(window)
                await windows.drain()
            finally:
                await windows.cancel()
            if plan:
                progress.update(task, completed=len(plan))
    finally:
        if rejects:
            rejects.close()
    return summary


def _plan(service: IdentityService, path: Path, progress: Progress) -> LinePlan:
    """The first pass, with its own bar (it reads the whole file: seconds per million lines)."""
    task = progress.add_task(f"planning {path.name}", total=path.stat().st_size)
    with open_text(path) as handle:
        def lines() -> Iterator[FileLine]:
            for count, line in enumerate(read_items(path, handle)):
                if count % 10_000 == 0:
                    progress.update(task, completed=_position(handle))
                yield line

        plan = plan_lines(lines(), service.normaliser)
    progress.update(task, completed=path.stat().st_size)
    return plan


def _position(handle: TextIO) -> int:
    try:
        return int(handle.buffer.tell())
    except (AttributeError, OSError, ValueError):
        return 0


# A window's lines, the readable items in the order the service indexes them, its result.
Ingested = tuple[list[FileLine], list[FileLine], IngestResult | None]


class _Windows:
    """Windows handed to the service, up to WINDOWS_IN_FLIGHT at once sharing `concurrency`
    batch slots; their results are taken in file order (rejects too)."""

    def __init__(self, service: IdentityService, summary: FileSummary, rejects: TextIO | None,
                 progress: Progress, task: TaskID, defer: bool = False) -> None:
        self.service, self.summary, self.rejects = service, summary, rejects
        self.defer = defer
        self.progress, self.task = progress, task
        self.slots = asyncio.Semaphore(service.concurrency)
        self.in_flight: deque[asyncio.Task[Ingested]] = deque()

    async def submit(self, lines: list[FileLine]) -> None:
        if len(self.in_flight) == WINDOWS_IN_FLIGHT:
            await self._take_oldest()
        self.in_flight.append(asyncio.create_task(self._ingest(lines)))

    async def drain(self) -> None:
        while self.in_flight:
            await self._take_oldest()

    async def cancel(self) -> None:
        """On a failure: windows still in flight stop (their open batches roll back)."""
        for pending in self.in_flight:
            pending.cancel()
        await asyncio.gather(*self.in_flight, return_exceptions=True)
        self.in_flight.clear()

    async def _ingest(self, lines: list[FileLine]) -> Ingested:
        """One call of the service for a window; the bar moves as its batches commit."""
        readable = [line for line in lines if line.item is not None]
        records = [line for line in readable if line.kind == "record"]
        events = [line for line in readable if line.kind == "event"]
        result = None
        if records or events:
            result = await self.service.ingest(
                [r.item for r in records if r.item is not None],  # (all of them: readable)
                [e.item for e in events if e.item is not None], slots=self.slots,
                defer=self.defer,
                on_batch=lambda items: self.progress.update(self.task, advance=items))
        return lines, records + events, result

    async def _take_oldest(self) -> None:
        lines, ordered, result = await self.in_flight.popleft()
        bad = [(line, line.code, line.error or "") for line in lines if line.item is None]
        if result is not None:
            self.summary.accepted += result.accepted
            self.summary.duplicates += result.duplicates
            # `ordered`: the service indexes records first, then events
            bad += [(ordered[r.index], r.code, r.message) for r in result.rejected]
        for line, code, message in sorted(bad, key=lambda b: b[0].number):
            _reject(self.summary, self.rejects, line, code, message)
        self.progress.update(self.task, advance=len(bad))


def _reject(summary: FileSummary, rejects: TextIO | None, line: FileLine, code: str,
            message: str) -> None:
    summary.rejected_by_code[code] += 1
    if rejects:
        rejects.write(json.dumps({"line": line.number, "code": code, "message": message,
                                  "input": line.raw.rstrip("\n")}) + "\n")
