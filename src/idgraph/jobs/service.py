"""Jobs: long maintenance (a view rebuild, a computed backfill) split in chunks, each chunk one
transaction through the pipeline that also records the job's cursor and progress, so a failed
job resumes where it stopped. Jobs run in the process as asyncio tasks, one per kind at a time;
the mutation that starts one returns it at once, and `job(id)` shows its progress.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from idgraph.clock import now_ms
from idgraph.db.graph import Graph, Tx
from idgraph.errors import InvalidInput, NotFound
from idgraph.jobs import repository as q

log = logging.getLogger("idgraph.jobs")

# Records a chunk's progress inside the chunk's own transaction: (tx, new cursor, items done).
Advance = Callable[[Tx, str, int], Awaitable[None]]


class JobStatus(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    status: JobStatus
    done: int
    total: int | None
    error: str | None
    cursor: str
    params: dict[str, Any]
    created_at: int
    updated_at: int

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Job:
        return cls(row["id"], row["kind"], JobStatus(row["status"]), row["done"],
                   row.get("total"), row.get("error"), row.get("cursor") or "",
                   json.loads(row.get("params") or "{}"), row["createdAt"], row["updatedAt"])

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)


class Work(Protocol):
    """One kind of job."""

    @property
    def kind(self) -> str: ...

    async def total(self, job: Job) -> int | None:
        """How many items the job will walk (None when not known up front)."""

    async def chunk(self, job: Job, cursor: str, limit: int, advance: Advance
                    ) -> tuple[str, bool]:
        """Do up to `limit` items after `cursor` in one transaction (calling `advance` in it);
        returns the new cursor and whether the walk is over."""

    async def finish(self, job: Job) -> None:
        """After the last chunk (e.g. make the result visible)."""


class InjectedFailure(RuntimeError):
    """Raised by the test-only hook `JobService.fail_after_chunks`."""


class JobService:
    def __init__(self, graph: Graph, chunk_size: int = 500) -> None:
        self.graph = graph
        self.chunk_size = chunk_size
        self._kinds: dict[str, Work] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Test-only: fail each run after this many chunks (a real failure half-way: the chunks
        # done stay committed, the job is marked failed and can be resumed).
        self.fail_after_chunks: int | None = None

    def register(self, work: Work) -> None:
        self._kinds[work.kind] = work
        self._locks[work.kind] = asyncio.Lock()

    # -- reads ----------------------------------------------------------------------------------
    async def get(self, job_id: str) -> Job | None:
        rows = await self.graph.read(q.GET_JOB, id=job_id)
        return Job.from_row(rows[0]["j"]) if rows else None

    async def recent(self, first: int = 20) -> list[Job]:
        """The latest jobs, newest first."""
        return [Job.from_row(r["j"]) for r in await self.graph.read(q.LIST_JOBS, first=first)]

    # -- starting and resuming ------------------------------------------------------------------
    async def start(self, kind: str, params: dict[str, Any] | None = None,
                    run: bool = True) -> Job:
        """A new job (or the one of the same kind and parameters still queued), started in the
        background unless `run` is False (the CLI runs it in the foreground with `run_now`)."""
        if kind not in self._kinds:
            raise InvalidInput(f"Unknown job kind {kind!r}.")
        text = json.dumps(params or {}, sort_keys=True)
        queued = await self.graph.read(q.QUEUED_JOB, kind=kind, params=text)
        if queued and run:
            return Job.from_row(queued[0]["j"])
        rows = await self.graph.write(q.CREATE_JOB, id=uuid.uuid4().hex, kind=kind,
                                      params=text, now=now_ms())
        job = Job.from_row(rows[0]["j"])
        if run:
            self._spawn(job.id, kind)
        return job

    def launch(self, job: Job) -> None:
        """Run a queued job (made with `start(..., run=False)`) in the background."""
        self._spawn(job.id, job.kind)

    async def resume(self, job_id: str, run: bool = True) -> Job:
        """Continue a failed job from its cursor."""
        job = await self.get(job_id)
        if job is None:
            raise NotFound(f"No job {job_id!r}.")
        if job.status is not JobStatus.FAILED:
            raise InvalidInput(f"Job {job_id} is {job.status.value}; only a failed job can be "
                               "resumed.", "JOB_NOT_RESUMABLE")
        job = await self._set(job_id, JobStatus.QUEUED)
        if run:
            self._spawn(job.id, job.kind)
        return job

    async def run_now(self, job_id: str,
                      on_progress: Callable[[Job], None] | None = None) -> Job:
        """Run a queued job in the foreground (the CLI); returns it finished."""
        job = await self.get(job_id)
        if job is None:
            raise NotFound(f"No job {job_id!r}.")
        await self._run(job.id, job.kind, on_progress)
        finished = await self.get(job_id)
        assert finished is not None
        return finished

    async def mark_interrupted(self) -> list[str]:
        """At start-up: jobs a stopped process left queued or running become failed
        (resumable). One API process runs jobs; a second one would mark the first's."""
        rows = await self.graph.write(q.INTERRUPTED_JOBS, now=now_ms(),
                                      error="interrupted: the process running it stopped; "
                                            "resume it")
        return list(rows[0]["ids"]) if rows else []

    async def wait(self, job_id: str, poll: float = 0.05, timeout: float = 60.0) -> Job:
        """Poll until the job has finished (tests, the CLI's watch)."""
        async with asyncio.timeout(timeout):
            while True:
                job = await self.get(job_id)
                if job is None or job.finished:
                    if job is None:
                        raise NotFound(f"No job {job_id!r}.")
                    return job
                await asyncio.sleep(poll)

    async def close(self) -> None:
        """Stop the jobs of this process (they stay resumable)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- running ----------------------------------------------------------------------------------
    def _spawn(self, job_id: str, kind: str) -> None:
        task = asyncio.get_running_loop().create_task(self._run(job_id, kind))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, job_id: str, kind: str,
                   on_progress: Callable[[Job], None] | None = None) -> None:
        async with self._locks[kind]:  # one job per kind at a time
            try:
                await self._walk(job_id, self._kinds[kind], on_progress)
            except asyncio.CancelledError:
                await self._set(job_id, JobStatus.FAILED, error="cancelled: the process "
                                "stopped; resume it")
                raise
            except Exception as exc:  # noqa: BLE001 - any failure is recorded on the job
                log.exception("job %s (%s) failed", job_id, kind)
                await self._set(job_id, JobStatus.FAILED, error=f"{exc} (resume the job to "
                                "continue from where it stopped)")

    async def _walk(self, job_id: str, work: Work,
                    on_progress: Callable[[Job], None] | None) -> None:
        job = await self._set(job_id, JobStatus.RUNNING)
        if job.total is None:
            job = await self._set(job_id, JobStatus.RUNNING, total=await work.total(job))
        cursor, chunks = job.cursor, 0
        while True:
            if self.fail_after_chunks is not None and chunks >= self.fail_after_chunks:
                raise InjectedFailure(f"injected failure after {chunks} chunk(s)")
            cursor, over = await work.chunk(job, cursor, self.chunk_size,
                                            functools.partial(self._advance, job_id))
            chunks += 1
            if on_progress:
                on_progress(await self.get(job_id) or job)
            if over:
                break
        await work.finish(job)
        await self._set(job_id, JobStatus.SUCCEEDED)

    @staticmethod
    async def _advance(job_id: str, tx: Tx, cursor: str, n: int) -> None:
        await tx.run(q.ADVANCE_JOB, id=job_id, cursor=cursor, n=n, now=now_ms())

    async def _set(self, job_id: str, status: JobStatus, error: str | None = None,
                   total: int | None = None) -> Job:
        rows = await self.graph.write(q.SET_JOB_STATUS, id=job_id, status=status.value,
                                      error=error, total=total, now=now_ms())
        return Job.from_row(rows[0]["j"])
