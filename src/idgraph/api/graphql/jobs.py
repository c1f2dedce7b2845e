"""GraphQL for jobs: long maintenance started by a mutation, followed with `job(id)`."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from idgraph.api.graphql.common import from_millis
from idgraph.api.graphql.context import Context
from idgraph.api.graphql.limits import DEFAULT_PAGE_SIZE, page_size
from idgraph.api.graphql.permissions import Role, allow
from idgraph.jobs import service as jobs

ADMIN = [allow()]
READERS = [allow(Role.ANALYST)]

# The domain's statuses, exposed as they are.
strawberry.enum(jobs.JobStatus, name="JobStatus",
                description="queued, running, then succeeded or failed (failed ones resume).")


@strawberry.type(description="Long maintenance (a view rebuild, a computed backfill), run off "
                             "the request path in chunks; a failed job resumes from its cursor.")
class Job:
    id: strawberry.ID
    kind: str = strawberry.field(description="view_rebuild, computed_backfill, "
                                             "segment-evaluation, segments-evaluation or export.")
    status: jobs.JobStatus
    done: int = strawberry.field(description="Items done (profiles, events, memberships, "
                                             "segments).")
    total: int | None = strawberry.field(description="Items to do, when known up front.")
    error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, job: jobs.Job) -> Job:
        created, updated = from_millis(job.created_at), from_millis(job.updated_at)
        assert created is not None and updated is not None
        return cls(id=strawberry.ID(job.id), kind=job.kind, status=job.status, done=job.done,
                   total=job.total, error=job.error, created_at=created, updated_at=updated)


def job_or_none(job: jobs.Job | None) -> Job | None:
    return None if job is None else Job.of(job)


@strawberry.type
class JobQuery:
    @strawberry.field(permission_classes=READERS, description="A job (null when unknown).")
    async def job(self, info: Info[Context, None], id: strawberry.ID) -> Job | None:
        return job_or_none(await info.context.services.jobs.get(str(id)))

    @strawberry.field(permission_classes=READERS, description="Jobs, newest first.")
    async def jobs(self, info: Info[Context, None],
                   first: int | None = DEFAULT_PAGE_SIZE) -> list[Job]:
        size = page_size(first, info.context.services.settings)
        return [Job.of(j) for j in await info.context.services.jobs.recent(size)]


@strawberry.type
class JobMutation:
    @strawberry.mutation(permission_classes=ADMIN,
                         description="Continue a failed job from where it stopped, or one "
                                     "whose process stopped (its lease expired), in this "
                                     "process.")
    async def resume_job(self, info: Info[Context, None], id: strawberry.ID) -> Job:
        return Job.of(await info.context.services.jobs.resume(str(id)))

    @strawberry.mutation(permission_classes=ADMIN,
                         description="Start recomputing every materialised view (a job).")
    async def rebuild_views(self, info: Info[Context, None]) -> Job:
        return Job.of(await info.context.services.profiles.rebuild_views())
