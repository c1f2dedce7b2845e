"""Export runs as jobs (kind `export`): a page of rows per chunk, delivered, then recorded.

Each chunk reads one page of the segment's memberships (or of every profile) after the cursor,
builds the records, delivers them (a POST, or rows appended to the file) and only then moves
the job's cursor in one transaction with the run's counts. The cursor is JSON:
`{after, batch, exported, skipped, realized, existing, exited}`.

A failed HTTP run resumes at its last recorded batch: the batch that may have been delivered
without being recorded goes again under the same idempotency key. A file cannot be appended to
after a crash (a Parquet footer, an object store's upload), so a file run that failed inside a
chunk, or is resumed by another process, writes its file again from the start.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from idgraph.activation.destinations import Destination, Format, Kind, fill
from idgraph.activation.records import Columns, record
from idgraph.activation.repository import ActivationRepository
from idgraph.clock import now_ms
from idgraph.db.graph import Graph, Tx
from idgraph.jobs.service import Advance, Job

if TYPE_CHECKING:  # imported where used: pyarrow, fsspec and httpx cost seconds at start-up
    from idgraph.activation.delivery import RetryPolicy
    from idgraph.activation.formats import FileSink
    from idgraph.activation.service import Destinations

log = logging.getLogger("idgraph.activation.runs")
EXPORT = "export"
COUNTS = ("exported", "skipped", "realized", "existing", "exited")


@dataclass
class Progress:
    after: str = ""
    batch: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))

    @classmethod
    def parse(cls, text: str) -> Progress:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(data["after"], data["batch"], {k: int(data.get(k, 0)) for k in COUNTS})

    def text(self) -> str:
        return json.dumps({"after": self.after, "batch": self.batch, **self.counts})


@dataclass(frozen=True)
class Plan:
    """What a run exports, from its job's parameters."""

    run: str
    segment: str | None
    version: int | None
    columns: Columns
    since: int | None
    until: int
    incremental: bool

    @classmethod
    def of(cls, job: Job) -> Plan:
        p = job.params
        cols = Columns(tuple(p["namespaces"]), tuple(p["attributes"]),
                       tuple(None if t is None else _attribute_type(t) for t in p["types"]),
                       membership=p["segment"] is not None, segments=p["segment"] is None)
        return cls(job.id, p["segment"], p.get("version"), cols, p.get("since"), p["until"],
                   p["mode"] == "incremental")

    def query(self) -> dict[str, Any]:
        return {"segment": self.segment, "version": self.version, "since": self.since,
                "until": self.until, "namespaces": list(self.columns.namespaces)}


def _attribute_type(text: str) -> Any:
    from idgraph.profile.attributes import AttributeType

    return AttributeType(text)


@dataclass
class ExportWork:
    """The `export` job kind."""

    graph: Graph
    repository: ActivationRepository
    destinations: Destinations
    storage_options: dict[str, dict[str, Any]]
    retry: RetryPolicy
    page_size: int = 5000
    kind: str = EXPORT
    _files: dict[str, FileSink] = field(default_factory=dict)

    async def total(self, job: Job) -> int | None:
        plan = Plan.of(job)
        if plan.segment is None:
            return await self.repository.profile_count()
        return await self.repository.segment_count(plan.query())

    async def chunk(self, job: Job, cursor: str, limit: int, advance: Advance
                    ) -> tuple[str, bool]:
        destination = await self._destination(job)
        if destination.kind is Kind.FILE and job.id not in self._files:
            cursor = ""  # a file is written from its start (see the module's docstring)
        progress, plan = Progress.parse(cursor), Plan.of(job)
        size = destination.batch_size if destination.kind is Kind.HTTP else self.page_size
        rows = await self._page(plan, progress.after, size)
        records = self._count(rows, plan, progress)
        try:
            await self._deliver(job, destination, plan, progress.batch, records)
        except BaseException:
            await self._drop_file(job.id)
            raise
        if rows:
            progress.after = rows[-1]["id"]
        progress.batch += 1

        async def record_progress(tx: Tx) -> None:
            await advance(tx, progress.text(), len(rows))

        await self.graph.write_tx(record_progress)
        return progress.text(), len(rows) < size

    async def finish(self, job: Job) -> None:
        sink = self._files.pop(job.id, None)
        if sink is not None:
            await asyncio.to_thread(sink.commit)
        await self.repository.finish_run(job.id, now_ms())

    async def _page(self, plan: Plan, after: str, size: int) -> list[dict[str, Any]]:
        if plan.segment is None:
            return await self.repository.profile_page(plan.columns.namespaces, after, size)
        return await self.repository.segment_page(plan.query(), after, size)

    @staticmethod
    def _count(rows: list[dict[str, Any]], plan: Plan, progress: Progress
               ) -> list[dict[str, Any]]:
        records = []
        for row in rows:
            rec = record(row, plan.columns, plan.incremental)
            if rec is None:
                progress.counts["skipped"] += 1
                continue
            records.append(rec)
            progress.counts["exported"] += 1
            if "status" in rec:
                progress.counts[rec["status"]] += 1
        return records

    async def _deliver(self, job: Job, destination: Destination, plan: Plan, number: int,
                       records: list[dict[str, Any]]) -> None:
        if destination.kind is Kind.FILE:
            sink = await self._sink(job, destination, plan)
            await asyncio.to_thread(sink.write, records)
            return
        if not records:
            return
        from idgraph.activation.delivery import Batch, HttpDelivery

        delivery = HttpDelivery(destination, self.retry)
        try:
            meta = {"destination": destination.id, "segment": plan.segment,
                    "mode": "incremental" if plan.incremental else "full"}
            await delivery.send(Batch(job.id, number, records, meta))
        finally:
            await delivery.close()

    async def _sink(self, job: Job, destination: Destination, plan: Plan) -> FileSink:
        if job.id not in self._files:
            from idgraph.activation.formats import FileSink

            location = fill(job.params["location"], {"run": job.id})
            options = self.storage_options.get(location.split("://")[0], {}) \
                if "://" in location else {}
            fmt = destination.format or Format.JSONL
            self._files[job.id] = await asyncio.to_thread(FileSink, location, fmt,
                                                          plan.columns, options)
        return self._files[job.id]

    async def _drop_file(self, job_id: str) -> None:
        sink = self._files.pop(job_id, None)
        if sink is not None:
            try:
                await asyncio.to_thread(sink.abandon)
            except Exception:  # noqa: BLE001 - the run's own failure is the one to report
                log.exception("could not remove the partial file of run %s", job_id)

    async def _destination(self, job: Job) -> Destination:
        inline = job.params.get("inline")
        if inline:  # an ad-hoc file export (the CLI): no stored destination
            return Destination.of(inline)
        return await self.destinations.for_delivery(job.params["destination"])
