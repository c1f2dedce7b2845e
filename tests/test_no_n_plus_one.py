"""Nested reads of many profiles cost a fixed number of Neo4j round trips (DataLoaders)."""

from __future__ import annotations

from idgraph.api.graphql.permissions import Role
from tests.conftest import execute_counting_round_trips
from tests.identity_helpers import ident, record

NESTED = """
query($ids: [IdentityInput!]!) {
  resolve(identities: $ids) {
    profileId
    profile { id identities { value } attributes computed { name value } history { kind } }
  }
}
"""


async def round_trips_for(services, n: int) -> tuple[int, list]:
    ids = [ident(f"crm:C{i}") for i in range(n)]
    result, trips = await execute_counting_round_trips(services, NESTED, {"ids": ids},
                                                       Role.PARTNER)
    assert result.errors is None, result.errors
    return trips, result.data["resolve"]


async def test_nested_profile_fields_do_not_grow_with_the_list(services):
    await services.identity.ingest(
        [record(str(i), f"crm:C{i}", f"email:p{i}@x.com", attributes={"n": i})
         for i in range(12)])
    few, _ = await round_trips_for(services, 2)
    many, many_rows = await round_trips_for(services, 12)
    assert few == many == 4  # resolve, profiles, computed, history
    assert [r["profile"]["attributes"] for r in many_rows] == [{"n": i} for i in range(12)]
    assert all(r["profile"]["history"][0]["kind"] == "created" for r in many_rows)


EVENTS = """
query($ids: [IdentityInput!]!) {
  resolve(identities: $ids) { profile { events(first: 2) { edges { node { type } } } } }
}
"""


async def test_events_of_many_profiles_are_one_query(services):
    await services.identity.ingest(
        [record(str(i), f"crm:C{i}") for i in range(6)],
        [{"source": "web", "eventId": f"e{i}-{k}", "timestamp": f"2025-01-0{k + 1}T00:00:00Z",
          "type": f"view{k}", "identities": [ident(f"crm:C{i}")]}
         for i in range(6) for k in range(3)])

    async def trips(n: int) -> tuple[int, list]:
        ids = [ident(f"crm:C{i}") for i in range(n)]
        result, count = await execute_counting_round_trips(services, EVENTS, {"ids": ids},
                                                           Role.PARTNER)
        assert result.errors is None, result.errors
        return count, result.data["resolve"]

    few, _ = await trips(2)
    many, rows = await trips(6)
    assert few == many == 3  # resolve, profiles, events
    assert all([e["node"]["type"] for e in r["profile"]["events"]["edges"]] == ["view2", "view1"]
               for r in rows)
