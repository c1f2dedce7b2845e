"""Benchmark: the time from `ingest` returning to the `audienceMembership` event reaching a
subscriber (issue #16). Not a test; writes bench/results/membership_latency.md and the figures
(bench/results/membership_latency.json, for bench/performance.py).

Two `idgraph serve` processes (A and B) share the benchmark's own managed Neo4j, with an admin
API key. A streaming segment `tier = "gold"` is created through A; one subscriber connects to A
and one to B over graphql-transport-ws (the key in `connection_init`). Then, N times, one at a
time, a record of a new person with `tier: gold` is ingested through A over HTTP, and the time
from the HTTP response's arrival to each subscriber's REALIZED event is taken (the clock of this
one client process, so no clock skew). A is the process that committed: it publishes to its own
subscribers at once; B learns of the change from the outbox in Neo4j, read every
`IDGRAPH_FEED_POLL_SECONDS` (0.1 s; docs/scaling.md). An event may arrive before the HTTP
response (the response is serialised and sent after the commit's publication): a negative
latency, reported as it is.

    .venv/bin/python -m bench.membership_latency [--n 200] [--port 17761]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx
import neo4j
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.common import (
    RESULTS,
    Figure,
    auth_of,
    bench_server,
    percentile,
    wipe,
    write_figures,
)
from bench.load import free_port

KEY = "bench-admin-key-0123456789abcdef"
HEADERS = {"Authorization": f"Bearer {KEY}"}
INGEST = "mutation($r: [RecordInput!]) { ingest(records: $r) { accepted rejected } }"
CREATE = """mutation($i: SegmentInput!) { createSegment(input: $i) { id streaming } }"""
AUDIENCE = "subscription($id: ID!) { audienceMembership(segmentId: $id) { profileId status } }"


def start(uri: str, password: str) -> tuple[subprocess.Popen[bytes], str]:
    """`idgraph serve` on a free port against `uri`; (process, base URL) once ready."""
    port = free_port()
    env = {**os.environ, "NEO4J_URI": uri, "NEO4J_PASSWORD": password,
           "IDGRAPH_API_KEYS": f"{KEY}:admin", "IDGRAPH_LOG_FORMAT": "json",
           "IDGRAPH_API_PROCESSES": "2", "IDGRAPH_RATE_LIMIT_PER_MINUTE": "100000000",
           "IDGRAPH_RATE_LIMIT_BURST": "100000", "IDGRAPH_SEGMENT_SCHEDULE_SECONDS": "0",
           "IDGRAPH_ACTIVATION_SCHEDULE_SECONDS": "0"}
    process = subprocess.Popen([sys.executable, "-m", "idgraph", "serve", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("idgraph serve did not start")


def record(n: int, run: str) -> dict[str, object]:
    return {"source": "crm", "recordId": f"lat-{run}-{n}", "timestamp": "2026-01-01T12:00:00Z",
            "identities": [{"namespace": "crm", "value": f"LAT-{run}-{n}"},
                           {"namespace": "email", "value": f"lat{n}.{run}@example.com"}],
            "attributes": {"tier": "gold"}}


async def subscribe(url: str) -> ClientConnection:
    ws = await connect(url.replace("http://", "ws://") + "/graphql",
                       subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=60)
    await ws.send(json.dumps({"type": "connection_init", "payload": {"apiKey": KEY}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe",
                              "payload": {"query": AUDIENCE, "variables": {"id": "gold"}}}))
    return ws


async def listen(ws: ClientConnection, arrivals: list[tuple[float, str]]) -> None:
    """Every REALIZED event's arrival time (perf_counter) and profile id, in order."""
    async for text in ws:
        message = json.loads(text)
        if message["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))
        elif message["type"] == "next":
            event = message["payload"]["data"]["audienceMembership"]
            if event["status"] == "REALIZED":
                arrivals.append((time.perf_counter(), event["profileId"]))
        elif message["type"] in ("error", "complete"):
            raise RuntimeError(f"subscription ended: {message}")


async def wait_for(arrivals: list[tuple[float, str]], count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(arrivals) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"event {count} did not arrive within {timeout} s")
        await asyncio.sleep(0.001)


async def measure(a: str, b: str, n: int, warm: int
                  ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per subscriber: latencies from the response's arrival, and from the request's sending
    (the whole way, never negative; the ingest round trip under "ingest round trip")."""
    run = datetime.now(UTC).strftime("%H%M%S")
    async with httpx.AsyncClient(timeout=120, headers=HEADERS) as client:
        answer = await client.post(f"{a}/graphql", json={"query": CREATE, "variables": {"i": {
            "name": "Gold", "definition": 'tier = "gold"', "id": "gold"}}})
        assert answer.json()["data"]["createSegment"]["streaming"] is True, answer.text
        sockets = {"same process": await subscribe(a), "other process": await subscribe(b)}
        arrivals: dict[str, list[tuple[float, str]]] = {k: [] for k in sockets}
        listeners = [asyncio.create_task(listen(ws, arrivals[k])) for k, ws in sockets.items()]
        await asyncio.sleep(1.0)  # B registers as a listener of the outbox
        sent: list[float] = []
        returned: list[float] = []
        try:
            for i in range(warm + n):
                body = {"query": INGEST, "variables": {"r": [record(i, run)]}}
                sent.append(time.perf_counter())
                answer = await client.post(f"{a}/graphql", json=body)
                returned.append(time.perf_counter())
                assert answer.json()["data"]["ingest"]["accepted"] == 1, answer.text
                for found in arrivals.values():
                    await wait_for(found, i + 1, 30)
        finally:
            for task in listeners:
                task.cancel()
            for ws in sockets.values():
                await ws.close()
    latencies, whole = {}, {}
    kept = range(warm, warm + n)
    for name, found in arrivals.items():
        assert len({pid for _, pid in found}) == len(found), "an event came twice"
        latencies[name] = [(found[i][0] - returned[i]) * 1000 for i in kept]
        whole[name] = [(found[i][0] - sent[i]) * 1000 for i in kept]
    whole["ingest round trip"] = [(returned[i] - sent[i]) * 1000 for i in kept]
    return latencies, whole


def table(samples_by_name: dict[str, list[float]]) -> list[str]:
    lines = ["| subscriber | n | p50 ms | p99 ms | max ms | min ms |",
             "|---|---|---|---|---|---|"]
    for name, samples in samples_by_name.items():
        lines.append(f"| {name} | {len(samples)} | {percentile(samples, 50):.1f} | "
                     f"{percentile(samples, 99):.1f} | {max(samples):.1f} | "
                     f"{min(samples):.1f} |")
    return lines


def report(latencies: dict[str, list[float]], whole: dict[str, list[float]],
           args: argparse.Namespace, load: tuple[float, ...]) -> list[str]:
    lines = [
        "# Latency from `ingest` returning to `audienceMembership` reaching a subscriber", "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} cores), benchmark's own managed Neo4j (heap {args.heap}). "
        f"Load average before / after: {load[0]:.1f} / {load[1]:.1f} (the machine is shared "
        "with other agents' tests and benchmarks: the figures carry that load).", "",
        f"{args.n} one-record `ingest` calls over HTTP to API process A, one at a time (after "
        f"{args.warm} warm-up calls), each making a new person enter the streaming segment "
        '`tier = "gold"`. Time from the HTTP response\'s arrival to the REALIZED event\'s '
        "arrival on a graphql-transport-ws subscription (with an API key) to A (same process) "
        "and to a second `idgraph serve` process B on the same Neo4j (the change reaches it "
        "through the outbox, polled every IDGRAPH_FEED_POLL_SECONDS = 0.1 s). Negative: the "
        "event arrived before the HTTP response.", "", "## From `ingest` returning", "",
        *table(latencies), "", "## From the `ingest` request being sent (the whole way)", "",
        "The ingest's own round trip for comparison: the event follows the commit, which "
        "precedes the response.", "", *table(whole)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--port", type=int, default=17761)
    parser.add_argument("--heap", default="1g")
    args = parser.parse_args()
    uri = bench_server(port=args.port, heap=args.heap, pagecache="512m")
    auth = auth_of()
    assert auth is not None
    with neo4j.GraphDatabase.driver(uri, auth=auth) as driver:
        wipe(driver)
    load_before = os.getloadavg()[0]
    a, a_url = start(uri, auth[1])
    b, b_url = start(uri, auth[1])
    try:
        latencies, whole = asyncio.run(measure(a_url, b_url, args.n, args.warm))
    finally:
        for process in (a, b):
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    lines = report(latencies, whole, args, (load_before, os.getloadavg()[0]))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "membership_latency.md").write_text("\n".join(lines) + "\n")
    figures = [Figure(f"membership latency p{pct}, {name}",
                      round(percentile(samples, pct), 1), "ms")
               for name, samples in latencies.items() for pct in (50, 99)]
    figures += [Figure(f"membership latency max, {name}", round(max(samples), 1), "ms")
                for name, samples in latencies.items()]
    figures += [Figure(f"membership latency from the request p{pct}, {name}",
                       round(percentile(samples, pct), 1), "ms")
                for name, samples in whole.items() for pct in (50, 99)]
    write_figures("membership_latency", figures,
                  {"n": args.n, "load_average": [load_before, os.getloadavg()[0]],
                   "feed_poll_seconds": 0.1})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
