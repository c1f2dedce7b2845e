"""Streaming membership (issue #16, items 1-2): after a write returns, the audience is current,
with no evaluation in between. Every check also compares the members with what a batch
evaluation at that moment would select (`previewSegment`, which saves nothing)."""

from __future__ import annotations

from tests.identity_helpers import ident, ingest, record
from tests.profile_helpers import ago, event
from tests.segment_helpers import MEMBERS, PREVIEW, create, person, profile_id, segment

ALL = ["REALIZED", "EXISTING", "EXITED"]
UNLINK = """
mutation U($a: IdentityInput!, $b: IdentityInput!) {
  unlink(identity: $a, otherIdentity: $b) { unlinked splits { profileId fromProfileIds } }
}
"""
DELETE = "mutation($i: IdentityInput!) { deleteProfile(identity: $i) { profileIds } }"
STREAMING = "query($id: ID!) { segment(id: $id) { streaming streamingReason batchOnly } }"
CAUSES = """
query($id: ID!) { segment(id: $id) { members(first: 100, status: [REALIZED, EXISTING, EXITED]) {
  edges { node { profileId status cause } } } } }
"""


def visitor(gql, n: int, day: int = 1, **attributes) -> str:
    """Visitor `n` (email, cookie; no CRM id, so two of them can merge); their profile id."""
    ingest(gql, [record(f"v{n}-{day}", f"email:v{n}@x.com", f"ecid:E{n}", day=day,
                        attributes=attributes)])
    query = "query($i: IdentityInput!) { profile(identity: $i) { id } }"
    return gql(query, {"i": ident(f"ecid:E{n}")})["profile"]["id"]


LINK = record("link", "ecid:E1", "ecid:E2", day=1)


def memberships(gql, segment_id: str) -> dict[str, str]:
    """Profile id -> status, exits included (no evaluation is run)."""
    page = gql(MEMBERS, {"id": segment_id, "first": 100, "status": ALL})["segment"]["members"]
    return {e["node"]["profileId"]: e["node"]["status"] for e in page["edges"]}


def causes(gql, segment_id: str) -> dict[str, str]:
    edges = gql(CAUSES, {"id": segment_id})["segment"]["members"]["edges"]
    return {e["node"]["profileId"]: e["node"]["cause"] for e in edges}


def batch_members(gql, definition: str) -> set[str]:
    """What a batch evaluation would select now (preview: nothing saved)."""
    found = gql(PREVIEW, {"definition": definition, "sampleSize": 100})["previewSegment"]
    return {p["id"] for p in found["sample"]}


def current(gql, segment_id: str) -> set[str]:
    return {p for p, s in memberships(gql, segment_id).items() if s != "EXITED"}


def test_an_attribute_rule_is_current_when_ingest_returns(gql):
    create(gql, "Over 50", "age > 50", id="old")
    young = person(gql, 1, age=30)
    old = person(gql, 2, age=60)
    assert memberships(gql, "old") == {old: "REALIZED"}
    assert current(gql, "old") == batch_members(gql, "age > 50")
    person(gql, 2, day=2, age=40)  # a later record wins: no longer over 50
    person(gql, 1, day=2, age=70)
    assert memberships(gql, "old") == {old: "EXITED", young: "REALIZED"}
    assert {c.split(":")[0] for c in causes(gql, "old").values()} == {"ingest"}  # + batch id
    assert current(gql, "old") == batch_members(gql, "age > 50")


def test_an_event_window_rule_is_current_when_ingest_returns(gql):
    rule = 'events(type = "purchase", within 30 days).count() >= 2'
    create(gql, "Buyers", rule, id="buyers")
    buyer = person(gql, 1)
    person(gql, 2)
    ingest(gql, events=[event("e1", "crm:C1", at=ago(days=2)),
                        event("e2", "crm:C2", at=ago(days=3)),
                        event("e3", "crm:C2", at=ago(days=45))])  # outside the window
    assert memberships(gql, "buyers") == {}
    ingest(gql, events=[event("e4", "crm:C1", at=ago(days=1))])
    assert memberships(gql, "buyers") == {buyer: "REALIZED"}
    assert current(gql, "buyers") == batch_members(gql, rule)


def test_a_composition_is_current_when_ingest_returns(gql):
    create(gql, "Over 50", "age > 50", id="old")
    create(gql, "Old VIPs", 'inSegment("old") and vip = true', id="vips")
    assert gql(STREAMING, {"id": "vips"})["segment"] == {
        "streaming": True, "streamingReason": None, "batchOnly": False}
    person(gql, 1, age=60)
    vip = person(gql, 2, age=61, vip=True)
    person(gql, 3, age=20, vip=True)
    assert memberships(gql, "vips") == {vip: "REALIZED"}
    assert current(gql, "vips") == batch_members(gql, 'inSegment("old") and vip = true')


def test_a_composition_over_a_batch_only_segment_is_not_streaming(gql):
    create(gql, "Over 50", "age > 50", id="old", batchOnly=True)
    create(gql, "Old VIPs", 'inSegment("old") and vip = true', id="vips")
    assert gql(STREAMING, {"id": "old"})["segment"]["streaming"] is False
    reason = gql(STREAMING, {"id": "vips"})["segment"]
    assert reason["streaming"] is False and "'old'" in reason["streamingReason"]
    person(gql, 1, age=60, vip=True)
    assert memberships(gql, "old") == {} and memberships(gql, "vips") == {}


def test_a_merge_of_two_members_keeps_the_survivor_and_ends_the_other(gql):
    create(gql, "Over 50", "age > 50", id="old")
    first, second = visitor(gql, 1, age=60), visitor(gql, 2, age=70)
    merge = ingest(gql, [LINK])["merges"][0]
    gone, into = merge["mergedProfileId"], merge["intoProfileId"]
    assert {gone, into} == {first, second}
    assert memberships(gql, "old") == {into: "REALIZED", gone: "EXITED"}
    assert causes(gql, "old")[gone] == f"merged into {into}"
    assert current(gql, "old") == batch_members(gql, "age > 50")


def test_a_merge_of_a_member_and_a_non_member_follows_the_merged_profile(gql):
    create(gql, "Over 50", "age > 50", id="old")
    member = visitor(gql, 1, day=1, age=60)
    other = visitor(gql, 2, day=2, age=20)  # the later value wins the merged view
    into = ingest(gql, [LINK])["merges"][0]["intoProfileId"]
    states = memberships(gql, "old")
    assert states[member] == "EXITED" and into not in current(gql, "old")
    assert current(gql, "old") == batch_members(gql, "age > 50") == set()
    assert into in (member, other)


def test_an_unlink_that_splits_a_member_gives_each_side_its_own_membership(gql):
    create(gql, "Over 50", "age > 50", id="old")
    create(gql, "Reachable", "has email", id="mail")
    ingest(gql, [record("1", "crm:C1", "ecid:E1", attributes={"age": 60}),
                 record("2", "ecid:E1", "email:a@x.com", day=2)])
    before = profile_id(gql, 1)
    assert current(gql, "mail") == {before}
    split = gql(UNLINK, {"a": ident("crm:C1"), "b": ident("ecid:E1")})["unlink"]["splits"][0]
    parts = {split["profileId"], *split["fromProfileIds"]}
    assert len(parts) == 2 and before in parts
    # Record 1 (age 60) is keyed by identities of both halves: both are over 50; only one
    # half has the e-mail address.
    assert current(gql, "old") == parts == batch_members(gql, "age > 50")
    mail = current(gql, "mail")
    assert len(mail) == 1 and mail < parts and mail == batch_members(gql, "has email")


def test_a_privacy_deletion_leaves_no_membership_naming_the_person(gql, cypher):
    create(gql, "Over 50", "age > 50", id="old")
    first, second = visitor(gql, 1, age=60), visitor(gql, 2, age=70)
    ingest(gql, [LINK])  # one exit kept on the merged-away id's alias
    gql(DELETE, {"i": ident("ecid:E1")})
    assert memberships(gql, "old") == {}
    left = cypher("MATCH ()-[m:IN_SEGMENT]->() WHERE m.profile IN $ids RETURN count(m) AS n",
                  ids=[first, second])
    assert left == [{"n": 0}]


def test_a_batch_only_segment_waits_for_its_evaluation(gql):
    create(gql, "Over 50", "age > 50", id="old", batchOnly=True)
    person(gql, 1, age=60)
    assert memberships(gql, "old") == {}
    assert segment(gql, "old")["size"] == 0


def test_an_updated_rule_streams_at_once_and_a_deleted_segment_no_more(gql):
    create(gql, "S", "age > 50", id="s")
    gql("mutation { updateSegment(id: \"s\", input: {definition: \"age < 50\"}) { version } }")
    young = person(gql, 1, age=30)
    assert memberships(gql, "s") == {young: "REALIZED"}
    gql("mutation { deleteSegment(id: \"s\") { id } }")
    person(gql, 2, age=20)  # no segment left: nothing written, nothing fails
    create(gql, "S", "age > 50", id="s")
    assert memberships(gql, "s") == {}


INGEST_ONE = """
mutation($records: [RecordInput!]) { ingest(records: $records) { accepted } }
"""


async def ingest_counting(services, n: int, **attributes) -> tuple[int, int]:
    """Ingest one record in-process: (Neo4j round trips, segment-stage statements) it cost."""
    from idgraph.api.graphql.permissions import Role
    from tests.conftest import execute_counting_round_trips

    stage = services.pipeline.segments[0]
    before = stage.statements
    item = record(f"r{n}", f"crm:C{n}", day=1, attributes=attributes)
    result, trips = await execute_counting_round_trips(services, INGEST_ONE,
                                                       {"records": [item]}, Role.ADMIN)
    assert not result.errors, result.errors
    return trips, stage.statements - before


async def test_a_write_without_streaming_segments_costs_no_segment_statement(services):
    from idgraph.segments.service import SegmentSpec

    create_segment = services.segments.service.create
    await ingest_counting(services, 0)  # warm: the list of streaming segments is read once
    bare, none = await ingest_counting(services, 1)
    assert none == 0
    await create_segment(SegmentSpec(name="B", definition="age > 50", id="b", batch_only=True))
    await ingest_counting(services, 2)  # the list is read again after the change
    trips, statements = await ingest_counting(services, 3, age=60)
    assert statements == 0 and trips == bare  # a batch-only segment adds nothing to a write
    await create_segment(SegmentSpec(name="S", definition="age > 50", id="s"))
    await ingest_counting(services, 4)
    trips, statements = await ingest_counting(services, 5, age=60)  # enters: evaluate, write
    assert statements == 2 and trips == bare + 2
    trips, statements = await ingest_counting(services, 6, age=20)  # evaluated, no change
    assert statements == 1 and trips == bare + 1


def test_a_deletion_by_source_that_splits_a_member_gives_each_side_its_own(gql):
    create(gql, "Over 50", "age > 50", id="old")
    create(gql, "Reachable", "has email", id="mail")
    ingest(gql, [record("1", "crm:C1", "ecid:E1", source="crm", attributes={"age": 60}),
                 record("2", "ecid:E1", "ecid:E2", source="web"),
                 record("3", "ecid:E2", "email:a@x.com", source="pos")])
    whole = profile_id(gql, 1)
    assert current(gql, "old") == current(gql, "mail") == {whole}
    gql('mutation { deleteSource(source: "web") { profiles } }')
    halves = {gql("query($i: IdentityInput!) { profile(identity: $i) { id } }",
                  {"i": ident(key)})["profile"]["id"] for key in ("crm:C1", "email:a@x.com")}
    assert len(halves) == 2
    old, mail = current(gql, "old"), current(gql, "mail")
    assert len(old) == len(mail) == 1 and old | mail == halves
    assert old == batch_members(gql, "age > 50") and mail == batch_members(gql, "has email")
