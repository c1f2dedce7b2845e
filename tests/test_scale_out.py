"""Several idgraph processes on one Neo4j (docs/scaling.md): two real `idgraph serve` processes;
a subscription on one hears an ingest through the other; a job runs in one process only, and
when that process is killed mid-job another resumes it once its lease has expired, finishing
with every item done once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import GraphQLClient, free_port
from tests.identity_helpers import ingest, record
from tests.materialised_helpers import assert_views_match
from tests.test_live_updates import next_payload, open_socket, subscribe

REBUILD = "mutation { rebuildViews { id status } }"
JOB = "query($id: ID!) { job(id: $id) { status done total error } }"
RESUME = "mutation R($id: ID!) { resumeJob(id: $id) { id status } }"
LEASE_SECONDS = 3


@dataclass
class Process:
    """One `idgraph serve` process on its own port."""

    popen: subprocess.Popen
    url: str

    def client(self) -> GraphQLClient:
        return GraphQLClient(self.url)


def serve(neo4j_server, *options: str, **env_extra: str) -> Process:
    port = free_port()
    env = {**os.environ, "NEO4J_URI": neo4j_server.uri, "IDGRAPH_OPEN_LOOPBACK": "true",
           "NEO4J_PASSWORD": neo4j_server.auth[1] if neo4j_server.auth else "",
           "IDGRAPH_JOB_LEASE_SECONDS": str(LEASE_SECONDS), "IDGRAPH_LOG_FORMAT": "json",
           "IDGRAPH_MAX_ALIASES": "100",  # the views check reads 40 profiles at once
           **env_extra}
    popen = subprocess.Popen([sys.executable, "-m", "idgraph", "serve", "--port", str(port),
                              *options],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=10).status_code == 200:
                return Process(popen, url)
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or popen.poll() is not None:
            popen.kill()
            raise AssertionError("idgraph serve did not start")
        time.sleep(0.2)


def stop(process: Process) -> None:
    if process.popen.poll() is None:
        process.popen.send_signal(signal.SIGTERM)
        try:
            process.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.popen.kill()


@pytest.fixture
def two(neo4j_server, empty_graph) -> Iterator[tuple[Process, Process]]:
    # Small job chunks, so a view rebuild of a few dozen profiles takes many transactions.
    first = serve(neo4j_server, IDGRAPH_JOB_CHUNK_SIZE="1")
    try:
        second = serve(neo4j_server, IDGRAPH_JOB_CHUNK_SIZE="1")
    except BaseException:
        stop(first)
        raise
    yield first, second
    stop(first)
    stop(second)


def wait_for_a_listener(cypher) -> None:
    """Until a process has registered as listening to the feed (in Neo4j)."""
    for _ in range(600):
        if cypher("MATCH (f:ChangeFeed) WHERE f.listenedUntil > timestamp() RETURN f"):
            return
        time.sleep(0.05)
    raise AssertionError("no process registered as listening")


def test_a_subscriber_on_one_process_hears_an_ingest_through_the_other(two, cypher):
    first, second = two
    writer = second.client()
    ingest(writer, [record("1", "email:a@x.com", "ecid:E1", day=1)])
    with open_socket(first) as ws:
        subscribe(ws, "1", "email:a@x.com")
        wait_for_a_listener(cypher)
        ingest(writer, [record("2", "ecid:E1", "crm:C1", day=2)])
        pushed = next_payload(ws)["data"]["profileChanged"]
        assert pushed["kind"] == "UPDATED" and pushed["profile"]["size"] == 3
        assert {"value": "C1"} in pushed["profile"]["identities"]
        ingest(writer, [record("3", "crm:C1", "device:D1", day=3)])  # and the next one
        assert next_payload(ws)["data"]["profileChanged"]["profile"]["size"] == 4


def test_a_job_killed_with_its_process_is_resumed_by_another_and_done_once(two, cypher):
    first, second = two
    ingest(second.client(), [record(str(n), f"crm:C{n}", f"email:p{n}@x.com", day=1,
                                    attributes={"n": n}) for n in range(40)])
    job = first.client()(REBUILD)["rebuildViews"]
    reader = second.client()
    deadline = time.monotonic() + 120
    while (state := reader(JOB, {"id": job["id"]})["job"])["done"] < 2:
        assert state["status"] in ("QUEUED", "RUNNING") and time.monotonic() < deadline, state
        time.sleep(0.05)
    first.popen.kill()  # SIGKILL: no shutdown, the job is left running with a live lease
    first.popen.wait(timeout=30)

    while True:  # refused while the lease lasts, taken once it has expired
        answer = reader.post(RESUME, {"id": job["id"]}).json()
        if not answer.get("errors"):
            break
        assert answer["errors"][0]["extensions"]["code"] == "JOB_NOT_RESUMABLE", answer
        assert time.monotonic() < deadline + 60, "the job never became resumable"
        time.sleep(0.2)
    while (state := reader(JOB, {"id": job["id"]})["job"])["status"] != "SUCCEEDED":
        assert state["status"] in ("QUEUED", "RUNNING") and time.monotonic() < deadline + 120
        time.sleep(0.1)
    assert state["done"] == state["total"] == 40, state  # every chunk counted once
    assert len(assert_views_match(reader, cypher)) == 40


def test_serve_with_two_workers_shares_one_port_and_the_feed(neo4j_server, empty_graph, cypher):
    """`serve --workers 2`: whichever worker holds the WebSocket hears ingests sent through
    new connections, which the kernel hands to either worker."""
    workers = serve(neo4j_server, "--workers", "2")
    try:
        ingest(workers.client(), [record("1", "email:a@x.com", day=1)])
        with open_socket(workers) as ws:
            subscribe(ws, "1", "email:a@x.com")
            wait_for_a_listener(cypher)
            for n in range(2, 6):  # each through a connection of its own
                client = workers.client()
                ingest(client, [record(str(n), "email:a@x.com", f"ecid:E{n}", day=n)])
                client.http.close()
                assert next_payload(ws)["data"]["profileChanged"]["profile"]["size"] == n
    finally:
        stop(workers)
