"""Jobs under a lease, two job services (two processes' worth) on one Neo4j: a job queued by
one is run by it alone; a process starting up fails only jobs whose lease has expired; a job
still held cannot be resumed elsewhere."""

from __future__ import annotations

import asyncio

import pytest

from idgraph.errors import InvalidInput
from idgraph.jobs.service import JobService, JobStatus
from idgraph.profile.materialise import VIEW_REBUILD


def other_process(services, lease_seconds: float = 60.0) -> JobService:
    """The job service of a second process: another holder, the same kinds."""
    other = JobService(services.graph, services.jobs.chunk_size, lease_seconds)
    for work in services.jobs._kinds.values():
        other.register(work)
    return other


async def test_a_job_held_by_one_process_is_run_by_it_alone(services):
    job = await services.jobs.start(VIEW_REBUILD, run=False)  # queued, held by this process
    other = other_process(services)
    assert (await other.run_now(job.id)).status is JobStatus.QUEUED  # not its to run
    with pytest.raises(InvalidInput) as refused:
        await other.resume(job.id)
    assert refused.value.code == "JOB_NOT_RESUMABLE"
    assert (await services.jobs.run_now(job.id)).status is JobStatus.SUCCEEDED


async def test_a_starting_process_fails_only_jobs_whose_lease_expired(services):
    short = other_process(services, lease_seconds=1.0)
    stale = await short.start(VIEW_REBUILD, run=False)  # its process "dies" here
    live = await services.jobs.start(VIEW_REBUILD, {"n": 1}, run=False)
    await asyncio.sleep(1.5)  # past the first one's lease
    assert await other_process(services).mark_interrupted() == [stale.id]
    assert (await services.jobs.get(live.id)).status is JobStatus.QUEUED
    resumed = await services.jobs.resume(stale.id, run=False)  # any process may take it on
    assert resumed.status is JobStatus.QUEUED
    assert (await services.jobs.run_now(stale.id)).status is JobStatus.SUCCEEDED
