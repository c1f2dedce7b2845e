"""Faults, against a managed Neo4j of this module's own (its own port and state directory), so
killing it disturbs no other test: Neo4j killed during a file ingest, restarted, the same
ingest run again, ends exactly like a clean single run (nothing lost, nothing doubled); the
idgraph process killed mid-ingest and run again, likewise; Neo4j restarted while the API
serves: reads fail with a typed, retryable error, then recover without restarting idgraph."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest

from tests.conftest import (
    REPO,
    TEST_BOLT_PORT,
    GraphQLClient,
    LiveServer,
    Neo4jServer,
    free_port,
    managed_test_config,
    settings_for,
    wipe,
)
from tests.identity_helpers import PROFILE, ident
from tests.test_ingest_concurrency import graph_state

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def faults() -> Iterator[tuple[object, Neo4jServer]]:
    """A managed Neo4j for this module alone, stopped at the end."""
    from idgraph.db import local_server

    cfg = managed_test_config(free_port(), REPO / ".idgraph" / f"neo4j-faults-{TEST_BOLT_PORT}")
    uri = local_server.start(cfg, log=lambda msg: print(msg, flush=True))
    yield cfg, Neo4jServer(uri, cfg.auth, "managed local (faults)")
    local_server.stop(cfg)


@pytest.fixture
def db(faults) -> Iterator[neo4j.Driver]:
    _, server = faults
    with neo4j.GraphDatabase.driver(server.uri, auth=server.auth) as driver:
        wipe(driver)
        yield driver


def cypher_on(driver: neo4j.Driver):
    def run(query: str, **params):
        with driver.session() as session:
            return [record.data() for record in session.run(query, params)]
    return run


def people(count: int = 300, seed: int = 5) -> list[dict]:
    """Records of 80 people (CRM id, e-mail, cookies, now and then a shared device) and their
    purchases: merges, refused links and events, in many small batches."""
    rng = random.Random(seed)
    out: list[dict] = []
    for n in range(count):
        p = rng.randrange(80)
        pool = [("crm", f"C{p}"), ("email", f"p{p}@x.com"), ("ecid", f"k{p}a"), ("ecid", f"k{p}b")]
        chosen = rng.sample(pool, rng.choice((1, 2, 3)))
        if rng.random() < 0.1:
            chosen.append(("device", f"d{rng.randrange(6)}"))
        out.append({"source": rng.choice(("crm", "web", "pos")), "recordId": str(n),
                    "timestamp": f"2025-01-{rng.randrange(1, 29):02d}T12:00:00Z",
                    "identities": [{"namespace": ns, "value": v} for ns, v in chosen],
                    "attributes": {"tier": rng.choice(("gold", "silver")), "n": n}})
        if n % 5 == 0:
            out.append({"source": "web", "eventId": f"e{n}", "type": "purchase",
                        "timestamp": f"2025-01-{rng.randrange(1, 29):02d}T12:00:00Z",
                        "identities": [{"namespace": "crm", "value": f"C{p}"}],
                        "properties": {"amount": n}})
    return out


def state(driver: neo4j.Driver) -> dict:
    """The graph as batching must not change it, plus what counting twice would change."""
    cypher = cypher_on(driver)
    found = graph_state(cypher)
    found["records"] = cypher("MATCH (r:Record) RETURN count(r) AS n")[0]["n"]
    found["events"] = cypher("MATCH (e:Event) RETURN count(e) AS n")[0]["n"]
    found["counters"] = sorted(tuple(r.values()) for r in cypher(
        "MATCH (c:Counter) WITH c.kind AS kind, c.name AS name, sum(c.n) AS n WHERE n <> 0 "
        "RETURN kind, name, n"))
    return found


def ingest_command(server: Neo4jServer, path: Path) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "NEO4J_URI": server.uri,
           "NEO4J_PASSWORD": server.auth[1] if server.auth else "",
           # Fail fast once Neo4j is gone; a slow (shared, loaded) machine is not a fault.
           "IDGRAPH_NEO4J_RETRY_SECONDS": "2", "IDGRAPH_NEO4J_QUERY_TIMEOUT": "300"}
    return ([sys.executable, "-m", "idgraph", "ingest", str(path), "--batch-size", "20",
             "--no-progress"], env)


def ingest_file(server: Neo4jServer, path: Path) -> subprocess.CompletedProcess[str]:
    command, env = ingest_command(server, path)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def started_ingest(server: Neo4jServer, path: Path, driver: neo4j.Driver,
                   records: int) -> subprocess.Popen[str]:
    """An ingest of `path` running in its own process, once `records` records are in."""
    command, env = ingest_command(server, path)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    cypher = cypher_on(driver)
    deadline = time.monotonic() + 300
    while cypher("MATCH (r:Record) RETURN count(r) AS n")[0]["n"] < records:
        assert process.poll() is None, "the ingest ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return process


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("faults") / "people.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in people()))
    return path


@pytest.fixture(scope="module")
def clean_state(faults, data_file) -> dict:
    """The graph after one uninterrupted ingest of the data file (once for the module)."""
    _, server = faults
    with neo4j.GraphDatabase.driver(server.uri, auth=server.auth) as driver:
        wipe(driver)
        done = ingest_file(server, data_file)
        assert done.returncode == 0, done.stderr
        clean = state(driver)
    assert clean["records"] == 300 and clean["events"] == 60 and clean["unplaced"] == 0
    return clean


@pytest.fixture
def clean_run(clean_state, db) -> dict:
    """The clean run's graph, and an empty one to start from (`db`)."""
    return clean_state


def test_neo4j_killed_during_a_file_ingest_then_the_same_ingest_again(faults, db, data_file,
                                                                      clean_run):
    from idgraph.db import local_server

    cfg, server = faults
    process = started_ingest(server, data_file, db, records=40)
    os.kill(local_server.status(cfg).pid, signal.SIGKILL)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode != 0 and "error" in stderr.lower()  # fails, and says so

    local_server.start(cfg, log=print)
    with neo4j.GraphDatabase.driver(server.uri, auth=server.auth) as driver:
        assert state(driver)["records"] < 300  # it really stopped half-way
        done = ingest_file(server, data_file)
        assert done.returncode == 0, done.stderr
        assert state(driver) == clean_run


def test_the_idgraph_process_killed_mid_ingest_then_run_again(faults, db, data_file, clean_run):
    _, server = faults
    process = started_ingest(server, data_file, db, records=40)
    process.kill()
    process.communicate(timeout=60)
    assert state(db)["records"] < 300
    done = ingest_file(server, data_file)
    assert done.returncode == 0, done.stderr
    assert state(db) == clean_run


def read_profile(client: GraphQLClient) -> tuple[int, dict]:
    response = client.post(PROFILE, {"identity": ident("email:a@x.com")})
    return response.status_code, response.json()


def test_neo4j_restarted_while_the_api_serves(faults, db):
    from idgraph.db import local_server

    cfg, server = faults
    with LiveServer(settings_for(server, neo4j_retry_seconds=1)) as api:
        client = GraphQLClient(api.url)
        client("""mutation($r: [RecordInput!]) { ingest(records: $r) { accepted } }""",
               {"r": [{"source": "crm", "recordId": "1", "timestamp": "2025-01-01T12:00:00Z",
                       "identities": [ident("email:a@x.com"), ident("crm:C1")]}]})
        status, body = read_profile(client)
        assert status == 200 and body["data"]["profile"]["size"] == 2

        local_server.stop(cfg)
        status, body = read_profile(client)
        codes = [e["extensions"]["code"] for e in body.get("errors", [])]
        assert codes == ["DATABASE_UNAVAILABLE"], body  # typed: retry later
        assert "retry" in body["errors"][0]["message"]

        local_server.start(cfg, log=print)
        deadline = time.monotonic() + 120
        while True:  # the same idgraph process, back once Neo4j is
            status, body = read_profile(client)
            if status == 200 and not body.get("errors"):
                break
            assert time.monotonic() < deadline, body
            time.sleep(0.5)
        assert body["data"]["profile"]["size"] == 2
        client.http.close()


def test_a_compiled_ingest_answers_neo4j_down_as_the_general_path(faults, db):
    """The compiled ingest (api/graphql/fast_ingest.py) never hands a failed write to the
    general path (a mutation is not run twice): it words the failure as the masking does."""
    from idgraph.db import local_server

    cfg, server = faults
    query = "mutation($r: [RecordInput!]) { ingest(records: $r) { accepted } }"
    records = [{"source": "crm", "recordId": "9", "timestamp": "2025-01-01T12:00:00Z",
                "identities": [ident("email:z@x.com")]}]
    headers = {"x-request-id": "faults-ingest"}
    with LiveServer(settings_for(server, neo4j_retry_seconds=1)) as fast, \
            LiveServer(settings_for(server, neo4j_retry_seconds=1, fast_ingest=False)) as general:
        fast_client, general_client = GraphQLClient(fast.url), GraphQLClient(general.url)
        fast_client(query, {"r": []})  # the general path validates the text
        reads = fast.app.state.graphql.fast_reads
        local_server.stop(cfg)
        try:
            served = reads.served
            answered = fast_client.post(query, {"r": records}, headers=headers)
            assert reads.served == served + 1, "the compiled path answered"
            expected = general_client.post(query, {"r": records}, headers=headers)
            assert (answered.status_code, answered.json()) == (
                expected.status_code, expected.json())
            assert [e["extensions"]["code"] for e in answered.json()["errors"]] == [
                "DATABASE_UNAVAILABLE"], answered.json()
        finally:
            local_server.start(cfg, log=print)
