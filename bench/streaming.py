"""Benchmark: ingest throughput with 0, 10 and 50 active streaming segments (issue #16).

Every write re-evaluates the streaming segments for the profiles it touched, in its own
transaction (segments/streaming.py). The goal: 10 segments cost at most 25% of the throughput
without segments. The same records are ingested with each number of segments, on an emptied
graph each time, through the app's own wiring (`Services.build`); the run without segments is
measured first and last (the server drifts over a run) and its mean is the baseline.
Run: `python -m bench.streaming [--records N] [--port P]`; report in bench/results/streaming.md.

With `--generated P`, the data is instead P people of `idgraph demo generate` (records and
events of every source, with the generator's traps; events over the year before now, so event
windows hold members) and the rules test the generator's attributes (`GENERATED_TEMPLATES`).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import time
from dataclasses import dataclass

import neo4j

from bench.common import (
    Figure,
    Timer,
    auth_of,
    bench_server,
    bench_server_pid,
    process_cpu_seconds,
    wipe,
    write_figures,
    write_report,
)
from bench.ingest import _schema, make_records
from idgraph.config import Settings
from idgraph.db.graph import Graph
from idgraph.demo.generator import generate
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
# The same ten kinds over what the generator's sources say of a person.
GENERATED_TEMPLATES = [
    'loyaltyTier = "{tier}"',
    'address.country = "{country}" and not gender = "{gender}"',
    "has email",
    'events(type = "commerce.purchase", within {days} days).count() >= 2',
    'firstName startsWith "{letter}"',
    'events(type = "commerce.purchase").sum(value) > {amount}',
    'identity(namespace = "ecid").count() >= 2',
    'loyaltyTier in ["{tier}", "platinum"] or address.country = "{country}"',
    'inSegment("s0") and has email',
    'not has email or events(type = "email.open", within {days} days).exists()',
]
GENERATED_TIERS, COUNTRIES = ("gold", "silver", "basic"), ("SE", "DE", "NO", "US")


def rules(n: int, generated: bool = False) -> list[str]:
    templates = GENERATED_TEMPLATES if generated else TEMPLATES
    tiers = GENERATED_TIERS if generated else TIERS
    return [templates[k % len(templates)].format(
        tier=tiers[k % 3], city=CITIES[(k // 3) % 3], days=7 * (1 + k % 5), digit=k % 10,
        amount=100 * (1 + k % 4), country=COUNTRIES[(k // 3) % 4],
        gender=("female", "male")[k % 2], letter="ABCDEFGHJKLMS"[k % 13])
        for k in range(n)]


@dataclass(frozen=True)
class Data:
    """What one run ingests: records and events (the generator's people have both)."""

    records: list[dict]
    events: list[dict]
    generated: bool

    @property
    def items(self) -> int:
        return len(self.records) + len(self.events)

    def head(self, n: int) -> Data:
        return Data(self.records[:n], self.events[:n], self.generated) if n else self


def generated_data(people: int, seed: int = 1) -> Data:
    """`people` generated people, events in the year before now."""
    records, events = [], []
    for item in generate(people, seed, dt.datetime.now(dt.UTC)):
        (events if item.kind == "event" else records).append(item.item)
    return Data(records, events, True)


@dataclass(frozen=True)
class Run:
    """One ingest of the records: wall seconds, CPU seconds (Neo4j's and this process's, which
    a busy machine stretches far less than wall time), memberships written, and the statements
    the segment stage ran."""

    seconds: float
    cpu: float
    written: int
    statements: int


async def run(uri: str, data: Data, batch: int, segments: int) -> Run:
    """Ingest `data` with `segments` streaming segments defined."""
    graph = Graph(uri, auth_of(), "neo4j", timeout=600)
    services = Services.build(Settings(ingest_batch_size=batch, max_cluster_size=50), graph)
    try:
        for k, rule in enumerate(rules(segments, data.generated)):
            await services.segments.service.create(SegmentSpec(name=f"S{k}", definition=rule,
                                                               id=f"s{k}"))
        stage = services.pipeline.segments[0]
        cpu_before = process_cpu_seconds(bench_server_pid()) + time.process_time()
        with Timer() as t:
            result = await services.identity.ingest(data.records, data.events)
        cpu = process_cpu_seconds(bench_server_pid()) + time.process_time() - cpu_before
        # (the generator's junk values are refused as they should be: they count as ingested)
        assert result.accepted + len(result.rejected) == data.items, result.accepted
        rows = await graph.read_plain("MATCH ()-[m:IN_SEGMENT]->() RETURN count(m) AS n")
        return Run(t.seconds, cpu, int(rows[0]["n"]), int(getattr(stage, "statements", 0)))
    finally:
        await graph.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=5_000)
    parser.add_argument("--generated", type=int, default=0, metavar="PEOPLE",
                        help="ingest this many generated people instead of --records")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--port", type=int, default=17790)
    parser.add_argument("--heap", default="2g")
    parser.add_argument("--warm", type=int, default=0,
                        help="records of each warm-up run (default: all of them)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of 0, 10 and 50 segments (then 0 once more)")
    args = parser.parse_args()
    uri = bench_server(port=args.port, heap=args.heap, pagecache="1g", fresh=True)
    data = (generated_data(args.generated) if args.generated
            else Data(make_records(args.records, attributes=True), [], False))
    args.records = data.items
    asyncio.run(_schema(uri))
    results: dict[str, Run] = {}
    with neo4j.GraphDatabase.driver(uri, auth=auth_of()) as driver:
        # A whole round first, not counted: it warms the JIT, the page cache and each count's
        # plan (planned once per list of segments, on the first write after the list
        # changed). Shorter warm-ups left the first counted round 1.5-3x as costly as the
        # later ones, in CPU seconds too.
        for count in (0, 10, 50):
            asyncio.run(run(uri, data.head(args.warm), args.batch, count))
            wipe(driver)
        for label, count in order(args.rounds):
            results[label] = asyncio.run(run(uri, data, args.batch, count))
            wipe(driver)
            path = write_report("streaming", "Streaming segments: ingest throughput",
                                report(args, results))  # after each run: a slow run shows
    print(path.read_text())
    write_figures("streaming", figures(args.records, results),
                  {"records": args.records, "generated people": args.generated,
                   "batch": args.batch, "rounds": args.rounds,
                   "load average": os.getloadavg()[0]})


def figures(n: int, results: dict[str, Run]) -> list[Figure]:
    """Ingest throughput with 10 and 50 streaming segments beside the same ingest without any
    (the floor here: idgraph's own ingest, measured in the same run)."""
    base = median(results, 0, "seconds")
    found = []
    for count, goal in ((10, "ratio >= 0.75"), (50, None)):
        seconds, ratios = median(results, count, "seconds"), round_ratios(results, count,
                                                                           "seconds")
        if base and seconds and ratios:
            found.append(Figure(f"ingest with {count} streaming segments, records/s",
                                n / seconds, "records/s", n / base, statistics.median(ratios),
                                goal))
    return found


def order(rounds: int) -> list[tuple[str, int]]:
    """Runs alternated, so a server that drifts over the run (warming up, or a busy machine)
    weighs on every count alike: 0, 10, 50 segments per round, and 0 again at the end."""
    runs = [(f"{count} (round {r + 1})", count) for r in range(rounds) for count in (0, 10, 50)]
    return runs + [(f"0 (round {rounds + 1})", 0)]


def median(results: dict[str, Run], count: int, measure: str) -> float | None:
    """The median `seconds` or `cpu` of the runs with `count` segments."""
    found = [getattr(r, measure) for label, r in results.items()
             if label.split()[0] == str(count)]
    return statistics.median(found) if found else None


def round_ratios(results: dict[str, Run], count: int, measure: str) -> list[float]:
    """Per round, the mean of the two runs without segments around it (this round's and the
    next's) over the run with `count` segments: each ratio from runs minutes apart."""
    ratios = []
    for r in range(1, len(results)):
        ours = results.get(f"{count} (round {r})")
        before, after = results.get(f"0 (round {r})"), results.get(f"0 (round {r + 1})")
        if ours and before and after:
            base = (getattr(before, measure) + getattr(after, measure)) / 2
            ratios.append(base / getattr(ours, measure))
    return ratios


def report(args: argparse.Namespace, results: dict[str, Run]) -> list[str]:
    base, base_cpu = median(results, 0, "seconds") or 0.0, median(results, 0, "cpu") or 0.0
    n = args.records
    data = (f"{args.generated:,} generated people (`idgraph demo generate --seed 1`, events "
            f"in the year before now): {n:,} records and events" if args.generated else
            f"{n:,} records with attributes (bench/ingest.py `make_records`)")
    templates = "GENERATED_TEMPLATES" if args.generated else "TEMPLATES"
    lines = [f"{data}, batches of {args.batch}, ingested through `Services.build` (every stage "
             "of the pipeline); streaming segments cycle through ten rule kinds "
             f"(bench/streaming.py `{templates}`). Load average at the end: "
             f"{os.getloadavg()[0]:.1f}.", "",
             "| streaming segments | seconds | records/s | throughput vs none | CPU s (Neo4j + "
             "client) | CPU vs none | memberships written | segment-stage statements |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for label, r in results.items():
        lines.append(f"| {label} | {r.seconds:.1f} | {n / r.seconds:,.0f} | "
                     f"{base / r.seconds:.2f} | {r.cpu:.1f} | {base_cpu / r.cpu:.2f} | "
                     f"{r.written:,} | {r.statements:,} |")
    lines += ["", "Baseline (no segments): the median of its runs, "
              f"{base:.1f} s and {base_cpu:.1f} CPU s. "
              "Goal: with 10 segments, throughput >= 0.75 of the baseline."]
    for count in (10, 50):
        walls, cpus = round_ratios(results, count, "seconds"), round_ratios(results, count, "cpu")
        if walls:
            lines.append(
                f"- {count} segments: throughput **{statistics.median(walls):.2f}** of the "
                f"baseline's (median of the rounds' ratios to the runs without segments around "
                f"them: {', '.join(f'{x:.2f}' for x in walls)}); by CPU seconds "
                f"{statistics.median(cpus):.2f} ({', '.join(f'{x:.2f}' for x in cpus)}).")
    return lines


if __name__ == "__main__":
    main()
