"""Privacy deletion, dashboard metrics, test profiles and size guards through GraphQL against
the real Neo4j, each checked against direct Cypher counts."""

from __future__ import annotations

from tests.api_support import KEY_SPEC, KEYS, api_server, codes, post
from tests.identity_helpers import ident, ingest, members, profile, record
from tests.profile_helpers import ago, attributes, event, events_page
from tests.test_profile_computed import define

DELETE = """
mutation D($identity: IdentityInput!) {
  deleteProfile(identity: $identity) {
    profileIds profiles identities links records events memberships computedValues aliases
    historyEntries
  }
}
"""
LEFT_OF = """
UNWIND $keys AS k
OPTIONAL MATCH (i:Identity {key: k})
OPTIONAL MATCH (r:Record) WHERE r.key STARTS WITH 'alice|'
OPTIONAL MATCH (e:Event) WHERE e.key STARTS WITH 'alice|'
OPTIONAL MATCH (c:ComputedValue) WHERE c.key = k
OPTIONAL MATCH (p) WHERE (p:Profile OR p:ProfileAlias) AND p.id IN $ids
OPTIONAL MATCH (h:ClusterChange) WHERE h.profileId IN $ids
RETURN count(i) + count(r) + count(e) + count(c) + count(p) + count(h) AS n
"""


def alice_and_bob(gql):
    """Alice: three identities, a merge in her history, fragments, events, a computed value;
    Bob: his own profile, sharing a device Alice used earlier (a link across the clusters)."""
    define(gql, "spend", "SUM", "total")
    ingest(gql, [record("1", "crm:ALICE", "device:D1", source="alice", day=1),
                 record("2", "email:alice@x.com", source="alice", day=2, attributes={"n": 1})])
    ingest(gql, [record("3", "email:alice@x.com", "crm:ALICE", source="alice", day=3)])
    ingest(gql, [record("4", "crm:BOB", "device:D1", source="bob", day=5,
                        attributes={"name": "Bob"})])
    ingest(gql, events=[event("1", "email:alice@x.com", at=ago(days=1), source="alice", total=5),
                        event("2", "crm:BOB", at=ago(days=1), source="bob", total=7)])


def test_delete_profile_removes_the_cluster_and_nothing_brings_it_back(gql, cypher):
    alice_and_bob(gql)
    alice = profile(gql, "crm:ALICE")
    keys = ["crm:ALICE", "email:alice@x.com"]
    assert members(gql, "crm:ALICE") == set(keys)  # the device went to Bob
    # Every profile id there is (live or merged away), Bob's taken out below.
    ids = [h["profileId"] for h in cypher("MATCH (p) WHERE p:Profile OR p:ProfileAlias "
                                          "RETURN p.id AS profileId")]
    ids = [i for i in set(ids) if i != profile(gql, "crm:BOB")["id"]]
    receipt = gql(DELETE, {"identity": ident("crm:ALICE")})["deleteProfile"]
    assert receipt["profileIds"][0] == alice["id"] and set(receipt["profileIds"]) <= set(ids)
    assert {k: receipt[k] for k in ("profiles", "identities", "memberships", "records",
                                    "events", "computedValues")} == {
        "profiles": 1, "identities": 2, "memberships": 2, "records": 3, "events": 1,
        "computedValues": 1}
    assert receipt["links"] == 2  # alice-crm/email, and alice's old link to the shared device
    # Two profiles created, one merge, the refused link to Bob's device (Bob's split stays his).
    assert receipt["historyEntries"] == 4
    assert cypher(LEFT_OF, keys=keys, ids=ids)[0]["n"] == 0
    assert cypher("MATCH (:Identity {key: 'device:d1'})-[l:LINK]-() RETURN count(l) AS n"
                  )[0]["n"] == 1  # only Bob's link to the device is left
    assert profile(gql, "crm:ALICE") is None and profile(gql, "email:alice@x.com") is None
    # later data about other people never brings her back
    ingest(gql, [record("5", "crm:BOB", "device:D1", source="bob", day=9)])
    assert members(gql, "crm:BOB") == {"crm:BOB", "device:d1"}
    assert cypher(LEFT_OF, keys=keys, ids=ids)[0]["n"] == 0
    assert attributes(gql, "crm:BOB")["attributes"] == {"name": "Bob"}
    again = gql(DELETE, {"identity": ident("crm:ALICE")})["deleteProfile"]
    assert again["profileIds"] == [] and again["identities"] == 0


def test_delete_source_removes_what_it_contributed_and_resplits(gql, cypher):
    ingest(gql, [record("1", "crm:C1", "email:a@x.com", source="crm", day=1),
                 record("2", "email:a@x.com", "ecid:E1", source="web", day=2,
                        attributes={"utm": "ad"}),
                 record("3", "ecid:E2", source="web", day=2)])
    ingest(gql, events=[event("1", "ecid:E1", at=ago(days=1), source="web")])
    assert len(members(gql, "crm:C1")) == 3
    receipt = gql('mutation { deleteSource(source: "web") { records events links identities '
                  'profiles } }')["deleteSource"]
    assert receipt == {"records": 2, "events": 1, "links": 1, "identities": 2, "profiles": 1}
    assert members(gql, "crm:C1") == {"crm:C1", "email:a@x.com"}
    assert attributes(gql, "crm:C1")["attributes"] == {}
    assert cypher("MATCH (n) WHERE n.source = 'web' RETURN count(n) AS n")[0]["n"] == 0
    assert cypher("MATCH ()-[l:LINK {source: 'web'}]->() RETURN count(l) AS n")[0]["n"] == 0
    assert profile(gql, "ecid:E1") is None and profile(gql, "ecid:E2") is None


METRICS = """query M($all: Boolean!) { metrics(includeTestProfiles: $all) {
  profiles identities singleIdentityProfiles events testProfiles includesTestProfiles
  identitiesByNamespace { namespace identities } clusterSizes { size profiles }
  eventsByType { type events } } }"""
DIRECT = """
MATCH (p:Profile)
WHERE $all OR NOT EXISTS { (p)<-[:IN_PROFILE]-()<-[:KEYED_BY]-(r:Record)
                           WHERE r.attributes CONTAINS '"testProfile":true' }
MATCH (p)<-[:IN_PROFILE]-(i:Identity)
WITH p, collect(i) AS ids
RETURN count(p) AS profiles, sum(size(ids)) AS identities,
       sum(CASE size(ids) WHEN 1 THEN 1 ELSE 0 END) AS single
"""


def test_metrics_match_a_direct_count_and_leave_test_profiles_out(gql, cypher):
    ingest(gql, [record(str(n), f"crm:C{n}", *([f"email:p{n}@x.com"] if n % 3 else []),
                        *([f"ecid:E{n}"] if n % 4 == 0 else [])) for n in range(12)]
           + [record("t", "crm:TEST1", "email:qa@x.com", attributes={"testProfile": True})])
    ingest(gql, events=[event(f"e{n}", f"crm:C{n % 5}", at=ago(days=n), type=f"t{n % 2}")
                        for n in range(9)] + [event("q", "crm:TEST1", at=ago(days=1))])
    assert attributes(gql, "crm:TEST1")["attributes"] == {"testProfile": True}
    for include in (False, True):
        m = gql(METRICS, {"all": include})["metrics"]
        direct = cypher(DIRECT, all=include)[0]
        assert (m["profiles"], m["identities"], m["singleIdentityProfiles"]) == (
            direct["profiles"], direct["identities"], direct["single"])
        assert m["profiles"] == 12 + include and m["testProfiles"] == 1
        assert sum(c["profiles"] for c in m["clusterSizes"]) == m["profiles"]
        assert sum(c["identities"] for c in m["identitiesByNamespace"]) == m["identities"]
        by_type = {e["type"]: e["events"] for e in m["eventsByType"]}
        assert by_type == {"t0": 5, "t1": 4, **({"purchase": 1} if include else {})}
    test_flag = gql('{ profile(identity: {namespace: "crm", value: "TEST1"}) '
                    '{ isTestProfile } }')["profile"]
    assert test_flag == {"isTestProfile": True}


def test_oversized_record_and_event_are_rejected_with_their_reason(gql):
    result = ingest(gql, [record("big", "crm:C1", attributes={"blob": "x" * 100_001}),
                          record("ok", "crm:C1", attributes={"blob": "x" * 1000})],
                    [event("big", "crm:C1", at=ago(days=1), blob="y" * 10_001),
                     event("ok", "crm:C1", at=ago(days=1), blob="y" * 100)])
    assert [(e["kind"], e["index"], e["code"]) for e in result["errors"]] == [
        ("RECORD", 0, "TOO_LARGE"), ("EVENT", 0, "TOO_LARGE")]
    assert "100000 bytes" in result["errors"][0]["message"]
    assert result["accepted"] == 2


def test_a_profile_at_the_cluster_size_limit_is_still_readable(gql, live_api):
    limit = live_api.app.state.services.identity.max_cluster_size
    ingest(gql, [record(str(n), "email:hub@x.com", f"ecid:E{n:03d}", day=1 + n % 28,
                        attributes={"n": n}) for n in range(limit + 5)])
    ingest(gql, events=[event(f"e{n}", f"ecid:E{n:03d}", at=ago(days=1)) for n in range(20)])
    found = attributes(gql, "email:hub@x.com")
    assert found["attributes"]["n"] >= 0 and len(found["attributeProvenance"]) == 1
    assert len(events_page(gql, "email:hub@x.com", first=50)["edges"]) > 0


def test_roles_apps_read_profiles_only_admins_delete(neo4j_server, empty_graph):
    with api_server(neo4j_server, api_keys=KEY_SPEC) as server:
        read = post(server.url, 'query { profile(identity: {namespace: "crm", value: "X"}) '
                                '{ attributes computed { name } } }', key=KEYS["app"])
        assert read.status_code == 200 and read.json()["data"] == {"profile": None}
        for role in ("app", "partner", "analyst"):
            body = post(server.url, DELETE, {"identity": ident("crm:X")}, key=KEYS[role]).json()
            assert codes(body) == ["FORBIDDEN"]
        assert codes(post(server.url, METRICS, {"all": False}, key=KEYS["app"]).json()) == [
            "FORBIDDEN"]
        assert not post(server.url, METRICS, {"all": False}, key=KEYS["analyst"]).json().get(
            "errors")
