"""Dashboard counters: kept by every write's counters stage, equal to a direct count of the
graph after ingests, merges, splits, deletions and test profiles; backfilled once for a graph
that has data but no counters."""

from __future__ import annotations

from tests.identity_helpers import ident, ingest, record
from tests.profile_helpers import ago, event
from tests.test_profile_privacy import METRICS

# The whole-graph count `metrics` used to run, as the reference: each profile's test flag,
# size and namespaces, and the types of events about included profiles.
DIRECT = """
MATCH (p:Profile)
WITH p, EXISTS { (p)<-[:IN_PROFILE]-(:Identity)<-[:KEYED_BY]-(:Record {testProfile: true}) }
     AS test
WHERE $all OR NOT test
MATCH (p)<-[:IN_PROFILE]-(m:Identity)
WITH p, count(m) AS size, collect(m.namespace) AS namespaces
RETURN collect(size) AS sizes, [ns IN collect(namespaces) | ns] AS namespaces,
       COLLECT { MATCH (e:Event) WHERE EXISTS { (e)-[:ABOUT]->(:Identity)-[:IN_PROFILE]->(q:Profile)
                 WHERE $all OR NOT EXISTS {
                   (q)<-[:IN_PROFILE]-(:Identity)<-[:KEYED_BY]-(:Record {testProfile: true}) } }
                 RETURN e.type } AS types
"""
COUNTERS = """
MATCH (c:Counter) WITH c.kind AS kind, c.name AS name, sum(c.n) AS n WHERE n <> 0
RETURN kind, name, n
"""
UNLINK = """mutation U($a: IdentityInput!, $b: IdentityInput!) {
  unlink(identity: $a, otherIdentity: $b) { unlinked } }"""
DELETE = "mutation D($i: IdentityInput!) { deleteProfile(identity: $i) { profiles } }"
DELETE_SOURCE = 'mutation { deleteSource(source: "web") { profiles } }'


def tally(values) -> dict:
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def direct(cypher, include_test: bool) -> dict:
    row = cypher(DIRECT, all=include_test)[0]
    namespaces = [n for group in row["namespaces"] for n in group]
    return {"sizes": tally(row["sizes"]), "namespaces": tally(namespaces),
            "types": tally(row["types"])}


def shown(gql, include_test: bool) -> dict:
    m = gql(METRICS, {"all": include_test})["metrics"]
    return {"sizes": {c["size"]: c["profiles"] for c in m["clusterSizes"]},
            "namespaces": {c["namespace"]: c["identities"] for c in m["identitiesByNamespace"]},
            "types": {c["type"]: c["events"] for c in m["eventsByType"]}}


def stored(cypher) -> dict:
    out: dict = {"sizes": {}, "namespaces": {}, "types": {}}
    for row in cypher(COUNTERS):
        kind = {"size": "sizes", "namespace": "namespaces", "type": "types"}[row["kind"]]
        out[kind][int(row["name"]) if kind == "sizes" else row["name"]] = row["n"]
    return out


def holds(gql, cypher) -> None:
    for include in (False, True):
        assert shown(gql, include) == direct(cypher, include)
    assert stored(cypher) == direct(cypher, True)  # the counters themselves


def test_counters_equal_a_direct_count_through_every_kind_of_write(gql, cypher):
    # data before the first read: the counters are backfilled by it
    ingest(gql, [record("0", "crm:PRE", "email:pre@x.com")],
           [event("pre", "crm:PRE", at=ago(days=1), type="visit")])
    holds(gql, cypher)
    ingest(gql, [record(str(n), f"crm:C{n}", f"email:p{n}@x.com", *(
        [f"ecid:E{n}"] if n % 2 else [])) for n in range(8)]
        + [record("t", "crm:TEST1", "email:qa@x.com", attributes={"testProfile": True})],
        [event(f"e{n}", f"crm:C{n % 4}", at=ago(days=1), type=f"t{n % 2}") for n in range(6)]
        + [event("q", "crm:TEST1", at=ago(days=1), type="qa")])
    holds(gql, cypher)
    # merges (a shared device), a test profile absorbing a real one, a refused link
    ingest(gql, [record("m1", "email:p1@x.com", "device:D1", source="web"),
                 record("m2", "email:p2@x.com", "device:D1", source="web"),
                 record("m3", "ecid:E3", "email:qa@x.com", source="web"),
                 record("m4", "crm:C5", "crm:C6", source="web")],
           [event("w1", "device:D1", "crm:C7", at=ago(days=2), type="t1", source="web")])
    holds(gql, cypher)
    gql(UNLINK, {"a": ident("email:p2@x.com"), "b": ident("device:D1")})  # a split
    holds(gql, cypher)
    gql(DELETE, {"i": ident("crm:C0")})
    holds(gql, cypher)
    gql(DELETE_SOURCE)
    holds(gql, cypher)
    ingest(gql, [record("0", "crm:PRE", "email:pre@x.com")])  # a re-ingest changes nothing
    holds(gql, cypher)
