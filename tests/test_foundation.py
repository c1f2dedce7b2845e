"""Schema-as-code and the service skeleton, against the real Neo4j."""

from __future__ import annotations

import asyncio

import httpx

from idgraph.db.graph import Graph
from idgraph.db.schema import apply_schema, cypher_dir, load_migrations


def run(coro):
    return asyncio.run(coro)


def test_second_schema_apply_applies_nothing(neo4j_server, empty_graph, cypher):
    async def twice():
        graph = Graph(neo4j_server.uri, neo4j_server.auth, "neo4j")
        try:
            await graph.write("MATCH (m:SchemaMigration) DELETE m")
            first = await apply_schema(graph)
            second = await apply_schema(graph)
        finally:
            await graph.close()
        return first, second

    first, second = run(twice())
    assert first == [m.name for m in load_migrations()]
    assert second == []
    recorded = {row["name"] for row in cypher("MATCH (m:SchemaMigration) RETURN m.name AS name")}
    assert recorded == set(first)
    constraints = {row["name"] for row in cypher("SHOW CONSTRAINTS YIELD name")}
    assert {"identity_key", "profile_id", "record_key", "event_key"} <= constraints


def test_every_cypher_file_runs(neo4j_server, empty_graph, cypher):
    """Schema files are applied for real; query files must at least pass EXPLAIN."""
    files = sorted(cypher_dir().rglob("*.cypher"))
    assert files, "no .cypher files found"
    for path in files:
        if path.parent.name == "schema":
            for statement in [s for m in load_migrations(path.parent) if m.name == path.name
                              for s in m.statements()]:
                cypher(statement)
        else:
            cypher("EXPLAIN " + path.read_text())


def test_health_endpoints(live_api):
    with httpx.Client(base_url=live_api.url) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def test_graphiql_served_to_browsers(live_api):
    page = httpx.get(f"{live_api.url}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
