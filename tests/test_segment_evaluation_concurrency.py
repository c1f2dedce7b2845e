"""An evaluation writes its chunks `concurrency` at a time, each in its own transaction
(segments/evaluation.py): one chunk waiting on a lock does not hold the next back, and a job
whose wave failed half-committed ends, resumed, as an unbroken one would."""

from __future__ import annotations

import asyncio

import neo4j

from tests.segment_helpers import EVALUATE, create, person, segment
from tests.test_segment_evaluation_races import (
    AS_OF,
    decided,
    memberships,
    until_blocked,
)


async def test_a_chunk_waiting_on_a_lock_does_not_hold_back_the_next(services, driver):
    """Chunks of one membership, two at once: the first chunk's profile is locked by an open
    transaction, and the second chunk commits while the first still waits."""
    prepared = await decided(services)
    evaluator = services.segments.evaluator
    evaluator.chunk, evaluator.concurrency = 1, 2
    first = prepared.batches[0].ids[0]
    with driver.session() as session, session.begin_transaction() as tx:
        tx.run("MATCH (p:Profile {id: $id}) SET p._locked = true REMOVE p._locked",
               id=first).consume()
        evaluating = asyncio.ensure_future(evaluator.evaluate("old", AS_OF))
        await until_blocked(driver, evaluating)
        assert not evaluating.done()
        written = await until_written(driver, 1)
        assert first not in written  # the second chunk's, committed past the waiting one
        tx.commit()
    await evaluating
    found = memberships(driver)
    assert len(found) == 2
    assert all(n == 1 and statuses == ["realized"] for n, statuses in found.values()), found


async def until_written(driver: neo4j.Driver, count: int) -> dict[str, tuple[int, list[str]]]:
    """The memberships once `count` are committed (bounded: 10 s)."""
    for _ in range(200):
        if len(found := memberships(driver)) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} memberships were committed")


def test_a_wave_failing_after_one_of_its_chunks_committed_resumes_to_every_member(
        gql, live_api, driver, monkeypatch):
    """Chunks of 2 written two at once; the wave's second chunk fails after its first
    committed (the job's cursor then points past both). Resumed, the job decides again: every
    member has one realized membership, and progress ends at the total."""
    from tests.profile_helpers import wait_job
    from tests.test_jobs import RESUME

    evaluator = live_api.app.state.services.segments.evaluator
    people = {person(gql, n, age=60 + n) for n in range(5)}
    create(gql, "Over 50", "age > 50", id="old", batchOnly=True)
    monkeypatch.setattr(evaluator, "chunk", 2)
    monkeypatch.setattr(evaluator, "concurrency", 2)
    monkeypatch.setattr(evaluator, "wave_depth", 1)  # a wave: the two chunks at once
    write = evaluator.write
    failing = {"on": True}

    async def second_chunk_fails(prepared, index, tx, announce=True):
        if failing["on"] and index == 1:
            await asyncio.sleep(0.2)  # the first chunk commits meanwhile
            raise RuntimeError("injected: the second chunk of the wave failed")
        return await write(prepared, index, tx, announce)

    monkeypatch.setattr(evaluator, "write", second_chunk_fails)
    job = gql(EVALUATE, {"id": "old", "asOf": "2026-01-01T00:00:00Z"})["evaluateSegment"]
    failed = wait_job(gql, job)
    assert (failed["status"], failed["done"]) == ("FAILED", 2), failed
    assert "injected" in failed["error"]
    assert len(memberships(driver)) == 2
    failing["on"] = False
    assert gql(RESUME, {"id": job["id"]})["resumeJob"]["status"] == "QUEUED"
    done = wait_job(gql, job)
    assert done["status"] == "SUCCEEDED", done
    assert done["done"] == done["total"] == 5, done
    found = memberships(driver)
    assert set(found) == people
    assert all(n == 1 and statuses == ["realized"] for n, statuses in found.values()), found
    counts = segment(gql, "old")["lastEvaluation"]["counts"]
    assert (counts["realized"], counts["existing"]) == (5, 0), counts
