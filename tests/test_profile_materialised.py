"""The materialised merged views through GraphQL over HTTP against the real Neo4j: after ingest,
merges, splits, deletions and default-policy changes each view equals the merged attributes
the API computes at read time."""

from __future__ import annotations

import json

from idgraph.db.connect import graph_for
from idgraph.db.schema import apply_schema
from idgraph.services import Services
from tests.conftest import settings_for
from tests.identity_helpers import ident, ingest, profile, record
from tests.materialised_helpers import assert_views_match
from tests.profile_helpers import create_policy, delete_policy, update_policy

UNLINK = """
mutation U($a: IdentityInput!, $b: IdentityInput!) {
  unlink(identity: $a, otherIdentity: $b) { unlinked }
}
"""
DELETE_PROFILE = """
mutation D($identity: IdentityInput!) { deleteProfile(identity: $identity) { profiles } }
"""


def view_of(cypher, identity: str) -> dict:
    rows = cypher("MATCH (:Identity {key: $k})-[:IN_PROFILE]->(:Profile)-[:VIEW]->(v) "
                  "RETURN v {.*} AS v", k=identity)
    assert len(rows) == 1
    return rows[0]["v"]


def test_view_holds_flattened_storable_attributes_and_the_whole_json(gql, cypher):
    ingest(gql, [record("1", "crm:C1", "email:ann@x.com", source="crm", day=1,
                        attributes={"name": "Ann", "address": {"city": "Oslo", "zip": "0150"},
                                    "tags": ["a", "b"], "mixed": [1, "x"], "_id": "m1",
                                    "first-name": "A", "empty": [], "age": 41}),
                 record("2", "email:ann@x.com", source="web", day=3,
                        attributes={"address": {"city": "Bergen"}, "score": 2.5,
                                    "vip": True}),
                 record("3", "crm:T1", source="crm", attributes={"testProfile": True})])
    views = assert_views_match(gql, cypher)
    assert len(views) == 2
    ann = view_of(cypher, "crm:C1")
    assert {k: v for k, v in ann.items() if not k.startswith("_")} == {
        "name": "Ann", "address.city": "Bergen", "address.zip": "0150", "tags": ["a", "b"],
        "age": 41, "score": 2.5, "vip": True}
    # Not storable or not addressable as a property: only in the merged JSON.
    assert {"mixed": [1, "x"], "_id": "m1", "first-name": "A", "empty": []}.items() <= \
        json.loads(ann["_json"]).items()
    assert ann["_isTest"] is False and ann["_size"] == 2 and ann["_policy"] == "default"
    assert view_of(cypher, "crm:T1")["_isTest"] is True


def test_merge_drops_the_retired_view_and_refreshes_the_survivor(gql, cypher):
    ingest(gql, [record("1", "crm:C1", day=1, attributes={"a": 1, "b": 1}),
                 record("2", "email:x@x.com", day=2, source="web", attributes={"a": 2})])
    assert len(assert_views_match(gql, cypher)) == 2
    ingest(gql, [record("3", "crm:C1", "email:x@x.com", day=3, attributes={"c": 3})])
    views = assert_views_match(gql, cypher)
    assert len(views) == 1 and json.loads(views[0]["_json"]) == {"a": 2, "b": 1, "c": 3}


def test_split_via_unlink_refreshes_both_sides(gql, cypher):
    ingest(gql, [record("1", "email:a@x.com", "ecid:E1", source="web", day=2,
                        attributes={"city": "Oslo", "web": True}),
                 record("2", "ecid:E1", "crm:C1", day=1, attributes={"city": "Bergen"})])
    assert len(assert_views_match(gql, cypher)) == 1
    gql(UNLINK, {"a": ident("ecid:E1"), "b": ident("crm:C1")})
    assert len(assert_views_match(gql, cypher)) == 2
    assert view_of(cypher, "crm:C1")["city"] == "Bergen"


def test_a_profile_that_loses_a_member_to_another_is_refreshed(gql, cypher):
    # Day 5: the device joins Bob (newest evidence); day 9: Alice takes it back. Alice's
    # profile is the older one, so it keeps its id and Bob's keeps his: no split, no merge.
    ingest(gql, [record("1", "crm:ALICE", "device:d", day=1, attributes={"who": "alice"})])
    ingest(gql, [record("2", "crm:BOB", "device:d", day=5, attributes={"who": "bob"}),
                 record("3", "device:d", day=6, source="web", attributes={"os": "ios"})])
    assert view_of(cypher, "crm:BOB")["os"] == "ios"
    bob_id = profile(gql, "crm:BOB")["id"]
    ingest(gql, [record("4", "crm:ALICE", "device:d", day=9)])
    assert profile(gql, "crm:BOB")["id"] == bob_id
    assert len(assert_views_match(gql, cypher)) == 2
    bob = view_of(cypher, "crm:BOB")
    assert bob["_size"] == 1 and "os" not in bob


def test_delete_source_refreshes_touched_profiles_and_delete_profile_drops_the_view(gql,
                                                                                   cypher):
    ingest(gql, [record("1", "crm:C1", "email:a@x.com", source="crm", day=1,
                        attributes={"tier": "gold"}),
                 record("2", "email:a@x.com", source="web", day=2, attributes={"tier": "web"}),
                 record("3", "crm:C2", "ecid:E2", source="web", day=2, attributes={"x": 1}),
                 record("4", "crm:C3", source="crm", attributes={"y": 1})])
    assert view_of(cypher, "crm:C1")["tier"] == "web"
    gql('mutation { deleteSource(source: "web") { records } }')
    assert len(assert_views_match(gql, cypher)) == 2
    assert view_of(cypher, "crm:C1")["tier"] == "gold"
    gql(DELETE_PROFILE, {"identity": ident("crm:C1")})
    views = assert_views_match(gql, cypher)
    assert [json.loads(v["_json"]) for v in views] == [{"y": 1}]


def test_a_join_of_records_that_say_nothing_keeps_the_view_and_counts_the_members(gql,
                                                                                 cypher):
    # A till's file: a known e-mail and a new device id, no attributes (or only nulls).
    ingest(gql, [record("1", "email:a@x.com", "crm:C1", day=1, attributes={"tier": "gold"})])
    before = view_of(cypher, "crm:C1")
    ingest(gql, [record("2", "email:a@x.com", "ecid:k1", source="pos", day=2),
                 record("3", "email:a@x.com", "device:d1", source="pos", day=3,
                        attributes={"tier": None})])
    assert_views_match(gql, cypher)
    after = view_of(cypher, "crm:C1")
    assert after["_size"] == 4 and after["_json"] == before["_json"] == '{"tier":"gold"}'
    assert after["_updatedAt"] >= before["_updatedAt"]


def test_a_join_whose_records_say_something_merges_them(gql, cypher):
    ingest(gql, [record("1", "email:a@x.com", day=1, attributes={"tier": "gold"}),
                 record("2", "email:b@x.com", day=1, attributes={"tier": "gold"}),
                 record("3", "email:c@x.com", day=1)])
    ingest(gql, [
        # a's data comes by the new identity only, in a record of its own
        record("4", "email:a@x.com", "ecid:ka", source="pos", day=2),
        record("5", "ecid:ka", source="web", day=3, attributes={"tier": "silver"}),
        # b's by the record that joins it
        record("6", "email:b@x.com", "ecid:kb", source="pos", day=2,
               attributes={"address": {"city": "Oslo"}}),
        # c's record says it is test data
        record("7", "email:c@x.com", "ecid:kc", source="pos", day=2,
               attributes={"testProfile": True})])
    assert_views_match(gql, cypher)
    assert view_of(cypher, "email:a@x.com")["tier"] == "silver"
    assert view_of(cypher, "email:b@x.com")["address.city"] == "Oslo"
    assert view_of(cypher, "email:c@x.com")["_isTest"] is True


def test_a_join_that_changes_the_primary_identity_remerges_an_unstitched_view(gql, cypher):
    ingest(gql, [record("1", "email:a@x.com", "ecid:k0", day=1, attributes={"x": "mail"})])
    create_policy(gql, "own", kind="TIMESTAMP_ORDERED", stitching=False, isDefault=True)
    assert view_of(cypher, "email:a@x.com")["x"] == "mail"
    # crm outranks email: crm:C1 becomes the primary identity, and its only record says
    # nothing, so the primary identity's view is empty now.
    ingest(gql, [record("2", "email:a@x.com", "crm:C1", source="pos", day=2)])
    assert_views_match(gql, cypher)
    assert view_of(cypher, "crm:C1")["_json"] == "{}"


def test_a_join_builds_the_view_a_profile_lacked(gql, cypher):
    ingest(gql, [record("1", "email:a@x.com", day=1, attributes={"tier": "gold"})])
    cypher("MATCH (v:ProfileView) DETACH DELETE v")  # a store from before views
    ingest(gql, [record("2", "email:a@x.com", "ecid:k1", source="pos", day=2)])
    assert_views_match(gql, cypher)
    assert view_of(cypher, "ecid:k1")["tier"] == "gold"


def test_default_policy_changes_recompute_every_view(gql, cypher):
    ingest(gql, [record("1", "crm:C1", "email:a@x.com", source="crm", day=1,
                        attributes={"x": "crm", "only_crm": 1}),
                 record("2", "email:a@x.com", source="web", day=2, attributes={"x": "web"}),
                 record("3", "crm:C2", source="web", day=4, attributes={"x": "web2"})])
    made = create_policy(gql, "crm first", kind="DATASET_PRECEDENCE", sources=["crm", "web"],
                         isDefault=True)
    views = assert_views_match(gql, cypher)
    assert {v["x"] for v in views} == {"crm", "web2"} and {v["_policy"] for v in views} == {
        made["id"]}
    update_policy(gql, made["id"], name="own", stitching=False, isDefault=True)
    assert_views_match(gql, cypher)  # the primary identity's fragments, as the API shows
    assert view_of(cypher, "crm:C1")["x"] == "crm"
    delete_policy(gql, made["id"])
    views = assert_views_match(gql, cypher)
    assert {v["_policy"] for v in views} == {"default"}
    assert view_of(cypher, "crm:C1")["x"] == "web"


def test_a_policy_that_is_not_the_default_leaves_views_alone(gql, cypher):
    ingest(gql, [record("1", "crm:C1", attributes={"x": 1})])
    stamp = view_of(cypher, "crm:C1")["_updatedAt"]
    create_policy(gql, "other", kind="DATASET_PRECEDENCE", sources=["pos"])
    assert view_of(cypher, "crm:C1")["_updatedAt"] == stamp


async def test_rebuild_walks_every_profile_in_chunks(neo4j_server, empty_graph, cypher):
    settings = settings_for(neo4j_server, job_chunk_size=3)
    graph = graph_for(settings, start_local=False)
    try:
        await apply_schema(graph)
        cypher("UNWIND range(0, 6) AS n CREATE (p:Profile {id: 'p' + n, primaryKey: 'crm:' + n,"
               " size: 1})")
        seen: list[int] = []
        job = await Services.build(settings, graph).profiles.rebuild_views_now(
            on_progress=lambda j: seen.append(j.done))
        assert (job.status.value, job.done, job.total) == ("succeeded", 7, 7)
        assert seen == [3, 6, 7]
        rows = cypher("MATCH (p:Profile)-[:VIEW]->(v) RETURN v._profile AS id ORDER BY id")
        assert [r["id"] for r in rows] == [f"p{n}" for n in range(7)]
    finally:
        await graph.close()
