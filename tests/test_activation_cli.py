"""`idgraph export` as a user runs it (a subprocess against the test Neo4j): a segment to a
local Parquet file, then an incremental export after membership changes; every profile to
JSON Lines; the scheduler's round runs due activations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.activation_helpers import warm_up
from tests.conftest import GraphQLClient, LiveServer, settings_for
from tests.segment_helpers import create, evaluate, person


@pytest.fixture(scope="module")
def api(neo4j_server):
    # Its own server for a longer query time limit: on a loaded machine the first writes of
    # a cold Neo4j ran past the default 30 s.
    with LiveServer(settings_for(neo4j_server, neo4j_query_timeout=300)) as server:
        warm_up(server.url)
        yield server


@pytest.fixture
def gql(api, empty_graph):
    client = GraphQLClient(api.url)
    yield client
    client.http.close()


def run_export(neo4j_server, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NEO4J_URI": neo4j_server.uri,
           "NEO4J_PASSWORD": neo4j_server.auth[1] if neo4j_server.auth else "",
           "IDGRAPH_NEO4J_QUERY_TIMEOUT": "120"}
    return subprocess.run([sys.executable, "-m", "idgraph", "export", *args], env=env,
                          capture_output=True, text=True, timeout=600)


def test_a_segment_to_parquet_then_the_delta_from_rule_to_file(gql, neo4j_server, tmp_path):
    one, two = person(gql, 1, tier="gold"), person(gql, 2, tier="gold")
    create(gql, "Gold", 'tier = "gold"', id="gold")
    evaluate(gql, "gold")
    full = tmp_path / "gold.parquet"
    done = run_export(neo4j_server, "--segment", "gold", "--to", str(full), "-n", "email",
                      "-a", "tier")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("exported 2 (2 realized, 0 existing, 0 exited), skipped 0")
    rows = pq.read_table(full).to_pylist()
    assert sorted((r["profile_id"], r["status"], r["identity.email"], r["attribute.tier"])
                  for r in rows) == sorted([(one, "realized", ["c1@example.com"], "gold"),
                                            (two, "realized", ["c2@example.com"], "gold")])

    delta = tmp_path / "delta-{run}.jsonl"
    first = run_export(neo4j_server, "--segment", "gold", "--to", str(delta), "--incremental",
                       "-n", "crm")
    assert first.returncode == 0 and "exported 2" in first.stdout, first.stderr
    person(gql, 1, day=2, tier="silver")
    three = person(gql, 3, tier="gold")
    evaluate(gql, "gold")
    second = run_export(neo4j_server, "--segment", "gold", "--to", str(delta),
                        "--incremental", "-n", "crm")
    assert second.returncode == 0, second.stderr
    written = second.stdout.split(" to ")[1].split(" (run")[0]
    lines = [json.loads(x) for x in Path(written).read_text().splitlines()]
    assert {r["profileId"]: r["status"] for r in lines} == {one: "exited", three: "realized"}


def test_every_profile_to_json_lines_and_bad_options(gql, neo4j_server, tmp_path):
    one = person(gql, 1, tier="gold")
    out = tmp_path / "all.jsonl"
    done = run_export(neo4j_server, "--to", str(out), "-a", "tier")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(r["profileId"], r["attributes"]) for r in rows] == [(one, {"tier": "gold"})]
    refused = run_export(neo4j_server, "--to", str(out), "--incremental")
    assert refused.returncode == 1 and "incremental" in refused.stderr
    refused = run_export(neo4j_server, "--to", str(tmp_path / "x.txt"))
    assert refused.returncode == 1 and "format" in refused.stderr
    refused = run_export(neo4j_server, "--segment", "nope", "--to", str(out))
    assert refused.returncode == 1 and "nope" in refused.stderr


async def test_the_scheduler_runs_due_activations_once(services, tmp_path):
    from idgraph.activation.destinations import DestinationSpec
    from idgraph.activation.service import ActivationSpec, Schedule
    from idgraph.segments.service import SegmentSpec

    activation = services.activation
    await services.segments.service.create(SegmentSpec(name="Gold", definition='tier = "gold"',
                                                       id="gold"))
    activation.destinations.allow = activation.destinations.allow.parse(str(tmp_path))
    dest = await activation.destinations.create(DestinationSpec(
        "files", f"{tmp_path}/{{run}}.jsonl"))
    spec = ActivationSpec("gold", dest.id, ["email"], schedule=Schedule.ON_CHANGE)
    created = await activation.service.activate(spec)
    first = await activation.run_due(10**13)
    assert len(first) == 1  # never run: due
    assert (await services.jobs.wait(first[0].id)).status.value == "succeeded"
    assert await activation.run_due(10**13) == []  # nothing changed since
    interval = await activation.service.activate(ActivationSpec(
        "gold", dest.id, ["email"], schedule=Schedule.INTERVAL, every_seconds=60))
    started = await activation.run_due(10**13)
    assert [j.params["segment"] for j in started] == ["gold"]
    await services.jobs.wait(started[0].id)
    assert await activation.run_due(10**13 + 30_000) == []
    assert len(await activation.run_due(10**13 + 61_000)) == 1
    assert created["id"] != interval["id"]
