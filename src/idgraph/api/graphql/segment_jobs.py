"""GraphQL for jobs (the minimal segment-evaluation job record, segments/jobs.py): the `Job`
type and `job(id)`. The same shape as the shared job mechanism's (branch `pipeline`), which
replaces this module once merged."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from idgraph.api.graphql.common import from_millis
from idgraph.api.graphql.context import Context
from idgraph.api.graphql.permissions import Role, allow
from idgraph.segments import jobs

READERS = [allow(Role.ANALYST)]

strawberry.enum(jobs.JobStatus, name="JobStatus",
                description="queued, running, then succeeded or failed.")


@strawberry.type(description="Long work run off the request path (a segment evaluation), "
                             "with its progress.")
class Job:
    id: strawberry.ID
    kind: str = strawberry.field(description="segment-evaluation or segments-evaluation.")
    status: jobs.JobStatus
    done: int = strawberry.field(description="Items done (memberships written, or segments "
                                             "evaluated for segments-evaluation).")
    total: int | None = strawberry.field(description="Items to do, when known.")
    error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, job: jobs.Job) -> Job:
        created, updated = from_millis(job.created_at), from_millis(job.updated_at)
        assert created is not None and updated is not None
        return cls(id=strawberry.ID(job.id), kind=job.kind, status=job.status, done=job.done,
                   total=job.total, error=job.error, created_at=created, updated_at=updated)


@strawberry.type
class JobQuery:
    @strawberry.field(permission_classes=READERS, description="A job (null when unknown).")
    async def job(self, info: Info[Context, None], id: strawberry.ID) -> Job | None:
        found = await info.context.services.segments.jobs.get(str(id))
        return None if found is None else Job.of(found)
