"""The scheduler re-evaluates segments whose rules read the clock, and only those."""

from __future__ import annotations

import time

from idgraph.identity.items import to_millis
from idgraph.segments.service import SegmentSpec
from tests.api_support import api_server
from tests.conftest import GraphQLClient
from tests.identity_helpers import ingest, record
from tests.profile_helpers import ago, event
from tests.segment_helpers import create, members, person, segment

RECENT = 'events(type = "purchase", within 7 days).exists()'


async def test_each_round_re_evaluates_the_time_dependent_segments_at_its_time(services):
    await services.identity.ingest(
        [record("r1", "crm:C1", attributes={"tier": "gold"})],
        [event("e1", "crm:C1", at="2026-03-01T06:00:00Z")])
    domain = services.segments
    for name, rule in (("recent", RECENT), ("gold", 'tier = "gold"'),
                       ("recent-gold", 'inSegment("recent") and inSegment("gold")')):
        await domain.service.create(SegmentSpec(name=name, definition=rule, id=name))
    assert await domain.evaluator.time_dependent() == ["recent", "recent-gold"]

    async def round_at(moment: str) -> dict[str, dict]:
        assert await domain.scheduler.tick(to_millis(moment))
        assert domain.last_scheduled is not None
        job = await domain.jobs.wait(domain.last_scheduled.id)
        assert job.status.value == "succeeded", job
        return {s.id: s.evaluation for s in (await domain.service.get_many(
            ["recent", "gold", "recent-gold"])).values()}

    first = await round_at("2026-03-02T00:00:00Z")
    assert first["gold"] is None  # not time-dependent: left alone
    assert first["recent"]["counts"]["realized"] == 1
    assert first["recent-gold"]["counts"]["realized"] == 1
    later = await round_at("2026-03-20T00:00:00Z")  # the purchase is out of the window
    assert later["recent"]["counts"]["exitedNow"] == 1
    assert later["recent-gold"]["counts"]["exitedNow"] == 1


def test_the_app_runs_the_scheduler_on_its_interval(neo4j_server, empty_graph):
    with api_server(neo4j_server, segment_schedule_seconds=0.3) as server:
        gql = GraphQLClient(server.url)
        buyer = person(gql, 1)
        ingest(gql, events=[event("e1", "crm:C1", at=ago(days=1))])
        create(gql, "Recent buyers", RECENT, id="recent")
        create(gql, "Everyone", "has email", id="everyone")
        deadline = time.monotonic() + 30
        while segment(gql, "recent")["lastEvaluation"] is None:
            assert time.monotonic() < deadline, "the scheduler did not evaluate the segment"
            time.sleep(0.1)
        assert set(members(gql, "recent")) == {buyer}  # realized, then existing
        assert segment(gql, "everyone")["lastEvaluation"] is None
        gql.http.close()
