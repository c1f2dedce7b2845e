"""The event-properties backfill (`idgraph profiles flatten-event-properties`): events stored
before ingest flattened their properties (made here by removing the flattened properties with
Cypher) are matched by segment rules on those properties once the job has run; streaming
segments take their profiles in; run again, it changes nothing."""

from __future__ import annotations

from tests.identity_helpers import ingest
from tests.profile_helpers import event
from tests.segment_helpers import PREVIEW, create, person
from tests.test_jobs import run_cli

RULE = 'events(type = "purchase" and value > 100 and cart.items >= 2).count() >= 1'
MEMBERS = """
query($id: ID!) { segment(id: $id) { members(first: 10) { edges { node { profileId } } } } }
"""
OLD_SHAPE = "MATCH (e:Event) REMOVE e.`p.value`, e.`p.cart.items` RETURN count(e) AS n"
FLATTENED = """
MATCH (e:Event) RETURN e.key AS key, e.`p.value` AS value, e.`p.cart.items` AS items
ORDER BY key
"""


def preview(gql) -> set[str]:
    found = gql(PREVIEW, {"definition": RULE, "sampleSize": 10})["previewSegment"]
    return {p["id"] for p in found["sample"]}


def members(gql, segment_id: str) -> set[str]:
    edges = gql(MEMBERS, {"id": segment_id})["segment"]["members"]["edges"]
    return {e["node"]["profileId"] for e in edges}


def test_old_events_match_rules_on_their_properties_after_the_backfill(gql, neo4j_server,
                                                                      cypher):
    big = person(gql, 1)
    small = person(gql, 2)
    at = "2025-01-02T12:00:00Z"
    ingest(gql, events=[event("e1", "crm:C1", at=at, value=150, cart={"items": 3}),
                        event("e2", "crm:C2", at=at, value=50, cart={"items": 3}),
                        event("e3", "crm:C2", at=at, type="login")])
    assert preview(gql) == {big}  # as ingest writes events today
    assert cypher(OLD_SHAPE)[0]["n"] == 3  # as events were stored before the flattening
    assert preview(gql) == set()
    create(gql, "Big carts", RULE, id="big")  # streaming: no member yet
    assert members(gql, "big") == set()

    done = run_cli(neo4j_server, "profiles", "flatten-event-properties")

    assert done.returncode == 0, done.stderr
    assert "walked 3 events (job " in done.stdout
    assert preview(gql) == {big} and small not in preview(gql)
    assert members(gql, "big") == {big}  # the backfill's write re-evaluated the profile
    flattened = cypher(FLATTENED)
    assert [(r["value"], r["items"]) for r in flattened] == [(150, 3), (50, 3), (None, None)]
    job_id = done.stdout.rsplit("(job ", 1)[1].split(")")[0]
    listed = run_cli(neo4j_server, "jobs", "list")
    assert f"{job_id}  event_properties" in listed.stdout and "succeeded 3/3" in listed.stdout

    again = run_cli(neo4j_server, "profiles", "flatten-event-properties")
    assert again.returncode == 0, again.stderr
    assert cypher(FLATTENED) == flattened and preview(gql) == {big}
