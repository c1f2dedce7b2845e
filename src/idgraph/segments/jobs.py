"""A minimal job record for segment evaluations, until the shared job mechanism (branch
`pipeline`, jobs/service.py) is merged: the same node shape and the same calls (`register`,
`start`, `get`, `wait`, `close`, works with `total`/`chunk`/`finish`), so swapping it for
that one is a change of import.

(:Job {id, kind, status: queued|running|succeeded|failed, done, total, error, cursor,
       params (JSON), createdAt, updatedAt})
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from idgraph.db.graph import Graph, Tx
from idgraph.errors import InvalidInput, NotFound
from idgraph.identity.service import now_ms

log = logging.getLogger("idgraph.segments.jobs")

CREATE_JOB = """
CREATE (j:Job {id: $id, kind: $kind, status: 'queued', done: 0, total: null, error: null,
               cursor: '', params: $params, createdAt: $now, updatedAt: $now})
RETURN j {.*} AS j
"""
GET_JOB = "MATCH (j:Job {id: $id}) RETURN j {.*} AS j"
ADVANCE_JOB = """
MATCH (j:Job {id: $id})
SET j.cursor = $cursor, j.done = j.done + $n, j.updatedAt = $now
"""
SET_JOB_STATUS = """
MATCH (j:Job {id: $id})
SET j.status = $status, j.error = $error, j.updatedAt = $now, j.total = coalesce($total, j.total)
RETURN j {.*} AS j
"""

# Records a chunk's progress inside the chunk's own transaction: (tx, job id, cursor, n).
Advance = Callable[[Tx, str, str, int], Awaitable[None]]


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
    kind: str

    async def total(self, job: Job) -> int | None: ...

    async def chunk(self, job: Job, cursor: str, limit: int, advance: Advance
                    ) -> tuple[str, bool]: ...

    async def finish(self, job: Job) -> None: ...


class JobService:
    """Jobs run in this process as asyncio tasks, one per kind at a time."""

    def __init__(self, graph: Graph, chunk_size: int = 5000) -> None:
        self.graph = graph
        self.chunk_size = chunk_size
        self._kinds: dict[str, Work] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def register(self, work: Work) -> None:
        self._kinds[work.kind] = work
        self._locks[work.kind] = asyncio.Lock()

    async def get(self, job_id: str) -> Job | None:
        rows = await self.graph.read(GET_JOB, id=job_id)
        return Job.from_row(rows[0]["j"]) if rows else None

    async def start(self, kind: str, params: dict[str, Any] | None = None) -> Job:
        if kind not in self._kinds:
            raise InvalidInput(f"Unknown job kind {kind!r}.")
        rows = await self.graph.write(CREATE_JOB, id=uuid.uuid4().hex, kind=kind,
                                      params=json.dumps(params or {}, sort_keys=True),
                                      now=now_ms())
        job = Job.from_row(rows[0]["j"])
        task = asyncio.get_running_loop().create_task(self._run(job.id, kind))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def wait(self, job_id: str, poll: float = 0.05, timeout: float = 60.0) -> Job:
        async with asyncio.timeout(timeout):
            while True:
                job = await self.get(job_id)
                if job is None:
                    raise NotFound(f"No job {job_id!r}.")
                if job.finished:
                    return job
                await asyncio.sleep(poll)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, job_id: str, kind: str) -> None:
        async with self._locks[kind]:
            try:
                await self._walk(job_id, self._kinds[kind])
            except asyncio.CancelledError:
                await self._set(job_id, JobStatus.FAILED, error="cancelled: the process stopped")
                raise
            except Exception as exc:  # noqa: BLE001 - any failure is recorded on the job
                log.exception("job %s (%s) failed", job_id, kind)
                await self._set(job_id, JobStatus.FAILED, error=str(exc))

    async def _walk(self, job_id: str, work: Work) -> None:
        job = await self._set(job_id, JobStatus.RUNNING)
        job = await self._set(job_id, JobStatus.RUNNING, total=await work.total(job))
        cursor = job.cursor
        while True:
            cursor, over = await work.chunk(job, cursor, self.chunk_size, self._advance)
            if over:
                break
        await work.finish(job)
        await self._set(job_id, JobStatus.SUCCEEDED)

    @staticmethod
    async def _advance(tx: Tx, job_id: str, cursor: str, n: int) -> None:
        await tx.run(ADVANCE_JOB, id=job_id, cursor=cursor, n=n, now=now_ms())

    async def _set(self, job_id: str, status: JobStatus, error: str | None = None,
                   total: int | None = None) -> Job:
        rows = await self.graph.write(SET_JOB_STATUS, id=job_id, status=status.value,
                                      error=error, total=total, now=now_ms())
        return Job.from_row(rows[0]["j"])
