"""The scheduler's lease in Neo4j: one holder at a time, taken over once it has expired."""

from __future__ import annotations

import asyncio

from idgraph.segments.repository import SegmentRepository
from idgraph.segments.scheduler import Lease, Scheduler

T0 = 1_700_000_000_000


def two_holders(services, ttl_ms: int = 1000) -> tuple[Lease, Lease]:
    repository = SegmentRepository(services.graph)
    return (Lease(repository, "test-lease", ttl_ms, holder="a"),
            Lease(repository, "test-lease", ttl_ms, holder="b"))


async def test_only_one_of_two_holders_gets_the_lease_and_renews_it(services):
    a, b = two_holders(services)
    assert await a.acquire(T0)
    assert not await b.acquire(T0 + 10)
    assert await a.acquire(T0 + 900)  # renewed: now held until T0 + 1900
    assert not await b.acquire(T0 + 1500)


async def test_an_expired_lease_is_taken_over_and_the_old_holder_loses_it(services):
    a, b = two_holders(services)
    assert await a.acquire(T0)
    assert await b.acquire(T0 + 1000)  # expired at T0 + 1000
    assert not await a.acquire(T0 + 1001)


async def test_a_released_lease_is_free_at_once(services):
    a, b = two_holders(services)
    assert await a.acquire(T0)
    await a.release(T0 + 1)
    assert await b.acquire(T0 + 2)


async def test_concurrent_takers_of_a_free_lease_get_one_holder(services):
    repository = SegmentRepository(services.graph)
    leases = [Lease(repository, "race", 60_000, holder=f"h{n}") for n in range(8)]
    for round_ in range(3):  # a fresh lease, then an expired one, twice
        now = T0 + round_ * 120_000
        won = await asyncio.gather(*(lease.acquire(now) for lease in leases))
        assert sum(won) == 1, won


async def test_the_scheduler_runs_its_work_only_while_it_holds_the_lease(services):
    a, b = two_holders(services)
    ran: list[tuple[str, int]] = []

    def work(name: str):
        async def run(now: int) -> None:
            ran.append((name, now))
        return run

    first = Scheduler(a, interval=1, work=work("a"))
    second = Scheduler(b, interval=1, work=work("b"))
    assert await first.tick(T0) and not await second.tick(T0 + 1)
    assert await second.tick(T0 + 5000)  # a stopped renewing: b takes over
    assert ran == [("a", T0), ("b", T0 + 5000)]
