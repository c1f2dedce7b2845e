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


PROFILE_READ = ("query($i: IdentityInput!) { profile(identity: $i) { id } }",
                {"i": {"namespace": "crm", "value": "C1"}})


def _post(url: str, query: str, variables: dict | None = None, **headers: str) -> httpx.Response:
    return httpx.post(f"{url}/graphql", json={"query": query, "variables": variables or {}},
                      headers=headers, timeout=30)


def test_without_keys_or_open_mode_every_request_is_401_saying_what_to_do(neo4j_server,
                                                                          empty_graph):
    with api_server(neo4j_server, open_loopback=False) as server:
        # The general path, the front door's hot read and /metrics alike.
        for response in (_post(server.url, "{ version }"), _post(server.url, *PROFILE_READ),
                         httpx.get(f"{server.url}/metrics")):
            assert response.status_code == 401, response.text
            message = response.json()["errors"][0]["message"]
            assert "IDGRAPH_API_KEYS" in message and "IDGRAPH_OPEN_LOOPBACK" in message


def test_start_up_logs_that_every_request_will_be_refused(neo4j_server, empty_graph, caplog):
    import logging

    with caplog.at_level(logging.WARNING, logger="idgraph.api"), api_server(
            neo4j_server, open_loopback=False):
        pass
    assert any("every request to /graphql and /metrics gets HTTP 401" in r.getMessage()
               for r in caplog.records)


def test_revoking_the_last_key_never_reopens_open_mode(neo4j_server, empty_graph):
    from tests.api_support import CREATE_KEY

    revoke = "mutation R($id: ID!) { revokeApiKey(id: $id) { __typename } }"
    with api_server(neo4j_server, open_loopback=True) as server:
        created = _post(server.url, CREATE_KEY, {"name": "first", "role": "ADMIN"}).json()
        key = created["data"]["createApiKey"]["key"]
        key_id = created["data"]["createApiKey"]["apiKey"]["id"]
        assert _post(server.url, "{ version }").status_code == 401
        done = _post(server.url, revoke, {"id": key_id}, Authorization=f"Bearer {key}").json()
        assert done == {"data": {"revokeApiKey": {"__typename": "ApiKeyRevoked"}}}
        assert _post(server.url, "{ version }").status_code == 401  # still closed
        assert _post(server.url, *PROFILE_READ).status_code == 401


def test_open_mode_answers_only_to_loopback_host_names(neo4j_server, empty_graph):
    with api_server(neo4j_server, open_loopback=True) as server:
        for host in ("localhost", "localhost:8000", "127.0.0.1:1", "[::1]:8000", "LOCALHOST"):
            assert _post(server.url, "{ version }", Host=host).status_code == 200, host
        for host in ("rebound.example.com", "rebound.example.com:8000", "127.0.0.1.nip.io", ""):
            for response in (_post(server.url, "{ version }", Host=host),
                             _post(server.url, *PROFILE_READ, Host=host),  # the front door
                             httpx.get(f"{server.url}/healthz", headers={"Host": host})):
                assert response.status_code == 400, (host, response.text)
                assert codes(response.json()) == ["HOST_NOT_ALLOWED"]


def test_allowed_hosts_apply_to_keyed_requests_too(neo4j_server, empty_graph):
    with api_server(neo4j_server, api_keys=KEY_SPEC, allowed_hosts="api.example.com") as server:
        key = {"Authorization": f"Bearer {KEYS[Role.APP]}"}
        assert _post(server.url, *PROFILE_READ, Host="api.example.com:443", **key).json() == {
            "data": {"profile": None}}
        refused = _post(server.url, *PROFILE_READ, Host="other.example.com", **key)
        assert refused.status_code == 400 and codes(refused.json()) == ["HOST_NOT_ALLOWED"]


def test_proxy_headers_are_trusted_only_when_configured(neo4j_server, empty_graph):
    # Failed authentications count per client address: it shows which address the server saw.
    def second_failure_status(**settings) -> int:
        with api_server(neo4j_server, api_keys=KEY_SPEC, auth_failure_burst=1,
                        auth_failures_per_minute=0.001, **settings) as server:
            _post(server.url, "{ version }", **{"X-Forwarded-For": "203.0.113.7"})
            return _post(server.url, "{ version }",
                         **{"X-Forwarded-For": "198.51.100.1"}).status_code

    assert second_failure_status() == 429  # both are the peer, 127.0.0.1
    assert second_failure_status(forwarded_allow_ips="127.0.0.1") == 401  # two addresses


def test_readyz_tells_only_operators_why_it_is_not_ready(neo4j_server):
    from tests.conftest import free_port

    dead = f"bolt://127.0.0.1:{free_port()}"  # nothing listens there
    with api_server(neo4j_server, api_keys=KEY_SPEC, neo4j_uri=dead, neo4j_retry_seconds=0,
                    neo4j_query_timeout=1) as server:
        def readyz(role: Role | None) -> httpx.Response:
            headers = {"Authorization": f"Bearer {KEYS[role]}"} if role else {}
            return httpx.get(f"{server.url}/readyz", headers=headers, timeout=60)

        for role in (None, Role.APP, Role.PARTNER):
            response = readyz(role)
            assert response.status_code == 503
            assert response.json() == {"status": "unavailable"}, role  # no address, no error
        for role in (Role.ANALYST, Role.ADMIN):
            detail = readyz(role).json()
            assert detail["status"] == "unavailable" and detail["reason"], role
