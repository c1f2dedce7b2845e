"""profileChanged over graphql-transport-ws: a merge, then a deletion, pushed to the watcher."""

from __future__ import annotations

import contextlib
import json
import time

from websockets.sync.client import connect

from tests.identity_helpers import ident, ingest, record

SUBSCRIBE = """
subscription($identity: IdentityInput!) {
  profileChanged(identity: $identity) { kind profileId profile { size identities { value } } }
}
"""
DELETE = """
mutation($identity: IdentityInput!) { deleteProfile(identity: $identity) { profileIds } }
"""


@contextlib.contextmanager
def open_socket(live_api):
    if hasattr(live_api, "app"):  # the in-process server: start with no subscriptions left
        registered(live_api, 0)
    with connect(live_api.url.replace("http", "ws") + "/graphql",
                 subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        yield ws


def registered(live_api, listeners: int) -> None:
    """Wait until the in-process server's change feed has exactly `listeners` subscriptions. A
    subscribe message is served asynchronously, and a write that commits before its
    subscription is registered is (rightly) not pushed to it: a test writing right after
    subscribing raced the registration, and lost it now and then on a busy machine (a push
    awaited for 20 s). Subscriptions of an earlier test end asynchronously too."""
    feed = live_api.app.state.services.changes
    deadline = time.monotonic() + 30
    while feed.listeners != listeners:
        assert time.monotonic() < deadline, (
            f"{feed.listeners} subscriptions registered, not {listeners}")
        time.sleep(0.01)


def subscribe(ws, op_id: str, identity: str) -> None:
    ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": {
        "query": SUBSCRIBE, "variables": {"identity": ident(identity)}}}))


def next_payload(ws) -> dict:
    while True:
        message = json.loads(ws.recv(timeout=20))
        if message["type"] == "ping":
            ws.send(json.dumps({"type": "pong"}))
            continue
        assert message["type"] == "next", message
        return message["payload"]


def test_watcher_receives_a_merge_then_the_deletion(gql, live_api):
    ingest(gql, [record("1", "email:a@x.com", "ecid:E1", day=1)])
    with open_socket(live_api) as ws:
        subscribe(ws, "1", "email:a@x.com")
        registered(live_api, 1)
        ingest(gql, [record("2", "crm:C9", "ecid:K2", day=2)])  # unrelated: no push
        ingest(gql, [record("3", "ecid:E1", "crm:C1", day=3)])
        merged = next_payload(ws)["data"]["profileChanged"]
        assert merged["kind"] == "UPDATED" and merged["profile"]["size"] == 3
        assert {"value": "C1"} in merged["profile"]["identities"]

        gql(DELETE, {"identity": ident("crm:C1")})
        deleted = next_payload(ws)["data"]["profileChanged"]
        assert deleted == {"kind": "DELETED", "profileId": merged["profileId"], "profile": None}


def test_subscriptions_per_connection_are_capped(gql, live_api):
    from idgraph.api.graphql.live import MAX_SUBSCRIPTIONS_PER_CONNECTION as cap

    with open_socket(live_api) as ws:
        for n in range(cap):
            subscribe(ws, str(n), f"ecid:E{n}")
        subscribe(ws, "over", "ecid:X")
        message = json.loads(ws.recv(timeout=20))
        assert message["id"] == "over", message
        errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
        assert errors[0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"


def test_new_data_without_a_merge_is_pushed_too(gql, live_api):
    ingest(gql, [record("1", "email:a@x.com", "ecid:E1", day=1)])
    with open_socket(live_api) as ws:
        subscribe(ws, "1", "ecid:E1")
        registered(live_api, 1)
        ingest(gql, [record("2", "email:a@x.com", "ecid:E1", day=2)])  # same pair, new record
        pushed = next_payload(ws)["data"]["profileChanged"]
        assert pushed["kind"] == "UPDATED" and pushed["profile"]["size"] == 2


WITH_HISTORY = """
subscription($identity: IdentityInput!) {
  profileChanged(identity: $identity) { profileId profile { history { kind } } }
}
"""


def test_each_pushed_event_reads_its_fields_afresh(gql, live_api):
    # DataLoader caches must not outlive one event: the second push shows the merge in the
    # profile's history, not the history cached for the first push.
    ingest(gql, [record("1", "email:a@x.com", "ecid:E1", day=1)])
    ingest(gql, [record("2", "crm:C9", "ecid:K2", day=1)])  # younger: merged into the first
    with open_socket(live_api) as ws:
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": WITH_HISTORY, "variables": {"identity": ident("email:a@x.com")}}}))
        ingest(gql, [record("3", "email:a@x.com", "ecid:E1", day=2)])
        first = next_payload(ws)["data"]["profileChanged"]
        assert "merged" not in [h["kind"] for h in first["profile"]["history"]]
        ingest(gql, [record("4", "ecid:E1", "crm:C9", day=3)])
        second = next_payload(ws)["data"]["profileChanged"]
        assert second["profileId"] == first["profileId"]  # the same profile, the same key
        assert "merged" in [h["kind"] for h in second["profile"]["history"]]


def test_operations_on_a_socket_take_rate_tokens_from_the_keys_bucket(neo4j_server,
                                                                      empty_graph):
    import httpx

    from idgraph.api.graphql.permissions import Role
    from tests.api_support import KEY_SPEC, KEYS, api_server

    key = {"Authorization": f"Bearer {KEYS[Role.APP]}"}
    with api_server(neo4j_server, api_keys=KEY_SPEC, rate_limit_burst=3,
                    rate_limit_per_minute=0.001) as server, connect(
            server.url.replace("http", "ws") + "/graphql", additional_headers=key,
            subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))  # handshake: 1 token
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        for op_id in ("a", "b", "c"):
            ws.send(json.dumps({"id": op_id, "type": "subscribe",
                                "payload": {"query": "{ version }"}}))
        outcome: dict[str, dict] = {}
        while len(outcome) < 3:
            message = json.loads(ws.recv(timeout=20))
            if message["type"] in ("next", "error"):
                outcome[message["id"]] = message
        assert [outcome[i]["type"] for i in ("a", "b")] == ["next", "next"]
        refused = outcome["c"]
        assert refused["type"] == "error", refused
        extensions = refused["payload"][0]["extensions"]
        assert extensions["code"] == "RATE_LIMITED" and extensions["retryAfter"] > 0
        after = httpx.post(f"{server.url}/graphql", json={"query": "{ version }"}, headers=key)
        assert after.status_code == 429  # the same bucket as HTTP requests


def test_a_key_sent_in_connection_init_takes_a_rate_token_too(neo4j_server, empty_graph):
    from idgraph.api.graphql.permissions import Role
    from tests.api_support import KEY_SPEC, KEYS, api_server
    from tests.test_api_auth import ws_init

    with api_server(neo4j_server, api_keys=KEY_SPEC, rate_limit_burst=1,
                    rate_limit_per_minute=0.001) as server:
        assert ws_init(server.url, {"apiKey": KEYS[Role.APP]}) == {"type": "connection_ack"}
        assert ws_init(server.url, {"apiKey": KEYS[Role.APP]}) == 4403  # its bucket is empty
        assert ws_init(server.url, {"apiKey": KEYS[Role.ANALYST]}) == {"type": "connection_ack"}
