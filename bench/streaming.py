"""Benchmark: ingest throughput with 0, 10 and 50 active streaming segments (issue #16).

Every write re-evaluates the streaming segments for the profiles it touched, in its own
transaction (segments/streaming.py). The goal: 10 segments cost at most 25% of the throughput
without segments. The same records are ingested with each number of segments, on an emptied
graph each time, through the app's own wiring (`Services.build`); the run without segments is
measured first and last (the server drifts over a run) and its mean is the baseline.
Run: `python -m bench.streaming [--records N] [--port P]`; report in bench/results/streaming.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

import neo4j

from bench.common import Figure, Timer, auth_of, bench_server, wipe, write_figures, write_report
from bench.ingest import _schema, make_records
from idgraph.config import Settings
from idgraph.db.graph import Graph
from idgraph.segments.service import SegmentSpec
from idgraph.services import Services

# Rules of every kind the language has that a write can change: attributes (nested too),
# identities, events in a window, sums, text, negation, composition. Cycled with varied values.
TEMPLATES = [
    'tier = "{tier}"',
    'address.city = "{city}" and not tier = "{tier}"',
    "has email",
    'events(type = "purchase", within {days} days).count() >= 2',
    'name startsWith "P{digit}"',
    'events(type = "purchase").sum(value) > {amount}',
    'identity(namespace = "ecid").count() >= 2',
    'tier in ["{tier}", "bronze"] or address.city = "{city}"',
    'inSegment("s0") and has email',
    'not has email or name endsWith "{digit}"',
]
TIERS, CITIES = ("gold", "silver", "bronze"), ("Oslo", "Bergen", "Tromsø")


def rules(n: int) -> list[str]:
    return [TEMPLATES[k % len(TEMPLATES)].format(
        tier=TIERS[k % 3], city=CITIES[(k // 3) % 3], days=7 * (1 + k % 5), digit=k % 10,
        amount=100 * (1 + k % 4)) for k in range(n)]


async def run(uri: str, records: list[dict], batch: int, segments: int
              ) -> tuple[float, int, int]:
    """Seconds to ingest `records` with `segments` streaming segments; memberships written and
    statements the segment stage ran."""
    graph = Graph(uri, auth_of(), "neo4j", timeout=600)
    services = Services.build(Settings(ingest_batch_size=batch, max_cluster_size=50), graph)
    try:
        for k, rule in enumerate(rules(segments)):
            await services.segments.service.create(SegmentSpec(name=f"S{k}", definition=rule,
                                                               id=f"s{k}"))
        stage = services.pipeline.segments[0]
        with Timer() as t:
            accepted = (await services.identity.ingest(records)).accepted
        assert accepted == len(records), accepted
        rows = await graph.read_plain("MATCH ()-[m:IN_SEGMENT]->() RETURN count(m) AS n")
        return t.seconds, int(rows[0]["n"]), int(getattr(stage, "statements", 0))
    finally:
        await graph.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--port", type=int, default=17790)
    parser.add_argument("--heap", default="2g")
    parser.add_argument("--warm", type=int, default=300, help="records of each warm-up run")
    args = parser.parse_args()
    uri = bench_server(port=args.port, heap=args.heap, pagecache="1g", fresh=True)
    records = make_records(args.records, attributes=True)
    asyncio.run(_schema(uri))
    results: dict[str, tuple[float, int, int]] = {}
    with neo4j.GraphDatabase.driver(uri, auth=auth_of()) as driver:
        # Warm the JIT, the page cache and each count's plan (planned once per list of
        # segments: about a second for 10 rules, tens for 50, on a busy 2-core machine).
        for count in (0, 10, 50):
            asyncio.run(run(uri, records[:args.warm], args.batch, count))
            wipe(driver)
        for label, count in (("0 first", 0), ("10", 10), ("50", 50), ("0 last", 0)):
            results[label] = asyncio.run(run(uri, records, args.batch, count))
            wipe(driver)
            path = write_report("streaming", "Streaming segments: ingest throughput",
                                report(args, results))  # after each run: a slow run shows
    print(path.read_text())
    write_figures("streaming", figures(args.records, results),
                  {"records": args.records, "batch": args.batch})


def figures(n: int, results: dict[str, tuple[float, int, int]]) -> list[Figure]:
    """Throughput with 10 and 50 streaming segments beside the same ingest without any (the
    floor here: idgraph's own baseline, mean of the first and last run)."""
    base = n / statistics.mean(results[k][0] for k in ("0 first", "0 last"))
    return [Figure(f"ingest with {count} streaming segments", n / results[count][0],
                   "records/s", base, n / results[count][0] / base,
                   "ratio >= 0.75" if count == "10" else None)
            for count in ("10", "50")]


def report(args: argparse.Namespace, results: dict[str, tuple[float, int, int]]) -> list[str]:
    bases = [results[k][0] for k in ("0 first", "0 last") if k in results]
    base = sum(bases) / len(bases)
    n = args.records
    lines = [f"{n:,} records with attributes (bench/ingest.py `make_records`), batches of "
             f"{args.batch}, ingested through `Services.build` (every stage of the pipeline); "
             "streaming segments cycle through ten rule kinds (bench/streaming.py "
             "`TEMPLATES`).", "",
             "| streaming segments | seconds | records/s | throughput vs none | memberships "
             "written | segment-stage statements |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for label, (seconds, written, statements) in results.items():
        lines.append(f"| {label} | {seconds:.1f} | {n / seconds:,.0f} | {base / seconds:.2f} | "
                     f"{written:,} | {statements:,} |")
    lines += ["", f"Baseline (no segments): mean of the first and last run ({len(bases)} of "
              f"2 done), {base:.1f} s. "
              "Goal: with 10 segments, throughput >= 0.75 of the baseline."]
    return lines


if __name__ == "__main__":
    main()
