"""Each limit against abuse tripped once, and the refused query not executed."""

from __future__ import annotations

import httpx
import pytest

from idgraph.api.graphql.context import Context
from idgraph.api.graphql.permissions import Role
from idgraph.api.graphql.schema import build_schema
from idgraph.api.http.ratelimit import RateLimiter
from idgraph.db.errors import DatabaseError
from idgraph.db.graph import Graph
from idgraph.services import Services
from tests.api_support import KEY_SPEC, KEYS, api_server, codes, post, stored_keys
from tests.conftest import settings_for

CREATE = 'createApiKey(name: "n", role: APP) { key apiKey { id } }'


async def execute(neo4j_server, query: str, variables: dict | None = None, **limits) -> dict:
    """Run `query` as an admin through a schema built with `limits` over the real graph."""
    from idgraph.auth.service import ApiKeyService

    settings = settings_for(neo4j_server, **limits)
    graph = Graph(neo4j_server.uri, neo4j_server.auth, "neo4j")
    context = Context(services=Services.build(settings, graph), request=None, role=Role.ADMIN,
                      api_keys=ApiKeyService(graph, ""))
    try:
        result = await build_schema(settings).execute(query, variables, context_value=context)
    finally:
        await graph.close()
    errors = [{"message": e.message, **({"extensions": e.extensions} if e.extensions else {})}
              for e in result.errors or ()]
    return {"data": result.data, "errors": errors}


@pytest.mark.parametrize(("limits", "query", "code"), [
    ({"max_depth": 1}, f"mutation {{ {CREATE} }}", "QUERY_TOO_DEEP"),
    ({"max_aliases": 2}, "mutation { " + " ".join(f"k{i}: {CREATE}" for i in range(3)) + " }",
     "TOO_MANY_ALIASES"),
    ({"max_tokens": 10}, f"mutation {{ {CREATE} }}", "TOO_MANY_TOKENS"),
    ({"max_cost": 5}, "mutation { " + " ".join(f"k{i}: {CREATE}" for i in range(2)) + " }",
     "COST_LIMIT_EXCEEDED"),
])
async def test_limit_refuses_before_executing(neo4j_server, empty_graph, cypher, limits, query,
                                              code):
    result = await execute(neo4j_server, query, **limits)
    assert result["data"] is None and codes(result) == [code]
    assert stored_keys(cypher) == 0


async def test_cost_multiplies_by_page_size(neo4j_server, empty_graph):
    query = "query Q($n: Int) { apiKeys(first: $n) { edges { node { id name } } } }"
    # 1 + n * (edges 1 + node (1 + id 1 + name 1)) = 1 + 4n
    assert codes(await execute(neo4j_server, query, {"n": 10}, max_cost=41)) == []
    over = await execute(neo4j_server, query, {"n": 11}, max_cost=41)
    assert codes(over) == ["COST_LIMIT_EXCEEDED"] and over["errors"][0]["extensions"]["cost"] == 45
    # Without `first`, the field's default page size (20) is charged.
    default = await execute(neo4j_server, "{ apiKeys { edges { cursor } } }", max_cost=40)
    assert codes(default) == ["COST_LIMIT_EXCEEDED"]


async def test_page_size_over_the_maximum_is_refused(neo4j_server, empty_graph):
    result = await execute(neo4j_server, "{ apiKeys(first: 11) { edges { cursor } } }",
                           max_page_size=10)
    assert codes(result) == ["PAGE_SIZE_EXCEEDED"] and result["data"] is None


async def test_introspection_can_be_switched_off(neo4j_server, empty_graph):
    query = "{ __schema { queryType { name } } }"
    assert codes(await execute(neo4j_server, query)) == []
    refused = await execute(neo4j_server, query, introspection=False)
    assert refused["data"] is None and set(codes(refused)) == {"INTROSPECTION_DISABLED"}


async def test_field_suggestions_can_be_switched_off(neo4j_server, empty_graph):
    shown = await execute(neo4j_server, "{ apiKey { edges { cursor } } }")
    hidden = await execute(neo4j_server, "{ apiKey { edges { cursor } } }",
                           field_suggestions=False)
    assert "Did you mean" in shown["errors"][0]["message"]
    assert "Did you mean" not in hidden["errors"][0]["message"]
    assert codes(hidden) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_neo4j_transaction_timeout_stops_a_long_query(neo4j_server, empty_graph):
    graph = Graph(neo4j_server.uri, neo4j_server.auth, "neo4j", timeout=0.5)
    try:
        with pytest.raises(DatabaseError, match="time limit"):
            await graph.read("UNWIND range(1, 10000000000) AS x RETURN count(x) AS n")
    finally:
        await graph.close()


def test_graphiql_can_be_switched_off(neo4j_server, empty_graph):
    with api_server(neo4j_server, graphiql=False) as server:
        page = httpx.get(f"{server.url}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 404


def test_oversized_body_is_413_and_not_executed(neo4j_server, empty_graph, cypher):
    padding = "#" + "x" * 3000 + "\n"
    query = f"mutation {{ {padding} {CREATE} }}"
    with api_server(neo4j_server, api_keys=KEY_SPEC, max_body_bytes=2000) as server:
        declared = post(server.url, query, key=KEYS[Role.ADMIN])

        def chunks():  # no Content-Length: the limit must count the bytes as they arrive
            body = httpx.Request("POST", "/", json={"query": query}).content
            yield from (body[i:i + 500] for i in range(0, len(body), 500))

        streamed = httpx.post(f"{server.url}/graphql", content=chunks(), headers={
            "Content-Type": "application/json", "X-API-Key": KEYS[Role.ADMIN]})
    for response in (declared, streamed):
        assert response.status_code == 413
        assert codes(response.json()) == ["PAYLOAD_TOO_LARGE"]
    assert stored_keys(cypher) == 0


def test_rate_limit_is_429_with_retry_after(neo4j_server, empty_graph):
    with api_server(neo4j_server, api_keys=KEY_SPEC, rate_limit_burst=2,
                    rate_limit_per_minute=0.001) as server:
        statuses = [post(server.url, "{ version }", key=KEYS[Role.APP]) for _ in range(3)]
        other_key = post(server.url, "{ version }", key=KEYS[Role.PARTNER])
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert int(statuses[2].headers["retry-after"]) > 0
    assert codes(statuses[2].json()) == ["RATE_LIMITED"]
    assert other_key.status_code == 200  # buckets are per key


def test_an_address_guessing_keys_is_refused_before_any_lookup(neo4j_server, empty_graph):
    with api_server(neo4j_server, api_keys=KEY_SPEC, auth_failure_burst=2,
                    auth_failures_per_minute=0.001) as server:
        guesses = [post(server.url, "{ version }", key=f"guess-{n}-0123456789abcdef")
                   for n in range(3)]
        valid_after = post(server.url, "{ version }", key=KEYS[Role.APP])
    assert [r.status_code for r in guesses] == [401, 401, 429]
    assert codes(guesses[2].json()) == ["RATE_LIMITED"]
    assert int(guesses[2].headers["retry-after"]) > 0
    assert "failed authentications" in guesses[2].json()["errors"][0]["message"]
    # The address is refused whatever it sends until its allowance refills.
    assert valid_after.status_code == 429


def test_valid_keys_spend_no_failure_allowance(neo4j_server, empty_graph):
    with api_server(neo4j_server, api_keys=KEY_SPEC, auth_failure_burst=1,
                    auth_failures_per_minute=0.001) as server:
        statuses = [post(server.url, "{ version }", key=KEYS[Role.APP]).status_code
                    for _ in range(3)]
    assert statuses == [200, 200, 200]


def test_token_bucket_refills_at_the_configured_rate():
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert [limiter.take("k"), limiter.take("k")] == [0.0, 0.0]
    assert limiter.take("k") == pytest.approx(1.0)  # one token per second
    now[0] = 0.5
    assert limiter.take("k") == pytest.approx(0.5)
    now[0] = 1.0
    assert limiter.take("k") == 0.0


def test_waiting_spends_no_token():
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=1, clock=lambda: now[0])
    assert [limiter.wait("k"), limiter.wait("k")] == [0.0, 0.0]
    assert limiter.take("k") == 0.0
    assert limiter.wait("k") == pytest.approx(1.0)
    now[0] = 1.0
    assert limiter.wait("k") == 0.0
