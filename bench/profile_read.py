"""Benchmark: latency of `profile(identity) { attributes identities }` over HTTP against the floor,
the bare driver reading the same data with one Cypher query.

Loads N small profiles (a CRM id and an e-mail, one CRM record, every tenth also a web record)
with UNWIND batches through the bare driver into its own managed Neo4j, serves the API with
uvicorn in a separate process, then times sequential reads of random identities.
Run: `python -m bench.profile_read --profiles 1000000 --max-load-seconds 900`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import neo4j

from bench.common import Figure, Timer, auth_of, percentile, write_figures, write_report
from idgraph.config import Settings
from idgraph.db import local_server
from idgraph.profile.repository import VIEW_BY_IDENTITY

PORT = 17796
STATE_DIR = ".idgraph/neo4j-bench-profile"  # its own: other benchmarks wipe theirs
LOAD = """
UNWIND $rows AS row
CREATE (p:Profile {id: row.pid, size: 2, primaryKey: row.crm, createdAt: row.ts,
                   updatedAt: row.ts})
CREATE (a:Identity {key: row.crm, namespace: 'crm', value: row.cv, firstSeen: row.ts,
                    lastSeen: row.ts})-[:IN_PROFILE]->(p)
CREATE (b:Identity {key: row.email, namespace: 'email', value: row.ev, firstSeen: row.ts,
                    lastSeen: row.ts})-[:IN_PROFILE]->(p)
CREATE (a)-[:LINK {source: 'crm', status: 'active', firstSeen: row.ts, lastSeen: row.ts,
                   count: 1, firstRecordId: row.i, lastRecordId: row.i}]->(b)
CREATE (r:Record {key: 'crm|' + row.i, source: 'crm', recordId: row.i, ts: row.ts,
                  attributes: row.crmAttrs})
CREATE (r)-[:KEYED_BY]->(a), (r)-[:KEYED_BY]->(b)
FOREACH (attrs IN row.webAttrs |
  CREATE (:Record {key: 'web|' + row.i, source: 'web', recordId: row.i, ts: row.ts + 1000,
                   attributes: attrs})-[:KEYED_BY]->(b))
"""
# Front-ends call with an `app` key (keyless loopback admin is a development mode).
APP_KEY = "bench-front-end-key-0123456789abcdef"
GRAPHQL = """query P($identity: IdentityInput!) {
  profile(identity: $identity) { attributes identities { namespace value } } }"""


def rows(start: int, count: int) -> list[dict]:
    out = []
    for i in range(start, start + count):
        crm_attrs = {"name": f"Person {i}", "tier": ["gold", "silver", "bronze"][i % 3],
                     "address": {"city": f"City {i % 500}", "zip": f"{i % 100000:05d}"}}
        web = [json.dumps({"tier": "web", "address": {"city": "Web"}})] if i % 10 == 0 else []
        out.append({"i": str(i), "pid": f"p{i:08d}", "crm": f"crm:C{i}", "cv": f"C{i}",
                    "email": f"email:p{i}@x.com", "ev": f"p{i}@x.com",
                    "ts": 1_700_000_000_000 + i, "crmAttrs": json.dumps(crm_attrs),
                    "webAttrs": web})
    return out


def load(driver: neo4j.Driver, target: int, max_seconds: float, batch: int = 10_000) -> int:
    """Load profiles up to `target` (resuming an earlier load); stop at the time budget."""
    have = driver.execute_query("MATCH (p:Profile) RETURN count(p) AS n").records[0]["n"]
    started = time.monotonic()
    while have < target and time.monotonic() - started < max_seconds:
        size = min(batch, target - have)
        driver.execute_query(LOAD, rows=rows(have, size))
        have += size
        if have % 100_000 == 0:
            print(f"  {have:,} profiles, {time.monotonic() - started:.0f} s", flush=True)
    return have


def ensure_views(uri: str, loaded: int) -> None:
    """The bare load writes no materialised views; build them with the product's own code."""
    import asyncio

    from idgraph.config import Settings
    from idgraph.db.graph import Graph
    from idgraph.services import Services

    with _driver(uri) as driver:
        views = driver.execute_query("MATCH (v:ProfileView) RETURN count(v) AS n").records[0]["n"]
    if views >= loaded:
        return

    async def run() -> int:
        graph = Graph(uri, auth_of(Path(STATE_DIR)), "neo4j", timeout=600)
        try:
            job = await Services.build(Settings(), graph).profiles.rebuild_views_now()
            return job.done
        finally:
            await graph.close()

    with Timer() as t:
        count = asyncio.run(run())
    print(f"materialised {count:,} profile views in {t.seconds:.0f} s", flush=True)


# Reads everything a profile read touches once (the identity key index, identities, profiles,
# views), so that every path is timed against a warm page cache: just after a start most reads
# went to disk, which slowed the floor most and flattered the ratios.
WARM_PAGE_CACHE = [
    "MATCH (i:Identity) WHERE i.key >= '' RETURN count(i) AS n",
    "MATCH (i:Identity)-[:IN_PROFILE]->(p:Profile) OPTIONAL MATCH (p)-[:VIEW]->(v:ProfileView) "
    "RETURN count(v._json) + count(v._stitched) + count(i.value) + count(i.lastSeen) "
    "+ count(p.primaryKey) AS n",
]


def warm_page_cache(driver: neo4j.Driver) -> None:
    with Timer() as t:
        for statement in WARM_PAGE_CACHE:
            driver.execute_query(statement)
    print(f"page cache warmed in {t.seconds:.0f} s", flush=True)


def _driver(uri: str) -> neo4j.Driver:
    # Same driver settings as the app's Graph: no notifications shipped with every result.
    return neo4j.GraphDatabase.driver(uri, auth=auth_of(Path(STATE_DIR)),
                                      notifications_min_severity="OFF")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(uri: str, **env_overrides: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    password = (auth_of(Path(STATE_DIR)) or ("", ""))[1]
    env = {**os.environ, "NEO4J_URI": uri, "NEO4J_PASSWORD": password,
           "IDGRAPH_API_KEYS": f"{APP_KEY}:app",
           "IDGRAPH_RATE_LIMIT_PER_MINUTE": "1e12",
           "IDGRAPH_RATE_LIMIT_BURST": "1000000000", **env_overrides}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory",
                             "idgraph.api.http.app:create_app", "--port", str(port),
                             "--no-access-log", "--log-level", "warning"], env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("API did not start")


class LeanHttpClient:
    """A keep-alive HTTP/1.1 client that sends a prepared request and reads the response by its
    content-length, as a native client (a browser, a load generator) does. The standard
    library's http.client spends ~0.2 ms of CPU per request of its own on this machine (header
    parsing through the email package), and that time is the client's, not the API's; both
    are measured (bench/results/profile_read.md)."""

    def __init__(self, url: str) -> None:
        self.address = url[len("http://"):].split(":")
        host, port = self.address
        self.head = (f"POST /graphql HTTP/1.1\r\nhost: {host}:{port}\r\n"
                     f"content-type: application/json\r\nauthorization: Bearer {APP_KEY}\r\n"
                     ).encode()
        self._connect()

    def _connect(self) -> None:
        self.sock = socket.create_connection((self.address[0], int(self.address[1])))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""

    def post(self, body: bytes) -> bytes:
        try:
            return self._exchange(body)
        except ConnectionError:  # the server closed an idle keep-alive connection (after 5 s)
            self.sock.close()
            self._connect()
            return self._exchange(body)

    def _exchange(self, body: bytes) -> bytes:
        self.sock.sendall(self.head + b"content-length: %d\r\n\r\n" % len(body) + body)
        data = self.pending
        while b"\r\n\r\n" not in data:
            data += self._recv()
        head, _, data = data.partition(b"\r\n\r\n")
        status = head[9:12]
        length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
        while len(data) < length:
            data += self._recv()
        self.pending = data[length:]
        if status != b"200":
            raise RuntimeError(f"HTTP {status.decode()}: {data[:length]!r}")
        return data[:length]

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk


def time_calls(call, keys: list[str]) -> list[float]:
    samples = []
    for key in keys:
        with Timer() as t:
            call(key)
        samples.append(t.seconds * 1000)
    return samples


PATHS = {
    "managed": "bare driver, `execute_query` (managed transaction: the driver's default)",
    "auto": "bare driver, auto-commit `session.run` (one round trip: the floor)",
    "api": "GraphQL over HTTP, precompiled profile read (the default)",
    "api_stdlib": "the same, measured with the standard library's `http.client` as the client",
    "general": "GraphQL over HTTP, general executor (`IDGRAPH_FAST_PROFILE_READS=false`)",
}


def measure(driver: neo4j.Driver, urls: dict[str, str], loaded: int,
            n: int) -> dict[str, list[float]]:
    rng = random.Random(11)
    keys = [f"{rng.choice(['crm:C', 'email:p'])}{rng.randrange(loaded)}" for _ in range(n)]
    keys = [k + "@x.com" if k.startswith("email") else k for k in keys]
    params = {"withFragments": False, "withView": True, "policies": []}

    # The same statement the API sends for this selection: identities + materialised view.
    def managed(key: str) -> None:
        records = driver.execute_query(VIEW_BY_IDENTITY, key=key, **params,
                                       routing_=neo4j.RoutingControl.READ).records
        assert records and records[0]["viewJson"]

    session = driver.session(default_access_mode=neo4j.READ_ACCESS)

    def auto(key: str) -> None:
        records = session.run(VIEW_BY_IDENTITY, key=key, **params).data()
        assert records and records[0]["viewJson"]

    def request(key: str) -> bytes:
        namespace, value = key.split(":", 1)
        return json.dumps({"query": GRAPHQL, "variables": {
            "identity": {"namespace": namespace, "value": value}}}).encode()

    def check(body: dict) -> None:
        assert body["data"]["profile"]["attributes"], body

    def lean(url: str):
        client = LeanHttpClient(url)
        return lambda key: check(json.loads(client.post(request(key))))

    stdlib = http.client.HTTPConnection(*urls["api"][len("http://"):].split(":"))

    def stdlib_post(key: str) -> bytes:
        stdlib.request("POST", "/graphql", request(key), {
            "content-type": "application/json", "authorization": f"Bearer {APP_KEY}"})
        return stdlib.getresponse().read()

    def api_stdlib(key: str) -> None:
        try:
            body = stdlib_post(key)
        except ConnectionError:  # the server closed an idle keep-alive connection (after 5 s)
            stdlib.close()
            body = stdlib_post(key)
        check(json.loads(body))

    calls = {"managed": managed, "auto": auto, "api": lean(urls["api"]),
             "api_stdlib": api_stdlib, "general": lean(urls["general"])}
    for call in calls.values():  # warm every path (page cache, plans, connections)
        time_calls(call, keys[: n // 4])
    results: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    # Interleaved, so drift hits every path alike, in an order that turns each round, so that
    # every path follows every other equally often: the first reads after a switch are slower
    # (a process that sat idle), and in a fixed order one path always came first after the floor.
    for turn, start in enumerate(range(0, n, 100)):
        shift = turn % len(names)
        for name in names[shift:] + names[:shift]:
            results[name] += time_calls(calls[name], keys[start:start + 100])
    session.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--max-load-seconds", type=float, default=900)
    parser.add_argument("--reads", type=int, default=4000)
    args = parser.parse_args()
    cfg = local_server.LocalServerConfig(
        version=Settings().local_neo4j_version, bolt_port=PORT,
        state_dir=Path(STATE_DIR), cache_dir=Settings().local_neo4j_cache_dir,
        heap="2g", pagecache="3g", start_timeout=180)
    uri = local_server.start(cfg, log=print)
    proc, url = serve(uri)  # applies the schema (constraints) before the load
    general, general_url = serve(uri, IDGRAPH_FAST_PROFILE_READS="false")
    try:
        with _driver(uri) as driver, Timer() as load_time:
            loaded = load(driver, args.profiles, args.max_load_seconds)
        print(f"loaded {loaded:,} profiles in {load_time.seconds:.0f} s", flush=True)
        ensure_views(uri, loaded)
        with _driver(uri) as driver:
            warm_page_cache(driver)
            results = measure(driver, {"api": url, "general": general_url}, loaded,
                              args.reads)
    finally:
        for server in (proc, general):
            server.terminate()
            server.wait(30)
    report(loaded, args, results, load_time.seconds)


def report(loaded: int, args, results: dict[str, list[float]], load_seconds: float) -> None:
    lines = [f"Profiles in the graph: **{loaded:,}** (asked for {args.profiles:,}; load budget "
             f"{args.max_load_seconds:.0f} s, this run loaded for {load_seconds:.0f} s).",
             f"Reads: {args.reads} random identities each way, sequential, interleaved in runs "
             f"of 100 (the order of the paths turning each round), after a warm-up of "
             f"{args.reads // 4}, on a warm page cache. uvicorn, 1 worker. The HTTP paths are "
             "timed with a lean keep-alive client (`LeanHttpClient`: a prepared request, the "
             "response read by its content-length); `api_stdlib` times the same server with "
             "`http.client`.", "",
             "| path | p50 ms | p90 ms | p99 ms | max ms |", "| --- | --- | --- | --- | --- |"]
    for name, label in PATHS.items():
        s = results[name]
        lines.append(f"| {label} | {percentile(s, 50):.2f} | {percentile(s, 90):.2f} | "
                     f"{percentile(s, 99):.2f} | {max(s):.2f} |")
    lines += ["", "| ratio | p50 | p99 |", "| --- | ---: | ---: |"]
    for api, floor in (("api", "auto"), ("api", "managed"), ("api_stdlib", "auto"),
                       ("general", "auto")):
        lines.append(f"| {api} / {floor} | "
                     f"{percentile(results[api], 50) / percentile(results[floor], 50):.2f}x | "
                     f"{percentile(results[api], 99) / percentile(results[floor], 99):.2f}x |")
    lines += ["", "Goal: p99 <= 10 ms and within 2x of the floor."]
    path = write_report("profile_read", "Profile read latency", lines)
    print(path.read_text())
    floor = {pct: percentile(results["auto"], pct) for pct in (50, 99)}
    api = {pct: percentile(results["api"], pct) for pct in (50, 99)}
    write_figures("profile_read", [
        Figure(f"profile read p50 at {loaded:,} profiles", api[50], "ms", floor[50],
               api[50] / floor[50]),
        Figure(f"profile read p99 at {loaded:,} profiles", api[99], "ms", floor[99],
               api[99] / floor[99], "ratio <= 2"),
        Figure(f"profile read p99 at {loaded:,} profiles, absolute", api[99], "ms",
               goal="value <= 10"),
    ], {"profiles": loaded, "reads": args.reads})


if __name__ == "__main__":
    main()
