"""The shared change feed's latency: from a write's commit to its subscriber, on the process that
wrote (woken by its own commit) and on another process (its next poll). Two processes' worth of
services (each its own driver, feed and tailer) in one Python process, on the Neo4j of
NEO4J_URI (or the managed one). Not a test; writes bench/results/feed.md.

    NEO4J_URI=bolt://127.0.0.1:17741 NEO4J_PASSWORD=... .venv/bin/python -m bench.feed --writes 40
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime

from bench.common import RESULTS, Figure, percentile, write_figures
from idgraph.config import Settings
from idgraph.db.connect import graph_for
from idgraph.db.schema import apply_schema
from idgraph.services import Services


async def measure(writes: int) -> dict[str, list[float]]:
    settings = Settings()
    one, other = (Services.build(settings, graph_for(settings, start_local=False))
                  for _ in range(2))
    await apply_schema(one.graph)
    found: dict[str, list[float]] = {"same process": [], "other process": []}
    async with one.changes.subscribe() as mine, other.changes.subscribe() as theirs:
        for n in range(writes):
            record = {"source": "bench", "recordId": f"feed-{time.time_ns()}-{n}",
                      "timestamp": "2025-01-01T12:00:00Z",
                      "identities": [{"namespace": "crm", "value": f"FEED{n}"}]}
            await one.identity.ingest(records=[record])
            committed = time.perf_counter()
            for name, queue in (("same process", mine), ("other process", theirs)):
                await queue.get()
                found[name].append((time.perf_counter() - committed) * 1000)
            await asyncio.sleep(0.05)  # writes spread over the poll interval
    for services in (one, other):
        await services.changes.close()
        await services.graph.close()
    return found


def report(found: dict[str, list[float]], poll: float) -> list[str]:
    lines = [f"# Change feed latency ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", "",
             f"Commit of a one-record ingest to its subscriber; poll interval {poll * 1000:.0f} ms;"
             " the same process's subscriber is measured first, so the other's figure includes"
             " it.", "", "| subscriber | n | p50 ms | p99 ms | max ms |", "|---|---|---|---|---|"]
    for name, samples in found.items():
        lines.append(f"| {name} | {len(samples)} | {percentile(samples, 50):.1f} | "
                     f"{percentile(samples, 99):.1f} | {max(samples):.1f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writes", type=int, default=40)
    args = parser.parse_args()
    found = asyncio.run(measure(args.writes))
    text = "\n".join(report(found, Settings().feed_poll_seconds)) + "\n"
    (RESULTS / "feed.md").write_text(text)
    print(text)
    write_figures("feed", figures(found), {"writes": args.writes,
                                           "poll_seconds": Settings().feed_poll_seconds})


def figures(found: dict[str, list[float]]) -> list[Figure]:
    """Commit-to-subscriber latency per subscriber; no floor (the bare driver has no feed)."""
    return [Figure(f"change feed {name} p{pct}", percentile(samples, pct), "ms")
            for name, samples in found.items() for pct in (50, 99)]


if __name__ == "__main__":
    main()
