"""Destinations' secrets at rest, through GraphQL over HTTP against real Neo4j and a real
HTTP receiver on a loopback port: what is stored holds no clear secret or header value (read
with Cypher), delivery still signs with it, a key that cannot open it fails the run with a
typed reason, values stored in clear by an earlier version still deliver and are sealed on the
next write, and `idgraph secrets reseal` moves everything to a new key."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from idgraph.api.graphql.permissions import Role
from tests.activation_helpers import (
    ACTIVATE,
    RUN,
    SECRET,
    Receiver,
    destination,
    finished_run,
    serve_receiver,
    warm_up,
)
from tests.activation_helpers import RUN_ACTIVATION as RUN_A
from tests.api_support import KEY_SPEC, KEYS
from tests.conftest import GraphQLClient, LiveServer, free_port, settings_for
from tests.segment_helpers import create, evaluate, person, wait_job

KEY = Fernet.generate_key().decode()
TOKEN = "Bearer partner-token-0123456789"
DESTINATION = "MATCH (d:Destination) RETURN d {.*} AS d"


@pytest.fixture(scope="module")
def receiver_box():
    box = [Receiver()]
    port = free_port()
    server = serve_receiver(lambda: box[0], port)
    yield box, port
    server.shutdown()


@pytest.fixture(scope="module")
def api(neo4j_server, receiver_box):
    _, port = receiver_box
    settings = settings_for(neo4j_server, open_loopback=False, api_keys=KEY_SPEC,
                            export_allow=f"http://127.0.0.1:{port}/", secrets_key=KEY,
                            export_http_backoff=0.01, export_http_attempts=2,
                            activation_schedule_seconds=0, neo4j_query_timeout=120)
    with LiveServer(settings) as server:
        warm_up(server.url, {"Authorization": f"Bearer {KEYS[Role.ADMIN]}"})
        yield server


@pytest.fixture
def gql(api, empty_graph):
    client = GraphQLClient(api.url, {"Authorization": f"Bearer {KEYS[Role.ADMIN]}"})
    yield client
    client.http.close()


@pytest.fixture
def receiver(receiver_box) -> Receiver:
    box, _ = receiver_box
    box[0] = Receiver()
    return box[0]


def partner(gql, receiver_box) -> tuple[str, str]:
    """Gold members, a signed partner destination and an activation: (destination, activation)."""
    for i in (1, 2, 3):
        person(gql, i, tier="gold")
    create(gql, "Gold", 'tier = "gold"', id="gold")
    evaluate(gql, "gold")
    dest = destination(gql, name="partner", location=f"http://127.0.0.1:{receiver_box[1]}/hook",
                       secret=SECRET, headers={"Authorization": TOKEN, "X-Partner": "p-123"})
    assert dest["hasSecret"] is True
    activation = gql(ACTIVATE, {"input": {"segmentId": "gold", "destinationId": dest["id"],
                                          "namespaces": ["email"], "mode": "FULL"}}
                     )["activateSegment"]["id"]
    return dest["id"], activation


def stored(cypher) -> dict:
    [row] = cypher(DESTINATION)
    return row["d"]


def assert_sealed(node: dict) -> None:
    text = json.dumps(node)
    assert SECRET not in text and "partner-token" not in text and "p-123" not in text
    assert node["secretsSealed"] is True
    assert sorted(json.loads(node["headers"])) == ["Authorization", "X-Partner"]


def delivered_signed(gql, receiver, activation) -> None:
    done = finished_run(gql, gql(RUN_A, {"id": activation})["runActivation"])
    assert done["counts"]["exported"] == 3
    assert len(receiver.records()) == 3 and receiver.bad_signatures == 0
    assert all(h["authorization"] == TOKEN and h["x-partner"] == "p-123"
               for h in receiver.headers)


def test_secret_and_header_values_are_stored_sealed_and_delivery_still_signs(
        gql, cypher, receiver, receiver_box):
    _, activation = partner(gql, receiver_box)
    node = stored(cypher)
    assert_sealed(node)
    assert Fernet(KEY).decrypt(node["secret"].encode()).decode() == SECRET
    delivered_signed(gql, receiver, activation)


def test_a_key_that_cannot_open_the_secrets_fails_the_run_with_a_typed_reason(
        gql, cypher, receiver, receiver_box):
    _, activation = partner(gql, receiver_box)
    other = Fernet(Fernet.generate_key())
    cypher("MATCH (d:Destination) SET d.secret = $secret",
           secret=other.encrypt(SECRET.encode()).decode())

    run = gql(RUN_A, {"id": activation})["runActivation"]
    job = wait_job(gql, run["id"])
    assert job["status"] == "FAILED"
    error = gql(RUN, {"id": run["id"]})["exportRun"]["error"]
    assert "SECRETS_KEY_INVALID" in error and "IDGRAPH_SECRETS_KEY" in error
    assert receiver.records() == []
    # The API still answers about the destination (nothing secret is opened to list it).
    assert gql("{ destinations { hasSecret headerNames } }")["destinations"] == [
        {"hasSecret": True, "headerNames": ["Authorization", "X-Partner"]}]


def test_values_stored_in_clear_by_an_earlier_version_deliver_and_are_sealed_on_update(
        gql, cypher, receiver, receiver_box):
    dest, activation = partner(gql, receiver_box)
    cypher("MATCH (d:Destination) SET d.secret = $secret, d.headers = $headers "
           "REMOVE d.secretsSealed", secret=SECRET,
           headers=json.dumps({"Authorization": TOKEN, "X-Partner": "p-123"}))
    delivered_signed(gql, receiver, activation)

    gql("mutation($id: ID!, $i: DestinationInput!) { updateDestination(id: $id, input: $i) "
        "{ id } }", {"id": dest, "i": {"name": "partner 2",
                                       "location": f"http://127.0.0.1:{receiver_box[1]}/hook"}})
    assert_sealed(stored(cypher))
    receiver.batches.clear()
    receiver.headers.clear()
    delivered_signed(gql, receiver, activation)


def test_reseal_moves_every_destination_to_the_new_first_key(gql, cypher, neo4j_server,
                                                             receiver_box):
    partner(gql, receiver_box)
    new = Fernet.generate_key().decode()
    env = {**os.environ, "NEO4J_URI": neo4j_server.uri,
           "NEO4J_PASSWORD": neo4j_server.auth[1] if neo4j_server.auth else "",
           "IDGRAPH_SECRETS_KEY": f"{new},{KEY}", "IDGRAPH_NEO4J_QUERY_TIMEOUT": "120"}
    done = subprocess.run([sys.executable, "-m", "idgraph", "secrets", "reseal"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("resealed 1 destination")
    node = stored(cypher)
    assert_sealed(node)
    assert Fernet(new).decrypt(node["secret"].encode()).decode() == SECRET
    assert {k: Fernet(new).decrypt(v.encode()).decode()
            for k, v in json.loads(node["headers"]).items()} == {
        "Authorization": TOKEN, "X-Partner": "p-123"}


def test_a_deployment_without_a_key_refuses_secrets_and_stores_nothing(neo4j_server, cypher,
                                                                        empty_graph):
    from tests.api_support import api_server, codes, post

    hook = "http://127.0.0.1:9/hook"
    with api_server(neo4j_server, open_loopback=False, api_keys=KEY_SPEC,
                    export_allow="http://127.0.0.1:9/") as server:  # NEO4J_URI, no key
        admin = KEYS[Role.ADMIN]
        create_destination = ("mutation($i: DestinationInput!) { createDestination(input: $i) "
                              "{ id hasSecret } }")
        refused = post(server.url, create_destination, {"i": {
            "name": "p", "location": hook, "secret": SECRET}}, key=admin).json()
        assert codes(refused) == ["SECRETS_KEY_MISSING"]
        assert "IDGRAPH_SECRETS_KEY" in refused["errors"][0]["message"]
        assert cypher("MATCH (d:Destination) RETURN count(d) AS n") == [{"n": 0}]
        # Without a secret or headers, no key is needed.
        plain = post(server.url, create_destination, {"i": {"name": "p", "location": hook}},
                     key=admin).json()
        assert plain["data"]["createDestination"]["hasSecret"] is False


async def test_the_scheduled_round_seals_what_an_earlier_version_stored_in_clear(
        neo4j_server, cypher, empty_graph):
    from idgraph.clock import now_ms
    from idgraph.db.connect import graph_for
    from idgraph.db.schema import apply_schema
    from idgraph.services import Services

    cypher("CREATE (:Destination {id: 'old', name: 'old', kind: 'http', location: $location, "
           "headers: $headers, secret: $secret, batchSize: 10, createdAt: 1, updatedAt: 1})",
           location="http://127.0.0.1:9/hook", secret=SECRET,
           headers=json.dumps({"Authorization": TOKEN, "X-Partner": "p-123"}))
    settings = settings_for(neo4j_server, secrets_key=KEY)
    graph = graph_for(settings, start_local=False)
    try:
        await apply_schema(graph)
        activation = Services.build(settings, graph).activation
        await activation.run_due(now_ms())
        node = stored(cypher)
        assert_sealed(node)
        opened = await activation.destinations.for_delivery("old")
        assert (opened.secret, opened.headers["Authorization"]) == (SECRET, TOKEN)
    finally:
        await graph.close()
