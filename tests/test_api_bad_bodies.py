"""Request bodies beyond what Python's JSON reader takes (not UTF-8, nested past the recursion
limit, an integer of over 4,300 digits) are HTTP 400 with a GraphQL-shaped error, never a 500:
POST (through the front door's fast path and without it), GET's variables, and WebSocket
messages."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.api_support import api_server, codes

PROFILE_READ = ('{"query": "query P($identity: IdentityInput!) { profile(identity: $identity) '
                '{ attributes } }", "variables": {"identity": {"namespace": "crm", '
                '"value": "C1"}, "extra": %s}}')
BAD_VALUES = {
    "not UTF-8": b'"caf\xe9"',
    "nested too deeply": b"[" * 5000 + b"]" * 5000,
    "too many digits": b"9" * 5000,
}


@pytest.fixture(scope="module")
def general_api(neo4j_server):
    with api_server(neo4j_server, fast_profile_reads=False) as server:
        yield server


@pytest.mark.parametrize("reason", sorted(BAD_VALUES))
@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
def test_bad_json_bodies_are_400_on_both_paths(live_api, general_api, empty_graph, reason,
                                               accept):
    body = (PROFILE_READ % "%s").encode().replace(b"%s", BAD_VALUES[reason])
    answers = []
    for url in (live_api.url, general_api.url):
        response = httpx.post(f"{url}/graphql", content=body, timeout=30, headers={
            "content-type": "application/json", "accept": accept})
        answers.append((response.status_code, response.headers["content-type"],
                        response.json()))
    assert answers[0] == answers[1]
    status, media_type, payload = answers[0]
    assert (status, media_type, codes(payload)) == (400, accept, ["BAD_REQUEST"])
    assert reason in payload["errors"][0]["message"]


@pytest.mark.parametrize("reason", ["nested too deeply", "too many digits"])
def test_bad_json_in_get_variables_is_400(live_api, empty_graph, reason):
    response = httpx.get(f"{live_api.url}/graphql", timeout=30, params={
        "query": "{ __typename }", "variables": '{"a": ' + BAD_VALUES[reason].decode() + "}"})
    assert response.status_code == 400 and codes(response.json()) == ["BAD_REQUEST"]
    assert reason in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("reason", ["nested too deeply", "too many digits"])
def test_bad_json_in_a_websocket_message_closes_with_4400(live_api, empty_graph, reason):
    from httpx_ws import WebSocketDisconnect, connect_ws

    url = live_api.url.replace("http://", "ws://") + "/graphql"
    with httpx.Client() as client, connect_ws(url, client,
                                              subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json(timeout=30) == {"type": "connection_ack"}
        ws.send_text('{"type": "ping", "payload": ' + BAD_VALUES[reason].decode() + "}")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json(timeout=30)
    assert closed.value.code == 4400


SURROGATE_ARGUMENTS = [  # string arguments that go to Neo4j as they are
    "mutation($s: String!) { unlinkSource(source: $s) { unlinked } }",
    "mutation($s: String!) { createMergePolicy(input: {name: $s}) { policy { id } } }",
    "mutation($s: String!) { createApiKey(name: $s, role: APP) { key } }",
    'query($s: String!) { profile(identity: {namespace: "crm", value: "C1"}) '
    "{ events(types: [$s]) { edges { cursor } } } }",
]


@pytest.mark.parametrize("query", SURROGATE_ARGUMENTS)
def test_a_lone_surrogate_in_an_argument_is_invalid_input(gql, query):
    from tests.identity_helpers import ingest, record

    ingest(gql, [record("1", "crm:C1")])
    # what Python's JSON writes for a lone surrogate, and reads back: "\ud800"
    body = json.dumps({"query": query, "variables": {"s": "a\ud800"}})
    response = gql.http.post("/graphql", content=body,
                             headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert codes(response.json()) == ["INVALID_INPUT"], response.json()


def test_an_events_cursor_past_64_bits_is_invalid_input(gql):
    import base64

    from tests.identity_helpers import ingest, record

    ingest(gql, [record("1", "crm:C1")])
    cursor = base64.urlsafe_b64encode(f"{10**30}|web|e1".encode()).decode()
    response = gql.post('query($a: String) { profile(identity: {namespace: "crm", value: "C1"})'
                        " { events(after: $a) { edges { cursor } } } }", {"a": cursor})
    assert codes(response.json()) == ["INVALID_INPUT"], response.json()
