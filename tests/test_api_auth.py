"""Access control over real HTTP: 401 before GraphQL, FORBIDDEN per field, managed keys."""

from __future__ import annotations

import logging

import httpx
import pytest

from idgraph.api.graphql.permissions import Role
from idgraph.api.http.app import create_app
from tests.api_support import (
    CREATE_KEY,
    KEY_SPEC,
    KEYS,
    LIST_KEYS,
    api_server,
    codes,
    post,
    stored_keys,
)
from tests.conftest import settings_for

PROFILE = '{ profile(identity: {namespace: "email", value: "nobody@example.com"}) { id } }'
RESOLVE = ('{ resolve(identities: [{namespace: "email", value: "nobody@example.com"}]) '
           "{ profileId } }")


@pytest.fixture(scope="module")
def secured(neo4j_server):
    with api_server(neo4j_server, api_keys=KEY_SPEC) as server:
        yield server


def forbidden(response: httpx.Response) -> bool:
    body = response.json()
    return response.status_code == 200 and codes(body) == ["FORBIDDEN"]


def test_app_reads_profiles_but_not_keys(secured, empty_graph):
    allowed = post(secured.url, PROFILE, key=KEYS[Role.APP])
    assert allowed.status_code == 200 and allowed.json() == {"data": {"profile": None}}
    assert forbidden(post(secured.url, LIST_KEYS, key=KEYS[Role.APP]))


def test_partner_resolves_but_cannot_create_keys(secured, empty_graph, cypher):
    allowed = post(secured.url, RESOLVE, key=KEYS[Role.PARTNER])
    assert allowed.json() == {"data": {"resolve": [{"profileId": None}]}}
    refused = post(secured.url, CREATE_KEY, {"name": "x", "role": "ADMIN"},
                   key=KEYS[Role.PARTNER])
    assert forbidden(refused) and stored_keys(cypher) == 0  # nothing executed


def test_analyst_reads_metrics_but_cannot_create_keys(secured, empty_graph, cypher):
    metrics = httpx.get(f"{secured.url}/metrics", headers={"X-API-Key": KEYS[Role.ANALYST]})
    assert metrics.status_code == 200 and "idgraph_http_requests_total" in metrics.text
    refused = post(secured.url, CREATE_KEY, {"name": "x", "role": "APP"},
                   key=KEYS[Role.ANALYST])
    assert forbidden(refused) and stored_keys(cypher) == 0


def test_admin_manages_keys_and_app_may_not_read_metrics(secured, empty_graph):
    assert post(secured.url, LIST_KEYS, key=KEYS[Role.ADMIN]).json() == {
        "data": {"apiKeys": {"edges": []}}}
    metrics = httpx.get(f"{secured.url}/metrics", headers={"X-API-Key": KEYS[Role.APP]})
    assert metrics.status_code == 403


def test_missing_or_unknown_key_is_http_401(secured, empty_graph):
    for key in (None, "not-a-key"):
        response = post(secured.url, PROFILE, key=key)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert codes(response.json()) == ["UNAUTHENTICATED"]


def test_created_key_works_until_revoked(secured, empty_graph, cypher):
    created = post(secured.url, CREATE_KEY, {"name": "shop front", "role": "APP"},
                   key=KEYS[Role.ADMIN]).json()["data"]["createApiKey"]
    key, record = created["key"], created["apiKey"]
    assert record["role"] == "APP" and record["name"] == "shop front"
    stored = cypher("MATCH (k:ApiKey) RETURN k")[0]["k"]
    assert key not in stored.values() and len(stored["hash"]) == 64  # only the hash is kept

    assert post(secured.url, PROFILE, key=key).json() == {"data": {"profile": None}}
    listed = post(secured.url, LIST_KEYS, key=KEYS[Role.ADMIN]).json()["data"]["apiKeys"]
    assert [e["node"]["id"] for e in listed["edges"]] == [record["id"]]

    revoke = """mutation R($id: ID!) { revokeApiKey(id: $id) {
      __typename ... on ApiKeyRevoked { id } ... on ApiKeyNotFound { message } } }"""
    done = post(secured.url, revoke, {"id": record["id"]}, key=KEYS[Role.ADMIN]).json()
    assert done["data"]["revokeApiKey"] == {"__typename": "ApiKeyRevoked", "id": record["id"]}
    assert post(secured.url, PROFILE, key=key).status_code == 401
    again = post(secured.url, revoke, {"id": record["id"]}, key=KEYS[Role.ADMIN]).json()
    assert again["data"]["revokeApiKey"]["__typename"] == "ApiKeyNotFound"


def test_key_pages_follow_relay_cursors(secured, empty_graph):
    for name in ("a", "b", "c"):
        post(secured.url, CREATE_KEY, {"name": name, "role": "APP"}, key=KEYS[Role.ADMIN])
    page = """query P($after: String) { apiKeys(first: 2, after: $after) {
      edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }"""
    first = post(secured.url, page, key=KEYS[Role.ADMIN]).json()["data"]["apiKeys"]
    assert [e["node"]["name"] for e in first["edges"]] == ["a", "b"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = post(secured.url, page, {"after": first["pageInfo"]["endCursor"]},
                key=KEYS[Role.ADMIN]).json()["data"]["apiKeys"]
    assert [e["node"]["name"] for e in rest["edges"]] == ["c"]
    assert rest["pageInfo"]["hasNextPage"] is False


def test_in_open_mode_loopback_is_admin_until_a_key_exists(neo4j_server, empty_graph):
    # Its own server: creating a key ends open mode for good, the shared live_api's too.
    with api_server(neo4j_server, open_loopback=True) as server:
        created = post(server.url, CREATE_KEY, {"name": "first", "role": "ADMIN"}).json()
        key = created["data"]["createApiKey"]["key"]
        # Once a key exists, keyless loopback callers are no longer trusted.
        assert post(server.url, LIST_KEYS).status_code == 401
        assert post(server.url, LIST_KEYS, key=key).status_code == 200


async def test_in_open_mode_other_addresses_get_401(neo4j_server, empty_graph):
    app = create_app(settings_for(neo4j_server, open_loopback=True))
    for client, status in ((("203.0.113.9", 4000), 401), (("127.0.0.1", 4000), 200)):
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            response = await http.post("/graphql", json={"query": "{ version }"})
        assert response.status_code == status
    await app.state.services.graph.close()


def test_start_up_says_when_only_loopback_is_served(neo4j_server, empty_graph, caplog):
    with caplog.at_level(logging.WARNING, logger="idgraph.api"), api_server(
            neo4j_server, open_loopback=True):
        pass
    assert any("Open loopback mode" in r.getMessage() for r in caplog.records)


def ws_init(url: str, payload: dict, headers: dict | None = None) -> dict | int:
    """Open a graphql-transport-ws connection; the server's answer or its close code."""
    from httpx_ws import WebSocketDisconnect, connect_ws

    ws_url = url.replace("http://", "ws://") + "/graphql"
    with httpx.Client(headers=headers or {}) as client, connect_ws(
            ws_url, client, subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": payload})
        try:
            return ws.receive_json(timeout=30)
        except WebSocketDisconnect as closed:
            return closed.code


def test_websocket_key_by_header_or_connection_init(secured, empty_graph):
    assert ws_init(secured.url, {"apiKey": KEYS[Role.APP]}) == {"type": "connection_ack"}
    by_header = ws_init(secured.url, {}, {"Authorization": f"Bearer {KEYS[Role.ANALYST]}"})
    assert by_header == {"type": "connection_ack"}
    assert ws_init(secured.url, {}) == 4403
    assert ws_init(secured.url, {"apiKey": "wrong"}) == 4403


def test_keys_guessed_in_connection_init_count_against_the_address(neo4j_server, empty_graph):
    with api_server(neo4j_server, api_keys=KEY_SPEC, auth_failure_burst=1,
                    auth_failures_per_minute=0.001) as server:
        assert ws_init(server.url, {"apiKey": "guess-0123456789abcdef"}) == 4403
        after = post(server.url, "{ version }", key=KEYS[Role.APP])
    assert after.status_code == 429 and codes(after.json()) == ["RATE_LIMITED"]


def test_foreign_cursor_is_invalid_input(secured, empty_graph):
    import base64

    for cursor in ("not base64!", base64.urlsafe_b64encode(b"yesterday|abc").decode()):
        response = post(secured.url, "query K($a: String) { apiKeys(after: $a) { edges "
                        "{ cursor } } }", {"a": cursor}, key=KEYS[Role.ADMIN])
        assert codes(response.json()) == ["INVALID_INPUT"]


def test_every_root_field_declares_its_roles():
    from idgraph.api.graphql.schema import build_schema

    schema = build_schema()
    undeclared = [f"{root}.{field.name}" for root in ("Query", "Mutation", "Subscription")
                  if (definition := schema.get_type_by_name(root)) is not None
                  for field in definition.fields if not field.permission_classes]
    assert undeclared == [], "give these fields permission_classes=[allow(...)]"
