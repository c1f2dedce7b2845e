"""Nested reads of many profiles cost a fixed number of Neo4j round trips (DataLoaders)."""

from __future__ import annotations

from idgraph.api.context import Context
from idgraph.api.permissions import Role
from idgraph.api.schema import build_schema
from idgraph.db.connect import graph_for
from idgraph.db.graph import start_counting_round_trips
from idgraph.db.schema import apply_schema
from idgraph.services import Services
from tests.conftest import settings_for
from tests.identity_helpers import ident, record

NESTED = """
query($ids: [IdentityInput!]!) {
  resolve(identities: $ids) {
    profileId
    profile { id identities { value } attributes computed { name value } history { kind } }
  }
}
"""


async def round_trips_for(services, settings, n: int) -> tuple[int, list]:
    ids = [ident(f"crm:C{i}") for i in range(n)]
    trips = start_counting_round_trips()
    result = await build_schema(settings).execute(
        NESTED, variable_values={"ids": ids},
        context_value=Context(services=services, request=None, role=Role.PARTNER))
    assert result.errors is None, result.errors
    return trips[0], result.data["resolve"]


async def test_nested_profile_fields_do_not_grow_with_the_list(neo4j_server, empty_graph):
    settings = settings_for(neo4j_server)
    graph = graph_for(settings, start_local=False)
    services = Services.build(settings, graph)
    try:
        await apply_schema(graph)
        await services.identity.ingest(
            [record(str(i), f"crm:C{i}", f"email:p{i}@x.com", attributes={"n": i})
             for i in range(12)])
        few, few_rows = await round_trips_for(services, settings, 2)
        many, many_rows = await round_trips_for(services, settings, 12)
        assert few == many == 4  # resolve, profiles, computed, history
        assert [r["profile"]["attributes"] for r in many_rows] == [{"n": i} for i in range(12)]
        assert all(r["profile"]["history"][0]["kind"] == "created" for r in many_rows)
    finally:
        await graph.close()
