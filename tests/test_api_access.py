"""Who gets in: no GraphQL without a principal (however the request is spelt), open loopback
mode only when asked for, Host checks, and what anonymous callers learn from /readyz."""

from __future__ import annotations

import httpx

from idgraph.api.graphql.permissions import Role
from idgraph.api.http.graphql_app import build_graphql_app
from idgraph.services import Services
from tests.api_support import KEY_SPEC, KEYS, api_server, codes
from tests.conftest import settings_for

INTROSPECT = "{__schema{queryType{name}}}"


def test_an_encoded_query_parameter_does_not_skip_authentication(neo4j_server, empty_graph):
    # `%71uery` is `query` once decoded: strawberry executes it, so it is no IDE page request.
    for graphiql in (True, False):
        with api_server(neo4j_server, api_keys=KEY_SPEC, graphiql=graphiql) as server:
            response = httpx.get(f"{server.url}/graphql?%71uery={INTROSPECT}",
                                 headers={"Accept": "text/html"})
            assert response.status_code == 401, response.text
            assert "queryType" not in response.text
            allowed = httpx.get(f"{server.url}/graphql?%71uery={INTROSPECT}",
                                headers={"Accept": "text/html",
                                         "Authorization": f"Bearer {KEYS[Role.APP]}"})
            assert allowed.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


def test_the_ide_page_itself_needs_no_key(neo4j_server, empty_graph):
    with api_server(neo4j_server, api_keys=KEY_SPEC) as server:
        page = httpx.get(f"{server.url}/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "<html" in page.text.lower()


async def test_the_graphql_app_refuses_an_operation_without_a_principal(neo4j_server,
                                                                        empty_graph):
    # Defence in depth: the GraphQL app alone (no authentication middleware in front of it).
    settings = settings_for(neo4j_server)
    from idgraph.db.connect import graph_for

    graph = graph_for(settings, start_local=False)
    app = build_graphql_app(Services.build(settings, graph), settings)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        for query in (INTROSPECT, "{ __typename }", "{ version }"):
            body = (await http.post("/graphql", json={"query": query})).json()
            assert "data" not in body or body["data"] is None, body
            assert codes(body) == ["UNAUTHENTICATED"]
    await graph.close()
