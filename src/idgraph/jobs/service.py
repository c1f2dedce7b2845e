"""Jobs: long maintenance (a view rebuild, a computed backfill) split in chunks, each chunk one
transaction through the pipeline that also records the job's cursor and progress, so a failed
job resumes where it stopped. Jobs run in the process as asyncio tasks, one per kind at a time;
the mutation that starts one returns it at once, and `job(id)` shows its progress.

With several processes, each job runs in one: the process that queued it claims it, under a
lease in Neo4j that its heartbeat renews. A chunk commits only while its process still holds
the job, so a job is never run twice at once; a job whose process died is stale once its lease
has expired, and any process may resume it (`resumeJob`), or marks it failed when it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from idgraph.clock import now_ms
from idgraph.db.errors import DatabaseError
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


class LeaseLost(RuntimeError):
    """This process no longer holds the job (its lease expired and another took it)."""


class JobService:
    def __init__(self, graph: Graph, chunk_size: int = 500, lease_seconds: float = 30.0) -> None:
        self.graph = graph
        self.chunk_size = chunk_size
        # This process, as the holder of the jobs it runs; a lease lasts this long from each
        # renewal (the heartbeat renews three times per lease).
        self.holder = uuid.uuid4().hex
        self.lease_ms = int(lease_seconds * 1000)
        self._kinds: dict[str, Work] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = 0  # jobs of this process queued or running (the heartbeat runs while > 0)
        self._heartbeat: asyncio.Task[None] | None = None
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
                                      params=text, now=now_ms(), holder=self.holder,
                                      ttl=self.lease_ms)
        job = Job.from_row(rows[0]["j"])
        if run:
            self._spawn(job.id, kind)
        return job

    def launch(self, job: Job) -> None:
        """Run a queued job (made with `start(..., run=False)`) in the background."""
        self._spawn(job.id, job.kind)

    async def resume(self, job_id: str, run: bool = True) -> Job:
        """Continue a failed job, or one whose process stopped (lease expired), from its
        cursor, in this process."""
        job = await self.get(job_id)
        if job is None:
            raise NotFound(f"No job {job_id!r}.")
        rows = await self.graph.write(q.REQUEUE_JOB, id=job_id, holder=self.holder,
                                      ttl=self.lease_ms, now=now_ms())
        if not rows:
            raise InvalidInput(f"Job {job_id} is {job.status.value}; only a failed job, or one "
                               "whose process stopped (its lease expired), can be resumed.",
                               "JOB_NOT_RESUMABLE")
        job = Job.from_row(rows[0]["j"])
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
        """At start-up: jobs a stopped process left queued or running (their lease expired)
        become failed (resumable); the jobs of live processes are left alone."""
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
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)

    # -- running ----------------------------------------------------------------------------------
    def _spawn(self, job_id: str, kind: str) -> None:
        task = asyncio.get_running_loop().create_task(self._run(job_id, kind))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, job_id: str, kind: str,
                   on_progress: Callable[[Job], None] | None = None) -> None:
        self._running += 1
        if self._heartbeat is None:
            self._heartbeat = asyncio.get_running_loop().create_task(self._beating())
        try:
            async with self._locks[kind]:  # one job per kind at a time
                await self._run_claimed(job_id, kind, on_progress)
        finally:
            self._running -= 1

    async def _beating(self) -> None:
        """Renew the leases of this process's jobs while it has any."""
        try:
            while self._running:
                await asyncio.sleep(self.lease_ms / 3000)
                try:
                    await self.graph.write(q.RENEW_JOBS, holder=self.holder, ttl=self.lease_ms)
                except DatabaseError as exc:
                    log.warning("could not renew the leases of running jobs: %s", exc)
        finally:
            self._heartbeat = None

    async def _run_claimed(self, job_id: str, kind: str,
                           on_progress: Callable[[Job], None] | None) -> None:
        rows = await self.graph.write(q.CLAIM_JOB, id=job_id, holder=self.holder,
                                      ttl=self.lease_ms, now=now_ms())
        if not rows:
            log.info("job %s (%s) is run by another process", job_id, kind)
            return
        try:
            await self._walk(Job.from_row(rows[0]["j"]), self._kinds[kind], on_progress)
        except LeaseLost:
            log.warning("job %s (%s): another process took it over (this one stalled past "
                        "its lease); its last chunk here was rolled back", job_id, kind)
        except asyncio.CancelledError:
            with contextlib.suppress(LeaseLost, DatabaseError):  # else stale: resumable too
                await self._set(job_id, JobStatus.FAILED, error="cancelled: the process "
                                "stopped; resume it")
            raise
        except Exception as exc:  # noqa: BLE001 - any failure is recorded on the job
            log.exception("job %s (%s) failed", job_id, kind)
            with contextlib.suppress(LeaseLost):
                await self._set(job_id, JobStatus.FAILED, error=f"{exc} (resume the job to "
                                "continue from where it stopped)")

    async def _walk(self, job: Job, work: Work,
                    on_progress: Callable[[Job], None] | None) -> None:
        job_id = job.id
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

    async def _advance(self, job_id: str, tx: Tx, cursor: str, n: int) -> None:
        [row] = await tx.run(q.ADVANCE_JOB, id=job_id, cursor=cursor, n=n, now=now_ms(),
                             holder=self.holder, ttl=self.lease_ms)
        if not row["held"]:
            raise LeaseLost(job_id)  # rolls the chunk back: the new holder does it

    async def _set(self, job_id: str, status: JobStatus, error: str | None = None,
                   total: int | None = None) -> Job:
        rows = await self.graph.write(q.SET_JOB_STATUS, id=job_id, status=status.value,
                                      error=error, total=total, now=now_ms(),
                                      holder=self.holder)
        if not rows:
            raise LeaseLost(job_id)
        return Job.from_row(rows[0]["j"])
