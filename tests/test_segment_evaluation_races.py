"""Streaming writes between an evaluation's read and its write (segments/evaluation.py): never
a second membership of one profile in one segment (a first evaluation CREATEs them), and never
the evaluation's older decision over the write's fresher one, whether the write changed the
membership or, finding it right, left no trace in it."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools

import neo4j
import pytest

from idgraph.api.graphql.permissions import Role
from idgraph.segments.evaluation import WAVE_DEPTH, Prepared, Step
from idgraph.segments.repository import STREAM_WRITE
from idgraph.segments.service import SegmentSpec
from tests.conftest import execute_counting_round_trips
from tests.identity_helpers import INGEST as INGEST_EVENTS
from tests.identity_helpers import record
from tests.profile_helpers import event

INGEST = "mutation($records: [RecordInput!]) { ingest(records: $records) { accepted } }"
AS_OF = 1_767_225_600_000  # 2026-01-01
COUNT = """
MATCH (p:Profile)-[m:IN_SEGMENT]->(:Segment {id: 'old'})
RETURN p.id AS id, count(m) AS n, collect(m.status) AS statuses
"""


async def ingest(services, record_id: str, crm: str, age: int, day: int = 1) -> None:
    item = record(record_id, f"crm:{crm}", day=day, attributes={"age": age})
    result, _ = await execute_counting_round_trips(services, INGEST, {"records": [item]},
                                                   Role.ADMIN)
    assert not result.errors, result.errors


async def decided(services) -> Prepared:
    """Two people over 50 ingested, then the segment made (no membership yet), then its
    evaluation decided, not written: both are to be created."""
    await ingest(services, "r1", "C1", 60)
    await ingest(services, "r2", "C2", 70)
    await services.segments.service.create(SegmentSpec(name="Over 50", definition="age > 50",
                                                       id="old"))
    prepared = await services.segments.evaluator.prepare("old", AS_OF, "run-1")
    assert [b.step for b in prepared.batches] == [Step.CREATE]
    assert len(prepared.batches[0].ids) == 2
    return prepared


async def write_all(services, prepared: Prepared) -> None:
    evaluator = services.segments.evaluator
    for index in range(len(prepared.batches)):
        await evaluator.graph.write_tx(functools.partial(evaluator.write, prepared, index))


def memberships(driver: neo4j.Driver) -> dict[str, tuple[int, list[str]]]:
    with driver.session() as session:
        return {r["id"]: (r["n"], r["statuses"]) for r in session.run(COUNT)}


def profile_of(driver: neo4j.Driver, crm: str) -> str:
    with driver.session() as session:
        return session.run("MATCH (:Identity {key: $key})-[:IN_PROFILE]->(p) RETURN p.id AS id",
                           key=f"crm:{crm}").single(strict=True)["id"]


async def test_a_profile_streaming_found_no_longer_qualifying_is_not_made_a_member(
        services, driver):
    # Streaming finds C1 (now 40) not a member, as it was not one: it writes nothing, and the
    # evaluation, which read C1 at 60, must not create its membership afterwards.
    prepared = await decided(services)
    await ingest(services, "r1-later", "C1", 40, day=2)
    assert memberships(driver) == {}
    await write_all(services, prepared)
    assert memberships(driver) == {profile_of(driver, "C2"): (1, ["realized"])}
    result = prepared.result(None)  # the counts say what was written, not what was planned
    assert (result.size, result.counts["realized"]) == (1, 1)


async def test_an_exit_streamed_after_the_read_is_kept(services, driver):
    prepared = await decided(services)
    await write_all(services, prepared)  # both realized
    again = await services.segments.evaluator.prepare("old", AS_OF, "run-2")
    assert [b.step for b in again.batches] == [Step.EXISTING]
    await ingest(services, "r2-later", "C2", 40, day=2)  # streaming: C2 exits
    await write_all(services, again)
    assert memberships(driver) == {profile_of(driver, "C1"): (1, ["existing"]),
                                   profile_of(driver, "C2"): (1, ["exited"])}


async def test_a_member_streaming_found_still_qualifying_is_not_exited(services, driver):
    # A purchase 40 days ago: a member when evaluated as of 20 days ago, not as of now. The
    # evaluation as of now reads C1 as leaving; then a new purchase arrives, and streaming finds
    # C1 a member, as it is: it writes nothing, and the evaluation must not exit C1 afterwards.
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def days_ago(n: int) -> dt.datetime:
        return now - dt.timedelta(days=n)

    async def purchase(event_id: str, at: dt.datetime) -> None:
        item = event(event_id, "crm:C1", at=at.isoformat().replace("+00:00", "Z"))
        result, _ = await execute_counting_round_trips(services, INGEST_EVENTS,
                                                       {"events": [item]}, Role.ADMIN)
        assert not result.errors, result.errors

    await ingest(services, "r1", "C1", 60)
    await services.segments.service.create(SegmentSpec(
        name="Buyers", definition='events(type = "purchase", within 30 days).exists()',
        id="old"))
    await purchase("e1", days_ago(40))
    evaluator = services.segments.evaluator
    await evaluator.evaluate("old", int(days_ago(20).timestamp() * 1000))
    assert memberships(driver) == {profile_of(driver, "C1"): (1, ["realized"])}
    leaving = await evaluator.prepare("old", int(now.timestamp() * 1000) + 1000, "run-2")
    assert [b.step for b in leaving.batches] == [Step.EXIT]
    await purchase("e2", days_ago(1))
    await write_all(services, leaving)
    assert memberships(driver) == {profile_of(driver, "C1"): (1, ["realized"])}
    result = leaving.result(None)
    assert (result.size, result.counts["exitedNow"]) == (1, 0)


async def test_a_membership_streamed_after_the_read_is_not_created_twice(services, driver):
    prepared = await decided(services)
    await ingest(services, "r1-again", "C1", 61)  # streaming: C1 now qualifies, realized
    assert {n for n, _ in memberships(driver).values()} == {1}
    await write_all(services, prepared)
    found = memberships(driver)
    assert len(found) == 2
    assert all(n == 1 and statuses == ["realized"] for n, statuses in found.values()), found


async def test_a_membership_streamed_in_an_open_transaction_is_not_created_twice(
        services, driver):
    prepared = await decided(services)
    profile = prepared.batches[0].ids[0]
    with driver.session() as session:
        node = session.run("MATCH (p:Profile {id: $id}) RETURN elementId(p) AS node",
                           id=profile).single(strict=True)["node"]
    with driver.session() as session, session.begin_transaction() as tx:
        # A streaming write, not committed yet: it holds the profile's lock.
        tx.run(STREAM_WRITE, now=AS_OF, segments=[{"segment": "old", "version": 1, "rows": [
            {"profile": profile, "node": node, "status": "realized",
             "cause": "ingest"}]}]).consume()
        writing = asyncio.ensure_future(write_all(services, prepared))
        await until_blocked(driver, writing)
        tx.commit()
    await writing
    found = memberships(driver)
    assert len(found) == 2
    assert all(n == 1 for n, _ in found.values()), found


async def until_blocked(driver: neo4j.Driver, task: asyncio.Future[None]) -> None:
    """Until `task` waits for a lock (or is done: then it did not wait)."""
    for _ in range(400):
        if task.done():
            return
        with driver.session() as session:
            statuses = session.run("SHOW TRANSACTIONS YIELD status RETURN status").value()
        if any(str(s).startswith("Blocked") for s in statuses):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the evaluation neither waited nor finished")


@pytest.mark.parametrize(("concurrency", "done_at_failure"), [(1, 2), (2, 4)])
def test_a_first_evaluation_failing_half_way_resumes_to_one_membership_each(
        gql, live_api, driver, concurrency, done_at_failure):
    """Chunks of 2, the job failing after its first step (one chunk, or a wave of two written
    at once): resumed, every member has one realized membership (the chunks after the
    failure CREATE too), and the counts are an unbroken run's."""
    from tests.profile_helpers import wait_job
    from tests.segment_helpers import EVALUATE, create, person, segment
    from tests.test_jobs import RESUME

    services = live_api.app.state.services
    evaluator, jobs = services.segments.evaluator, services.jobs
    people = {person(gql, n, age=60 + n) for n in range(5)}
    create(gql, "Over 50", "age > 50", id="old", batchOnly=True)
    chunk, width = evaluator.chunk, evaluator.concurrency
    evaluator.chunk, evaluator.concurrency, jobs.fail_after_chunks = 2, concurrency, 1
    evaluator.wave_depth = 1  # a job step: one chunk per writer
    try:
        job = gql(EVALUATE, {"id": "old", "asOf": "2026-01-01T00:00:00Z"})["evaluateSegment"]
        failed = wait_job(gql, job)
        assert (failed["status"], failed["done"]) == ("FAILED", done_at_failure)
        jobs.fail_after_chunks = None
        assert gql(RESUME, {"id": job["id"]})["resumeJob"]["status"] == "QUEUED"
        done = wait_job(gql, job)
    finally:
        evaluator.chunk, evaluator.concurrency, jobs.fail_after_chunks = chunk, width, None
        evaluator.wave_depth = WAVE_DEPTH
    assert done["status"] == "SUCCEEDED", done
    found = memberships(driver)
    assert set(found) == people
    assert all(n == 1 and statuses == ["realized"] for n, statuses in found.values()), found
    counts = segment(gql, "old")["lastEvaluation"]["counts"]
    assert (counts["realized"], counts["existing"]) == (5, 0), counts


async def test_a_new_segment_gets_every_member_from_profiles_streaming_just_stamped(
        services, driver):
    # Streaming stamps C1 and C2 for another segment; the new one's first evaluation decides
    # them again (they changed since its read, as far as it can tell) and realizes both, each
    # announced once to the change feed.
    await services.segments.service.create(SegmentSpec(name="Young", definition="age < 30",
                                                       id="other"))
    await ingest(services, "r1", "C1", 60)
    await ingest(services, "r2", "C2", 70)
    await services.segments.service.create(SegmentSpec(name="Over 50", definition="age > 50",
                                                       id="old"))
    prepared = await services.segments.evaluator.prepare("old", AS_OF, "run-1")
    await write_all(services, prepared)
    people = {profile_of(driver, "C1"), profile_of(driver, "C2")}
    assert memberships(driver) == {p: (1, ["realized"]) for p in people}
    assert sorted(prepared.changed[0]) == sorted((p, "realized") for p in people)
    with driver.session() as session:  # both decided again (stamped since), by this run
        found = session.run("MATCH (p)-[m:IN_SEGMENT {segment: 'old'}]->() "
                            "RETURN p._segmentsAt AS stamp, m.run AS run").data()
    assert len(found) == 2
    assert all(r["stamp"] >= prepared.since and r["run"] == "run-1" for r in found), found
