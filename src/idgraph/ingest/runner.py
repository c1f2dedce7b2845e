"""`idgraph ingest FILE`: stream a file in batches through the identity service, with progress."""

from __future__ import annotations

import gc
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from idgraph.identity.service import IdentityService
from idgraph.ingest.files import FileLine, read_items
from idgraph.ingest.planning import LinePlan, Regrouper, plan_lines

# A file ingest keeps many objects alive at once (a window of items, the results of the batches
# in flight), and with Python's default thresholds (700, 10, 10) a full collection traversing
# all of them ran every few thousand records: about 40% of the ingest's CPU (measured on 30,000
# records: 2.1-3.0 s of 5-6 s). Rarer collections find the same garbage in fewer passes.
BULK_GC_THRESHOLDS = (10_000, 20, 100)


@dataclass
class FileSummary:
    accepted: int = 0
    duplicates: int = 0
    rejected_by_code: Counter = field(default_factory=Counter)

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_code.values())


async def ingest_file(service: IdentityService, path: Path, batch_size: int,
                      rejects_path: Path | None = None, show_progress: bool = True,
                      window_lines: int = 20_000, max_held_lines: int = 200_000) -> FileSummary:
    """Two passes over the file: plan which lines belong together (ingest/planning.py), then
    hand the service windows of whole groups of lines."""
    summary = FileSummary()
    # A window of lines per call: the service groups the items of a call that share identities
    # into one batch, and batches in flight then seldom meet on a profile (each meeting is a
    # lock wait or a deadlock retry). At least ten rounds of `concurrency` batches: the service
    # waits for a call's last batch before the next call starts.
    lines_per_call = max(window_lines, batch_size * service.concurrency * 10)
    rejects = rejects_path.open("w") if rejects_path else None
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), disable=not show_progress, transient=False)
    previous_thresholds = gc.get_threshold()
    gc.set_threshold(*BULK_GC_THRESHOLDS)
    try:
        with progress:
            # A pipe can be read only once: it goes in unplanned, in windows as it comes.
            plan = _plan(service, path, progress) if path.is_file() else LinePlan.empty()
            task = progress.add_task(f"ingesting {path.name}", total=len(plan) or None)
            regroup = Regrouper(plan, max_held_lines)
            window: list[FileLine] = []
            with path.open(encoding="utf-8", newline="") as handle:
                for line in read_items(path, handle):
                    window.extend(regroup.add(line))
                    if len(window) >= lines_per_call:
                        await _flush(service, window, summary, rejects, progress, task)
                        window = []
            window.extend(regroup.rest())
            await _flush(service, window, summary, rejects, progress, task)
            if plan:
                progress.update(task, completed=len(plan))
    finally:
        gc.set_threshold(*previous_thresholds)
        if rejects:
            rejects.close()
    return summary


def _plan(service: IdentityService, path: Path, progress: Progress) -> LinePlan:
    """The first pass, with its own bar (it reads the whole file: seconds per million lines)."""
    task = progress.add_task(f"planning {path.name}", total=path.stat().st_size)
    with path.open(encoding="utf-8", newline="") as handle:
        def lines():
            for count, line in enumerate(read_items(path, handle)):
                if count % 10_000 == 0:
                    progress.update(task, completed=_position(handle))
                yield line

        plan = plan_lines(lines(), service.normaliser)
    progress.update(task, completed=path.stat().st_size)
    return plan


def _position(handle) -> int:
    try:
        return handle.buffer.tell()
    except (AttributeError, OSError, ValueError):
        return 0


async def _flush(service: IdentityService, batch: list[FileLine], summary: FileSummary,
                 rejects, progress: Progress, task) -> None:
    """One call of the service for a window of lines; the bar moves as its batches commit."""
    unreadable = [line for line in batch if line.item is None]
    for line in unreadable:
        _reject(summary, rejects, line, "UNREADABLE_LINE", line.error or "")
    progress.update(task, advance=len(unreadable))
    readable = [line for line in batch if line.item is not None]
    records = [line for line in readable if line.kind == "record"]
    events = [line for line in readable if line.kind == "event"]
    if not records and not events:
        return
    result = await service.ingest([r.item for r in records], [e.item for e in events],
                                  on_batch=lambda items: progress.update(task, advance=items))
    progress.update(task, advance=len(result.rejected))
    summary.accepted += result.accepted
    summary.duplicates += result.duplicates
    ordered = records + events  # the service indexes records first, then events
    for rejection in result.rejected:
        _reject(summary, rejects, ordered[rejection.index], rejection.code, rejection.message)


def _reject(summary: FileSummary, rejects, line: FileLine, code: str, message: str) -> None:
    summary.rejected_by_code[code] += 1
    if rejects:
        rejects.write(json.dumps({"line": line.number, "code": code, "message": message,
                                  "input": line.raw.rstrip("\n")}) + "\n")
