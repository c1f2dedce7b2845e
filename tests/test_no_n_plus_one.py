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
