"""Exports over GraphQL against real components: Parquet on a real S3-compatible server
(moto's server mode) read back with pyarrow, files on the local disk, and an HTTP receiver on
a loopback port that fails the first attempts, checks signatures and honours idempotency keys.
Memberships come from batch evaluation (evaluateSegment)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import fsspec
import pyarrow.parquet as pq
import pytest
from cryptography.fernet import Fernet

from idgraph.api.graphql.permissions import Role
from tests.activation_helpers import (
    ACTIVATE,
    SECRET,
    START_EXPORT,
    Receiver,
    destination,
    finished_run,
    serve_receiver,
    warm_up,
)
from tests.activation_helpers import RUN_ACTIVATION as RUN_A
from tests.api_support import KEY_SPEC, KEYS, codes
from tests.conftest import GraphQLClient, LiveServer, free_port, settings_for
from tests.identity_helpers import ingest, record
from tests.segment_helpers import create, evaluate, person, wait_job

BUCKET = "exports"
S3_KEY = {"key": "testing", "secret": "testing"}


@pytest.fixture(scope="module")
def s3_url():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    fs = fsspec.filesystem("s3", endpoint_url=url, skip_instance_cache=True, **S3_KEY)
    fs.mkdir(BUCKET)
    yield url
    server.stop()


@pytest.fixture(scope="module")
def receiver_box():
    box = [Receiver()]
    port = free_port()
    server = serve_receiver(lambda: box[0], port)
    yield box, port
    server.shutdown()


@pytest.fixture(scope="module")
def export_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("exports")


@pytest.fixture(scope="module")
def api(neo4j_server, s3_url, receiver_box, export_root):
    _, port = receiver_box
    options = {"s3": {"endpoint_url": s3_url, **S3_KEY}}
    settings = settings_for(
        neo4j_server, open_loopback=False, api_keys=KEY_SPEC,
        export_allow=f"{export_root},s3://{BUCKET}/,http://127.0.0.1:{port}/",
        export_storage_options=json.dumps(options), export_http_backoff=0.01,
        export_http_backoff_cap=0.05, export_max_batch=1000, activation_schedule_seconds=0,
        neo4j_query_timeout=120,  # a loaded machine: the first writes are slow
        # The module's ~150 requests by one key outran the default budget (burst 100, 600 a
        # minute) on a quiet machine: limits are tested elsewhere (tests/test_api_limits*).
        rate_limit_per_minute=60_000.0, rate_limit_burst=10_000,
        secrets_key=Fernet.generate_key().decode())  # NEO4J_URI given: secrets need a key
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


def hook(receiver_box) -> str:
    return f"http://127.0.0.1:{receiver_box[1]}/hook"


def gold_people(gql, n: int) -> dict[int, str]:
    return {i: person(gql, i, tier="gold") for i in range(1, n + 1)}


def test_a_segment_goes_to_s3_as_parquet_and_reads_back_the_same(gql, s3_url):
    one, two = person(gql, 1, tier="gold", score=7), person(gql, 2, tier="gold")
    person(gql, 3, tier="silver")
    # Gold, but no email: skipped when only email is sent.
    ingest(gql, [record("r9", "crm:C9", attributes={"tier": "gold"})])
    create(gql, "Gold", 'tier = "gold"', id="gold")
    evaluate(gql, "gold")
    dest = destination(gql, name="lake", location=f"s3://{BUCKET}/gold/{{run}}.parquet")
    assert dest["kind"] == "FILE" and dest["format"] == "PARQUET"

    run = gql(START_EXPORT, {"input": {"destinationId": dest["id"], "segmentId": "gold",
                                       "namespaces": ["email"],
                                       "attributes": ["tier", "score"]}})["startExport"]
    done = finished_run(gql, run)
    assert done["counts"] == {"exported": 2, "skipped": 1, "realized": 2, "existing": 0,
                              "exited": 0, "batches": 1}
    assert done["location"] == f"s3://{BUCKET}/gold/{run['id']}.parquet"

    fs = fsspec.filesystem("s3", endpoint_url=s3_url, skip_instance_cache=True, **S3_KEY)
    with fs.open(done["location"], "rb") as f:
        table = pq.read_table(f)
    assert not fs.exists(done["location"] + ".partial")
    assert table.column_names == ["profile_id", "status", "changed_at", "identity.email",
                                  "attribute.tier", "attribute.score"]
    rows = {r["profile_id"]: r for r in table.to_pylist()}
    assert {pid: (r["status"], r["identity.email"], r["attribute.tier"])
            for pid, r in rows.items()} == {
        one: ("realized", ["c1@example.com"], "gold"),
        two: ("realized", ["c2@example.com"], "gold")}
    assert rows[one]["attribute.score"] == "7" or rows[one]["attribute.score"] == 7.0


def test_every_profile_with_its_segments_to_local_jsonl_and_csv(gql, export_root):
    one = person(gql, 1, tier="gold")
    two = person(gql, 2, tier="silver")
    create(gql, "Gold", 'tier = "gold"', id="gold")
    evaluate(gql, "gold")
    for ext in ("jsonl", "csv"):
        dest = destination(gql, name=f"bi-{ext}", location=f"{export_root}/bi/all.{ext}")
        run = gql(START_EXPORT, {"input": {"destinationId": dest["id"],
                                           "namespaces": ["crm", "email"],
                                           "attributes": ["tier"]}})["startExport"]
        assert finished_run(gql, run)["counts"]["exported"] == 2
    lines = (export_root / "bi" / "all.jsonl").read_text().splitlines()
    assert sorted((json.loads(x) for x in lines), key=lambda r: r["profileId"]) == sorted([
        {"profileId": one, "identities": {"crm": ["C1"], "email": ["c1@example.com"]},
         "attributes": {"tier": "gold"}, "segments": ["gold"]},
        {"profileId": two, "identities": {"crm": ["C2"], "email": ["c2@example.com"]},
         "attributes": {"tier": "silver"}, "segments": []}], key=lambda r: r["profileId"])
    csv_lines = (export_root / "bi" / "all.csv").read_text().splitlines()
    assert csv_lines[0] == "profile_id,identity.crm,identity.email,attribute.tier,segments"
    assert f"{one},C1,c1@example.com,gold,gold" in csv_lines


def _activation(gql, receiver_box, namespaces=("email",), batch=2, mode="FULL",
                headers=None) -> str:
    dest = destination(gql, name="partner", location=hook(receiver_box), secret=SECRET,
                       batchSize=batch, headers=headers or {"X-Partner": "p-123"})
    assert dest["kind"] == "HTTP" and dest["hasSecret"] is True
    return gql(ACTIVATE, {"input": {"segmentId": "gold", "destinationId": dest["id"],
                                    "namespaces": list(namespaces),
                                    "mode": mode}})["activateSegment"]["id"]


def test_http_delivery_retries_signs_and_delivers_every_member_once(gql, receiver,
                                                                    receiver_box):
    people = gold_people(gql, 5)
    create(gql, "Gold", 'tier = "gold"', id="gold")
    evaluate(gql, "gold")
    activation = _activation(gql, receiver_box)
    receiver.failures = [503, 429, 503]

    done = finished_run(gql, gql(RUN_A, {"id": activation})["runActivation"])
    assert done["counts"]["exported"] == 5 and done["counts"]["batches"] == 3
    delivered = receiver.records()
    assert sorted(r["profileId"] for r in delivered) == sorted(people.values())
    assert {r["identities"]["email"][0] for r in delivered} == {
        f"c{i}@example.com" for i in people}
    assert sorted(receiver.batches) == [f"{done['id']}-{n}" for n in range(3)]
    assert receiver.bad_signatures == 0 and sum(receiver.attempts.values()) == 6
    assert all(h["x-partner"] == "p-123" for h in receiver.headers)


def test_incremental_runs_send_exactly_the_realized_and_exited_deltas(gql, receiver,
                                                                      receiver_box):
    people = gold_people(gql, 3)
    create(gql, "Gold", 'tier = "gold"', id="gold")
    evaluate(gql, "gold")
    activation = _activation(gql, receiver_box, mode="INCREMENTAL", batch=100)
    first = finished_run(gql, gql(RUN_A, {"id": activation})["runActivation"])
    assert first["counts"]["realized"] == 3

    person(gql, 2, day=2, tier="silver")
    four = person(gql, 4, tier="gold")
    evaluate(gql, "gold")
    receiver.batches.clear()
    second = finished_run(gql, gql(RUN_A, {"id": activation})["runActivation"])
    assert {r["profileId"]: r["status"] for r in receiver.records()} == {
        four: "realized", people[2]: "exited"}
    assert second["counts"] == {"exported": 2, "skipped": 0, "realized": 1, "existing": 0,
                                "exited": 1, "batches": 1}

    evaluate(gql, "gold")  # nothing changed: members become existing, no news
    receiver.batches.clear()
    third = finished_run(gql, gql(RUN_A, {"id": activation})["runActivation"])
    assert third["counts"]["exported"] == 0 and receiver.records() == []


async def test_a_run_stopped_half_way_resumes_without_sending_a_batch_twice(
        gql, receiver, receiver_box, api):
    from idgraph.db.connect import graph_for
    from idgraph.services import Services

    people = gold_people(gql, 7)
    create(gql, "Gold", 'tier = "gold"', id="gold")
    evaluate(gql, "gold")
    activation = _activation(gql, receiver_box, batch=2)
    receiver.hold_batch = 1  # stored, but the answer never reaches the sender

    # A second process: it runs the export and is stopped while batch 1 is in flight.
    settings = api.app.state.services.settings
    graph = graph_for(settings, start_local=False)
    other = Services.build(settings, graph)
    try:
        job = await other.activation.service.run_activation(activation)
        for _ in range(600):
            if receiver.holding.is_set():
                break
            await asyncio.sleep(0.05)
        assert receiver.holding.is_set()
        await other.jobs.close()  # the process stops: the run fails, resumable
    finally:
        await graph.close()
    receiver.release.set()
    stopped = gql("query($id: ID!) { job(id: $id) { status done } }", {"id": job.id})["job"]
    assert stopped == {"status": "FAILED", "done": 2}

    gql("mutation($id: ID!) { resumeJob(id: $id) { id } }", {"id": job.id})
    assert wait_job(gql, job.id)["status"] == "SUCCEEDED"
    assert sorted(r["profileId"] for r in receiver.records()) == sorted(people.values())
    assert receiver.replays == 1  # batch 1 again, under its key: stored once
    assert receiver.attempts[f"{job.id}-1"] == 2


def test_destinations_and_activations_are_admin_only(gql, api, receiver_box):
    for role in (Role.ANALYST, Role.PARTNER, Role.APP):
        other = GraphQLClient(api.url, {"Authorization": f"Bearer {KEYS[role]}"})
        body = other.post("{ destinations { id } }").json()
        assert codes(body) == ["FORBIDDEN"], body
        body = other.post(START_EXPORT, {"input": {"destinationId": "x"}}).json()
        assert codes(body) == ["FORBIDDEN"]
        other.http.close()


@pytest.mark.parametrize("fields, code", [
    ({"location": "/etc/cron.d/x.csv"}, "DESTINATION_NOT_ALLOWED"),
    ({"location": "file:///etc/passwd.csv"}, "DESTINATION_NOT_ALLOWED"),
    ({"location": "{root}/../escape.csv"}, "DESTINATION_NOT_ALLOWED"),
    ({"location": "s3://someone-elses-bucket/x.parquet"}, "DESTINATION_NOT_ALLOWED"),
    ({"location": "s3://exports/../x/y.parquet"}, "DESTINATION_NOT_ALLOWED"),
    ({"location": "http://169.254.169.254/latest/meta-data"}, "DESTINATION_NOT_ALLOWED"),
    ({"location": "{hook}", "headers": {"X-A": "v\r\nHost: evil"}}, "INVALID_HEADER"),
    ({"location": "{hook}", "headers": {"Host": "evil"}}, "INVALID_HEADER"),
    ({"location": "{hook}", "headers": {"Idempotency-Key": "fixed"}}, "INVALID_HEADER"),
    ({"location": "{hook}", "batchSize": 10_000_000}, "INVALID_INPUT"),
    ({"location": "{hook}", "secret": "short"}, "INVALID_INPUT"),
    ({"location": "{root}/x.{nope}.csv"}, "INVALID_INPUT"),
    ({"location": "{root}/x.txt"}, "INVALID_INPUT"),
])
def test_bad_destinations_are_refused_and_nothing_is_stored(gql, receiver_box, export_root,
                                                            fields, code):
    location = fields["location"].replace("{root}", str(export_root)).replace(
        "{hook}", hook(receiver_box))
    body = gql.post("mutation($i: DestinationInput!) { createDestination(input: $i) { id } }",
                    {"i": {"name": "bad", **fields, "location": location}}).json()
    assert codes(body) == [code], body
    assert gql("{ destinations { id } }")["destinations"] == []


def test_stored_secrets_and_header_values_are_never_returned(gql, receiver_box):
    destination(gql, name="partner", location=hook(receiver_box), secret=SECRET,
                headers={"Authorization": "Bearer partner-token-xyz"})
    response = gql.post("{ destinations { id name location headerNames hasSecret } }")
    assert SECRET not in response.text and "partner-token-xyz" not in response.text
    assert response.json()["data"]["destinations"][0]["headerNames"] == ["Authorization"]
