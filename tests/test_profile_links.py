"""`Profile.links`: every link touching a profile's identities, with its provenance and status
(refused ones to identities kept out included), batched across profiles, role-checked."""

from __future__ import annotations

from idgraph.api.graphql.permissions import Role
from tests.api_support import KEY_SPEC, KEYS, api_server, codes, post
from tests.conftest import execute_counting_round_trips
from tests.exploration_helpers import BOB, EVENTS, JANE, RECORDS
from tests.identity_helpers import INGEST, ident, ingest

LINKS = """query($i: IdentityInput!, $first: Int) {
  profile(identity: $i) {
    links(first: $first) {
      a { namespace value } b { namespace value } source status reason lastSeen count
      lastRecordId
    }
  }
}"""


def _pairs(links: list[dict]) -> list[tuple]:
    return [(f"{x['a']['namespace']}:{x['a']['value']}", f"{x['b']['namespace']}:{x['b']['value']}",
             x["source"], x["status"]) for x in links]


def test_links_of_a_profile_with_a_refused_one_last(gql):
    ingest(gql, RECORDS, EVENTS)
    jane = gql(LINKS, {"i": ident(JANE), "first": 10})["profile"]["links"]
    assert _pairs(jane) == [
        ("device:d1", "ecid:E1", "app", "active"),
        ("ecid:E1", "email:jane@x.com", "web", "active"),
        ("crm:C1", "email:jane@x.com", "crm", "active"),
        ("device:d1", "email:bob@x.com", "app", "refused")]
    assert jane[0]["lastSeen"] == "2025-01-04T12:00:00+00:00" and jane[0]["count"] == 1
    assert jane[0]["lastRecordId"] == "a1"
    assert jane[3]["reason"] == "unique namespace crm: crm:C1 and crm:C2"
    bob = gql(LINKS, {"i": ident(BOB), "first": 1})["profile"]["links"]
    assert _pairs(bob) == [("crm:C2", "email:bob@x.com", "crm", "active")]


def test_links_need_an_analyst_or_partner_key(neo4j_server, empty_graph):
    with api_server(neo4j_server, api_keys=KEY_SPEC) as server:
        stored = post(server.url, INGEST, {"records": RECORDS[:2]}, KEYS[Role.PARTNER]).json()
        assert stored["data"]["ingest"]["accepted"] == 2, stored
        variables = {"i": ident(JANE), "first": 5}
        assert codes(post(server.url, LINKS, variables, KEYS[Role.APP]).json()) == ["FORBIDDEN"]
        for role in (Role.ANALYST, Role.PARTNER):
            links = post(server.url, LINKS, variables, KEYS[role]).json()["data"]["profile"]
            assert _pairs(links["links"]) == [("crm:C1", "email:jane@x.com", "crm", "active")]


NESTED = """query($ids: [IdentityInput!]!) {
  resolve(identities: $ids) { profile { id links(first: 5) { source status } } }
}"""


async def test_links_of_many_profiles_cost_one_read(services):
    await services.identity.ingest(RECORDS, EVENTS)
    trips = []
    for identities in ([JANE], [JANE, BOB, "email:carol@x.com"]):
        result, n = await execute_counting_round_trips(
            services, NESTED, {"ids": [ident(i) for i in identities]}, Role.PARTNER)
        assert result.errors is None, result.errors
        trips.append(n)
    assert trips == [3, 3]  # resolve, profiles, links
    assert [len(r["profile"]["links"]) for r in result.data["resolve"]] == [4, 2, 0]
