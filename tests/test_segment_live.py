"""audienceMembership over graphql-transport-ws (issue #16, item 3): one profile entering then
leaving a streaming segment is pushed as REALIZED then EXITED, in order; batch evaluation is
pushed too; profileChanged carries the membership changes."""

from __future__ import annotations

import json

import httpx

from tests.identity_helpers import ident
from tests.segment_helpers import create, evaluate, person
from tests.test_live_updates import next_payload, open_socket, registered

AUDIENCE = """
subscription($id: ID!) {
  audienceMembership(segmentId: $id) { segmentId profileId status cause profile { id } }
}
"""
PROFILE_CHANGED = """
subscription($identity: IdentityInput!) {
  profileChanged(identity: $identity) { kind profileId memberships { segmentId status } }
}
"""


def watch(ws, op_id: str, query: str, variables: dict) -> None:
    ws.send(json.dumps({"id": op_id, "type": "subscribe",
                        "payload": {"query": query, "variables": variables}}))


def test_a_member_is_pushed_realized_then_exited_in_order(gql, live_api):
    create(gql, "Over 50", "age > 50", id="old")
    with open_socket(live_api) as ws:
        watch(ws, "1", AUDIENCE, {"id": "old"})
        registered(live_api, 1)
        person(gql, 2, age=20)  # not a member: nothing pushed
        member = person(gql, 1, age=60)
        person(gql, 1, day=2, age=40)
        entered = next_payload(ws)["data"]["audienceMembership"]
        left = next_payload(ws)["data"]["audienceMembership"]
    assert entered["profileId"] == left["profileId"] == member
    assert (entered["status"], left["status"]) == ("REALIZED", "EXITED")
    assert entered["segmentId"] == "old" and entered["profile"] == {"id": member}
    assert entered["cause"].startswith("ingest:")


def test_batch_evaluation_and_profile_changed_carry_memberships(gql, live_api):
    person(gql, 1, age=60)
    create(gql, "Over 50", "age > 50", id="old", batchOnly=True)
    with open_socket(live_api) as ws:
        watch(ws, "a", AUDIENCE, {"id": "old"})
        watch(ws, "p", PROFILE_CHANGED, {"identity": ident("crm:C1")})
        registered(live_api, 2)
        evaluate(gql, "old")
        pushed = {}
        for _ in range(2):
            payload = next_payload(ws)["data"]
            pushed.update(payload)
    assert pushed["audienceMembership"]["status"] == "REALIZED"
    assert pushed["audienceMembership"]["cause"] == "evaluation"
    assert pushed["profileChanged"]["kind"] == "MEMBERSHIP"
    assert pushed["profileChanged"]["memberships"] == [{"segmentId": "old",
                                                        "status": "REALIZED"}]


def test_an_unknown_segment_is_refused(gql, live_api):
    with open_socket(live_api) as ws:
        watch(ws, "x", AUDIENCE, {"id": "nope"})
        message = json.loads(ws.recv(timeout=20))
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"


def test_audience_membership_is_for_analysts_and_partners(neo4j_server, empty_graph):
    from httpx_ws import connect_ws

    from idgraph.auth.roles import Role
    from tests.api_support import KEY_SPEC, KEYS, api_server

    def first_answer(server, role: Role) -> dict:
        with httpx.Client() as client, connect_ws(
                server.url.replace("http://", "ws://") + "/graphql", client,
                subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init", "payload": {"apiKey": KEYS[role]}})
            assert ws.receive_json(timeout=30)["type"] == "connection_ack"
            ws.send_json({"id": "1", "type": "subscribe",
                          "payload": {"query": AUDIENCE, "variables": {"id": "nope"}}})
            return ws.receive_json(timeout=30)

    with api_server(neo4j_server, api_keys=KEY_SPEC) as server:
        refused, admitted = first_answer(server, Role.APP), first_answer(server, Role.PARTNER)
    codes = [[e["extensions"]["code"] for e in (m["payload"]["errors"] if m["type"] == "next"
                                                else m["payload"])] for m in (refused, admitted)]
    assert codes == [["FORBIDDEN"], ["NOT_FOUND"]]  # a partner passes, to the unknown segment
