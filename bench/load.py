"""A bounded load test of mixed traffic against `idgraph serve --workers N` on loopback: 80%
profile reads, 15% ingests, 5% resolves (10 identities each), from a fixed number of clients for
a fixed duration, with 1 and with 2 worker processes. Reports throughput, p50/p99 per operation,
errors, and the service's memory (RSS of the serve process and its workers) before and after.
Not a test; writes bench/results/load.md. Uses the Neo4j of NEO4J_URI (its password in
NEO4J_PASSWORD); the graph is wiped first.

    NEO4J_URI=bolt://127.0.0.1:17741 NEO4J_PASSWORD=... .venv/bin/python -m bench.load \\
        --profiles 2000 --seconds 60 --clients 16
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import neo4j

from bench.common import RESULTS, Figure, percentile, wipe, write_figures

READ = """query($i: IdentityInput!) { profile(identity: $i) { id size
  identities { namespace value } attributes } }"""
INGEST = "mutation($r: [RecordInput!]) { ingest(records: $r) { accepted rejected } }"
RESOLVE = "query($ids: [IdentityInput!]!) { resolve(identities: $ids) { profileId } }"
MIX = (("read", 0.80), ("ingest", 0.15), ("resolve", 0.05))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants (from /proc), in MB."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines()
                          if line.startswith("VmRSS:"))
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


def person(n: int, source: str = "crm", day: int = 1) -> dict:
    return {"source": source, "recordId": f"{source}-{n}-{day}",
            "timestamp": f"2025-01-{day:02d}T12:00:00Z",
            "identities": [{"namespace": "email", "value": f"p{n}@x.com"},
                           {"namespace": "crm", "value": f"C{n}"}],
            "attributes": {"tier": random.choice(("gold", "silver")), "n": n}}


def start(workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "IDGRAPH_OPEN_LOOPBACK": "true", "IDGRAPH_LOG_FORMAT": "json",
           "IDGRAPH_RATE_LIMIT_PER_MINUTE": "100000000", "IDGRAPH_RATE_LIMIT_BURST": "100000"}
    process = subprocess.Popen([sys.executable, "-m", "idgraph", "serve", "--port", str(port),
                                "--workers", str(workers)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("idgraph serve did not start")


async def seed(url: str, profiles: int) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        for first in range(0, profiles, 500):
            records = [person(n) for n in range(first, min(first + 500, profiles))]
            answer = await client.post("/graphql", json={"query": INGEST,
                                                         "variables": {"r": records}})
            assert not answer.json().get("errors"), answer.text


async def client_loop(url: str, profiles: int, until: float, samples: dict[str, list[float]],
                      errors: dict[str, int], rng: random.Random) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        day = 2
        while time.monotonic() < until:
            op = rng.choices([m[0] for m in MIX], [m[1] for m in MIX])[0]
            n = rng.randrange(profiles)
            if op == "read":
                body = {"query": READ, "variables": {"i": {"namespace": "email",
                                                            "value": f"p{n}@x.com"}}}
            elif op == "ingest":
                day = day % 27 + 2
                body = {"query": INGEST, "variables": {"r": [person(n, "web", day)]}}
            else:
                body = {"query": RESOLVE, "variables": {"ids": [
                    {"namespace": "crm", "value": f"C{rng.randrange(profiles)}"}
                    for _ in range(10)]}}
            began = time.perf_counter()
            try:
                answer = await client.post("/graphql", json=body)
                failed = answer.status_code != 200 or bool(answer.json().get("errors"))
            except httpx.HTTPError:
                failed = True
            samples[op].append((time.perf_counter() - began) * 1000)
            errors[op] += failed


async def run(url: str, profiles: int, seconds: float, clients: int) -> dict:
    samples: dict[str, list[float]] = {m[0]: [] for m in MIX}
    errors = {m[0]: 0 for m in MIX}
    until = time.monotonic() + seconds
    await asyncio.gather(*(client_loop(url, profiles, until, samples, errors,
                                       random.Random(c)) for c in range(clients)))
    return {"samples": samples, "errors": errors}


def measure(workers: int, args: argparse.Namespace) -> dict:
    with neo4j.GraphDatabase.driver(os.environ["NEO4J_URI"], auth=(
            "neo4j", os.environ.get("NEO4J_PASSWORD", ""))) as driver:
        wipe(driver)
    process, url = start(workers)
    try:
        asyncio.run(seed(url, args.profiles))
        asyncio.run(run(url, args.profiles, min(10.0, args.seconds), args.clients))  # warm-up
        before = rss_mb(process.pid)
        found = asyncio.run(run(url, args.profiles, args.seconds, args.clients))
        found["rss"] = (before, rss_mb(process.pid))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    return found


def report(results: dict[int, dict], args: argparse.Namespace) -> list[str]:
    lines = [f"# Mixed load ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", "",
             f"{args.profiles} profiles, {args.clients} clients, {args.seconds:.0f} s after a "
             "warm-up, loopback; 80% profile reads, 15% one-record ingests, 5% resolves of 10.",
             f"Machine: {os.cpu_count()} cores; load average at the end "
             f"{os.getloadavg()[0]:.1f} (other work on the machine counts against the figures).",
             "", "| workers | op | n | per s | p50 ms | p99 ms | errors |",
             "|---|---|---|---|---|---|---|"]
    for workers, found in results.items():
        for op, samples in found["samples"].items():
            if samples:
                lines.append(f"| {workers} | {op} | {len(samples)} | "
                             f"{len(samples) / args.seconds:.1f} | {percentile(samples, 50):.1f}"
                             f" | {percentile(samples, 99):.1f} | {found['errors'][op]} |")
        before, after = found["rss"]
        lines.append(f"| {workers} | memory (RSS, MB) | before {before:.0f} | after {after:.0f} "
                     "| | | |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    results = {workers: measure(workers, args) for workers in args.workers}
    text = "\n".join(report(results, args)) + "\n"
    (RESULTS / "load.md").write_text(text)
    print(text)
    write_figures("load", figures(results, args.seconds),
                  {"profiles": args.profiles, "clients": args.clients, "seconds": args.seconds})


def figures(results: dict[int, dict], seconds: float) -> list[Figure]:
    """Per worker count: throughput, p99 per operation, errors (goal none) and the service's
    memory growth after warm-up (goal: none beyond noise, within 10% of RSS before)."""
    out = []
    for workers, found in results.items():
        on = f"mixed load, {workers} worker{'s' if workers > 1 else ''}"
        samples = found["samples"]
        out.append(Figure(f"{on}: throughput", sum(map(len, samples.values())) / seconds,
                          "requests/s"))
        out += [Figure(f"{on}: {op} p99", percentile(s, 99), "ms")
                for op, s in samples.items() if s]
        out.append(Figure(f"{on}: errors", sum(found["errors"].values()), "",
                          goal="value == 0"))
        before, after = found["rss"]
        out.append(Figure(f"{on}: memory after / before", after / before, "x",
                          goal="value <= 1.1"))
    return out


if __name__ == "__main__":
    main()
