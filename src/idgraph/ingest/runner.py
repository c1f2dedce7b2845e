"""`idgraph ingest FILE`: stream a file in batches through the identity service, with progress."""

from __future__ import annotations

import gc
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from idgraph.identity.service import IdentityService
from idgraph.ingest.files import FileLine, read_items

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
                      rejects_path: Path | None = None, show_progress: bool = True) -> FileSummary:
    summary = FileSummary()
    # Ten rounds of `concurrency` batches per call: the service groups the items of a call
    # that share identities into one batch, so batches in flight seldom meet on a profile (each
    # meeting is a lock wait or a deadlock retry), and it waits for a call's last batch before
    # the next call starts. One round per call measured 1.4-1.7x slower (bench/results).
    lines_per_call = batch_size * service.concurrency * 10
    rejects = rejects_path.open("w") if rejects_path else None
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TransferSpeedColumn(),
                        TimeRemainingColumn(), disable=not show_progress, transient=False)
    previous_thresholds = gc.get_threshold()
    gc.set_threshold(*BULK_GC_THRESHOLDS)
    try:
        with path.open(encoding="utf-8", newline="") as handle, progress:
            task = progress.add_task(f"ingesting {path.name}", total=path.stat().st_size)
            batch: list[FileLine] = []
            start = 0
            for line in read_items(path, handle):
                batch.append(line)
                if len(batch) >= lines_per_call:
                    end = _position(handle, path)
                    await _flush(service, batch, summary, rejects,
                                 _advance(progress, task, start, end, len(batch)))
                    start, batch = end, []
            await _flush(service, batch, summary, rejects,
                         _advance(progress, task, start, path.stat().st_size, len(batch)))
            progress.update(task, completed=path.stat().st_size)
    finally:
        gc.set_threshold(*previous_thresholds)
        if rejects:
            rejects.close()
    return summary


def _advance(progress: Progress, task, start: int, end: int, lines: int):
    """Moves the bar through a window's bytes as its batches commit (a window is 20,000 lines
    by default: several seconds of work)."""
    done = [0]

    def on_batch(items: int) -> None:
        done[0] += items
        share = min(done[0], lines) / max(lines, 1)
        progress.update(task, completed=start + int((end - start) * share))

    return on_batch


def _position(handle, path: Path) -> int:
    try:
        return handle.buffer.tell()
    except (AttributeError, OSError, ValueError):
        return 0


async def _flush(service: IdentityService, batch: list[FileLine], summary: FileSummary,
                 rejects, on_batch=None) -> None:
    unreadable = [line for line in batch if line.item is None]
    for line in unreadable:
        _reject(summary, rejects, line, "UNREADABLE_LINE", line.error or "")
    readable = [line for line in batch if line.item is not None]
    records = [line for line in readable if line.kind == "record"]
    events = [line for line in readable if line.kind == "event"]
    if not records and not events:
        return
    result = await service.ingest([r.item for r in records], [e.item for e in events],
                                  on_batch=on_batch)
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
