"""Merged profile views through GraphQL over HTTP against the real Neo4j: merge policies,
provenance, ties, nested attributes, stitching, and the events connection."""

from __future__ import annotations

from idgraph.api.graphql.permissions import Role
from idgraph.profile.merge import PRECEDENCE, Policy
from tests.conftest import execute_counting_round_trips
from tests.identity_helpers import ingest, record
from tests.profile_helpers import (
    attributes,
    create_policy,
    delete_policy,
    event,
    events_page,
    update_policy,
)


def test_latest_fragment_wins_per_nested_attribute_with_provenance(gql):
    ingest(gql, [record("1", "crm:C1", "email:ann@x.com", day=1, source="crm",
                        attributes={"name": "Ann", "address": {"city": "Oslo", "zip": "0150"}}),
                 record("2", "email:ann@x.com", day=3, source="web",
                        attributes={"name": "Annie", "address": {"city": "Bergen"}})])
    found = attributes(gql, "crm:C1")
    assert found["attributes"] == {"name": "Annie", "address": {"city": "Bergen", "zip": "0150"}}
    by_path = {a["path"]: a for a in found["attributeProvenance"]}
    assert set(by_path) == {"name", "address.city", "address.zip"}
    assert (by_path["address.city"]["source"], by_path["address.city"]["recordId"],
            by_path["address.city"]["timestamp"]) == ("web", "2", "2025-01-03T12:00:00+00:00")
    assert by_path["address.city"]["beaten"] == [
        {"value": "Oslo", "source": "crm", "recordId": "1",
         "timestamp": "2025-01-01T12:00:00+00:00"}]
    assert by_path["address.zip"]["source"] == "crm" and by_path["address.zip"]["beaten"] == []


def test_ties_fall_to_source_then_record_id_whatever_the_ingest_order(gql):
    def tied(identity: str, prefix: str) -> list[dict]:
        return [record(f"{prefix}{rid}", identity, source=src, day=2,
                       attributes={"v": f"{src} {rid}"})
                for src, rid in (("web", "1"), ("crm", "5"), ("crm", "4"))]

    for r in tied("crm:A", "a"):  # one at a time, in this order
        ingest(gql, [r])
    for r in reversed(tied("crm:B", "b")):  # one at a time, the other way round
        ingest(gql, [r])
    assert attributes(gql, "crm:A")["attributes"] == {"v": "crm 4"}
    assert attributes(gql, "crm:B")["attributes"] == {"v": "crm 4"}


def test_dataset_precedence_takes_first_listed_source_and_ignores_unlisted(gql):
    ingest(gql, [record("1", "crm:C1", source="pos", day=1, attributes={"tier": "gold"}),
                 record("2", "crm:C1", source="crm", day=5, attributes={"tier": "silver",
                                                                        "email_ok": True}),
                 record("3", "crm:C1", source="web", day=9, attributes={"tier": "bronze",
                                                                        "utm": "ad"})])
    policy = create_policy(gql, "pos first", kind="DATASET_PRECEDENCE", sources=["pos", "crm"])
    found = attributes(gql, "crm:C1", policy["id"])
    assert found["attributes"] == {"tier": "gold", "email_ok": True}
    tier = next(a for a in found["attributeProvenance"] if a["path"] == "tier")
    assert [b["source"] for b in tier["beaten"]] == ["crm"]  # web is not listed: not a candidate
    assert attributes(gql, "crm:C1")["attributes"]["tier"] == "bronze"  # default: latest


def test_stitching_off_reads_only_fragments_of_the_identity_asked_for(gql):
    ingest(gql, [record("1", "crm:C1", "email:a@x.com", source="crm", day=1,
                        attributes={"name": "From CRM", "crm_only": 1}),
                 record("2", "email:a@x.com", "ecid:E1", source="web", day=4,
                        attributes={"name": "From web", "web_only": 2}),
                 record("3", "ecid:E1", source="web", day=6, attributes={"cookie": 3})])
    own = create_policy(gql, "own fragments", stitching=False)
    assert attributes(gql, "crm:C1", own["id"])["attributes"] == {"name": "From CRM",
                                                                  "crm_only": 1}
    assert attributes(gql, "email:a@x.com", own["id"])["attributes"] == {
        "name": "From web", "crm_only": 1, "web_only": 2}
    assert attributes(gql, "crm:C1")["attributes"] == {
        "name": "From web", "crm_only": 1, "web_only": 2, "cookie": 3}


POLICIES = "{ mergePolicies { id name kind sources stitching isDefault } }"


def test_merge_policy_crud_and_the_default(gql):
    assert gql(POLICIES)["mergePolicies"] == [
        {"id": "default", "name": "Timestamp ordered", "kind": "TIMESTAMP_ORDERED",
         "sources": [], "stitching": True, "isDefault": True}]
    ingest(gql, [record("1", "crm:C1", source="crm", day=1, attributes={"x": "crm"}),
                 record("2", "crm:C1", source="web", day=2, attributes={"x": "web"})])
    made = create_policy(gql, "crm first", kind="DATASET_PRECEDENCE", sources=["crm", "web"],
                         isDefault=True)
    assert attributes(gql, "crm:C1")["attributes"] == {"x": "crm"}  # the new default applies
    listed = {p["id"]: p["isDefault"] for p in gql(POLICIES)["mergePolicies"]}
    assert listed == {"default": False, made["id"]: True}
    updated = update_policy(gql, made["id"], name="web first", kind="DATASET_PRECEDENCE",
                            sources=["web"], isDefault=True)
    assert {k: updated[k] for k in ("id", "sources", "isDefault")} == {
        "id": made["id"], "sources": ["web"], "isDefault": True}
    assert attributes(gql, "crm:C1")["attributes"] == {"x": "web"}
    assert delete_policy(gql, made["id"]) is True
    assert [p["id"] for p in gql(POLICIES)["mergePolicies"]] == ["default"]
    missing = gql.post("query Q($id: ID!) { mergePolicy(id: $id) { id } }", {"id": made["id"]})
    assert missing.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    bad = gql.post("mutation { createMergePolicy(input: {name: \"p\", kind: DATASET_PRECEDENCE})"
                   " { policy { id } } }")
    assert bad.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


def test_event_pages_are_newest_first_without_gaps_or_repeats(gql):
    ingest(gql, [record("1", "crm:C1", "ecid:E1")])
    # 23 events on two identities of one cluster; several share a timestamp.
    events = [event(f"e{n:02d}", "crm:C1" if n % 2 else "ecid:E1",
                    at=f"2025-02-{1 + n // 3:02d}T10:00:00Z", type="view" if n % 5 else "buy",
                    n=n) for n in range(23)]
    ingest(gql, events=events)
    seen, after, pages = [], None, 0
    while True:
        page = events_page(gql, "crm:C1", first=5, after=after)
        seen += [(e["node"]["timestamp"], e["node"]["id"]) for e in page["edges"]]
        pages += 1
        if pages == 2:  # a newer event arriving mid-paging must not shift later pages
            ingest(gql, events=[event("late", "crm:C1", at="2025-03-01T00:00:00Z")])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 23 and pages == 5
    assert seen == sorted(seen, reverse=True)
    buys = events_page(gql, "crm:C1", types=["buy"], first=10)["edges"]
    assert [e["node"]["properties"]["n"] for e in buys] == [20, 15, 10, 5, 0]
    window = events_page(gql, "crm:C1", since="2025-02-02T10:00:00Z",
                         until="2025-02-03T10:00:00Z", first=10)["edges"]
    assert sorted(e["node"]["properties"]["n"] for e in window) == [3, 4, 5]


def test_event_page_size_is_bounded_by_settings(gql, live_api):
    limit = live_api.app.state.services.settings.max_page_size
    ingest(gql, [record("1", "crm:C1")])
    response = gql.post("query { profile(identity: {namespace: \"crm\", value: \"C1\"}) "
                        f"{{ events(first: {limit + 1}) {{ edges {{ cursor }} }} }} }}")
    assert response.json()["errors"][0]["extensions"]["code"] == "PAGE_SIZE_EXCEEDED"


async def test_profile_with_merged_attributes_is_one_round_trip(services):
    await services.identity.ingest([record("1", "crm:C1", "email:a@x.com", source="crm",
                                           attributes={"a": 1}),
                                    record("2", "email:a@x.com", source="web", day=2,
                                           attributes={"a": 2, "b": {"c": 3}})])
    policy = (await services.profiles.policies.create(
        Policy("", "crm only", kind=PRECEDENCE, sources=("crm",)))).policy
    query = """query Q($p: ID) { profile(identity: {namespace: "crm", value: "C1"}) {
      identities { value } attributes
      named: attributes(mergePolicy: $p) ... on Profile { attributeProvenance { path } } } }"""
    result, trips = await execute_counting_round_trips(services, query, {"p": policy.id},
                                                       Role.APP)
    assert result.errors is None
    assert result.data["profile"]["attributes"] == {"a": 2, "b": {"c": 3}}
    assert result.data["profile"]["named"] == {"a": 1}
    assert trips == 1
