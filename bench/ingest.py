"""Benchmark: batch ingest of records with 2-3 identities, and bulk resolve.

The floor, as the issue words it: the same records inserted by the bare driver with a plain
UNWIND ... MERGE (records, identities, their relationships and links; no validation, no linking
rules, no profiles, no views). Floor A, stricter, leaves the records out (identities and links
only). Run: `python -m bench.ingest`; the report goes to bench/results/ingest.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
from pathlib import Path

import neo4j

from bench.common import Figure, Timer, auth_of, bench_server, wipe, write_figures, write_report
from idgraph.collector import bulk_collection
from idgraph.config import Settings
from idgraph.db.graph import Graph
from idgraph.db.schema import apply_schema
from idgraph.ingest.runner import ingest_file
from idgraph.services import Services

# Both floors end by merging one link per pair and source, as idgraph does.
MERGE_PAIRS = """
WITH DISTINCT row
UNWIND row.pairs AS pair
MATCH (a:Identity {key: pair[0]}), (b:Identity {key: pair[1]})
MERGE (a)-[l:LINK {source: row.source}]->(b)
  ON CREATE SET l.count = 1, l.firstSeen = row.ts, l.lastSeen = row.ts
  ON MATCH SET l.count = l.count + 1
"""
# Floor A: identities and links only.
FLOOR_LINKS = """
UNWIND $rows AS row
UNWIND row.ids AS key
MERGE (:Identity {key: key})
""" + MERGE_PAIRS


# The floor: "the same data inserted by the bare driver with a plain UNWIND ... MERGE":
# each record (by its key, as idgraph keys it), its identities, the record-identity
# relationships and the links, every one MERGEd, so that a re-run changes nothing (idgraph's
# ingest is idempotent too).
FLOOR_SAME_DATA = """
UNWIND $rows AS row
MERGE (r:Record {key: row.source + '|' + row.id})
  ON CREATE SET r.source = row.source, r.recordId = row.id, r.ts = row.ts
WITH r, row
UNWIND row.ids AS key
MERGE (i:Identity {key: key})
MERGE (r)-[:KEYED_BY]->(i)
""" + MERGE_PAIRS


# Floor B: as the floor, but each record CREATEd (not idempotent).
FLOOR_RECORDS = """
UNWIND $rows AS row
CREATE (r:Record {key: row.source + '|' + row.id, source: row.source, recordId: row.id,
                  ts: row.ts})
WITH r, row
UNWIND row.ids AS key
MERGE (i:Identity {key: key})
CREATE (r)-[:KEYED_BY]->(i)
""" + MERGE_PAIRS


def make_records(n: int, seed: int = 7, attributes: bool = False,
                 first_person: int = 0) -> list[dict]:
    """People with a CRM id, an e-mail and two cookies; each record shows 2-3 of them
    (and, with `attributes`, a name, a nested city and a tier that sources disagree on).
    People are numbered from `first_person`."""
    rng = random.Random(seed)
    people = max(1, n * 2 // 5)
    records = []
    for i in range(n):
        p = first_person + rng.randrange(people)
        pool = [("crm", f"C{p}"), ("email", f"user{p}@example.com"), ("ecid", f"k{p}a"),
                ("ecid", f"k{p}b")]
        chosen = rng.sample(pool, rng.choice((2, 3)))
        records.append({"source": rng.choice(("crm", "web", "pos")), "recordId": str(i),
                        "timestamp": 1_700_000_000_000 + i * 1000,
                        "identities": [{"namespace": ns, "value": v} for ns, v in chosen]})
        if attributes:
            records[-1]["attributes"] = {
                "name": f"P{p}", "tier": rng.choice(("gold", "silver", "bronze")),
                "address": {"city": rng.choice(("Oslo", "Bergen", "Tromsø"))}}
    return records


def floor_rows(records: list[dict]) -> list[dict]:
    rows = []
    for r in records:
        ids = sorted(f"{i['namespace']}:{i['value']}" for i in r["identities"])
        pairs = [[a, b] for k, a in enumerate(ids) for b in ids[k + 1:]]
        rows.append({"ids": ids, "pairs": pairs, "source": r["source"], "ts": r["timestamp"],
                     "id": r["recordId"]})
    return rows


def run_floor(driver: neo4j.Driver, statement: str, records: list[dict], batch: int) -> float:
    rows = floor_rows(records)
    with Timer() as t:
        for start in range(0, len(rows), batch):
            driver.execute_query(statement, rows=rows[start:start + batch])
    return t.seconds


async def run_idgraph(uri: str, records: list[dict], batch: int, views: bool = True,
                      via_file: Path | None = None) -> tuple[float, float, int]:
    """Seconds to ingest `records` (as one service call, or, with `via_file`, the way
    `idgraph ingest FILE` does: the file streamed in windows), then a bulk resolve."""
    graph = Graph(uri, auth_of(), "neo4j", timeout=600)
    # The app's wiring (profile hooks included); optionally without view maintenance.
    service = Services.build(Settings(ingest_batch_size=batch, max_cluster_size=50),
                             graph).identity
    if not views:
        service.pipeline = service.pipeline.without("views")
    try:
        # The collector's thresholds of every process that calls the service in production:
        # the API process holds them while it serves, a file ingest while it runs (collector.py).
        # With Python's defaults, full collections of the 100,000 records held in memory made
        # this call's Python CPU 15.6-17.5 s instead of 8.4-12.0 s (23.7-25.3 s of wall time
        # instead of 15.1-20.8 s, alternated, 2026-12-03): a cost no production caller pays.
        with Timer() as t, bulk_collection():
            if via_file is None:
                accepted = (await service.ingest(records)).accepted
            else:
                accepted = (await ingest_file(service, via_file, batch,
                                              show_progress=False)).accepted
        probes = [(i["namespace"], i["value"]) for r in records[:10_000] for i in r["identities"]]
        probes = probes[:10_000]
        with Timer() as r:
            resolved = await service.resolve(probes)
        assert accepted == len(records), accepted
        return t.seconds, r.seconds, sum(1 for p in resolved if p)
    finally:
        await graph.close()


def write_jsonl(records: list[dict], path: Path) -> Path:
    with path.open("w") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--attributes", action="store_true", help="records carry attributes")
    parser.add_argument("--no-views", action="store_true",
                        help="leave out materialised view maintenance (for an A/B)")
    args = parser.parse_args()
    uri = bench_server(fresh=True)
    records = make_records(args.records, attributes=args.attributes)
    views = not args.no_views
    with neo4j.GraphDatabase.driver(uri, auth=auth_of()) as driver:
        asyncio.run(_schema(uri))
        # Warm the server (JIT, page cache, plans) on every kind of work first: whichever run
        # came first on a fresh JVM was measured up to 1.7x slower, which flattered the runs
        # after it.
        warm = records[:20_000]
        for statement in (FLOOR_LINKS, FLOOR_SAME_DATA):
            run_floor(driver, statement, warm, args.batch)
            wipe(driver)
        asyncio.run(run_idgraph(uri, warm, args.batch, views=views))
        wipe(driver)
        floors_first = {}
        for name, statement in (("same", FLOOR_SAME_DATA), ("A", FLOOR_LINKS)):
            floors_first[name] = run_floor(driver, statement, records, args.batch)
            wipe(driver)
        floor_b = run_floor(driver, FLOOR_RECORDS, records, args.batch)
        wipe(driver)
        with tempfile.TemporaryDirectory() as tmp:
            file = write_jsonl(records, Path(tmp) / "records.jsonl")
            ours_s, resolve_s, found = asyncio.run(run_idgraph(
                uri, records, args.batch, views=views, via_file=file))
        wipe(driver)
        call_s, _, _ = asyncio.run(run_idgraph(uri, records, args.batch, views=views))
        wipe(driver)
        # The floors again at the end: the server drifts over a run (its store grows with
        # every fill and wipe), so each floor is the mean of a run before idgraph's and one
        # after.
        floors_last = {}
        for name, statement in (("A", FLOOR_LINKS), ("same", FLOOR_SAME_DATA)):
            floors_last[name] = run_floor(driver, statement, records, args.batch)
            wipe(driver)
    floor = {name: (floors_first[name] + floors_last[name]) / 2 for name in floors_first}
    n = args.records

    def row(label: str, seconds: float) -> str:
        return (f"| {label} | {seconds:.1f} | {n / seconds:,.0f} | {floor['same'] / seconds:.2f}"
                f" | {floor['A'] / seconds:.2f} |")

    def both_runs(name: str) -> str:
        return f"mean of a run first and one last ({floors_first[name]:.1f} s, " \
               f"{floors_last[name]:.1f} s)"

    lines = [
        f"{n:,} records, 2-3 identities each{', with attributes' if args.attributes else ''}, "
        f"batches of {args.batch}; materialised views "
        f"{'not maintained' if args.no_views else 'maintained'}.", "",
        "| run | seconds | records/s | vs floor | vs floor A |",
        "| --- | ---: | ---: | ---: | ---: |",
        row("**floor**: the same records inserted by the bare driver with a plain UNWIND ... "
            "MERGE (records, identities, record-identity relationships, links); "
            + both_runs("same"), floor["same"]),
        row("floor A: bare driver UNWIND ... MERGE of identities and links only, the records "
            "left out; " + both_runs("A"), floor["A"]),
        row("floor B: as the floor, records CREATEd (not idempotent)", floor_b),
        row("idgraph: `idgraph ingest FILE` (JSON Lines read and parsed, validation, records, "
            "linking rules, profiles, views)", ours_s),
        row("idgraph: the same records in memory, one service call", call_s), "",
        f"Bulk resolve of 10,000 identities in one call: {resolve_s * 1000:.0f} ms "
        f"({found:,} found).",
    ]
    print(write_report("ingest", "Ingest benchmark", lines).read_text())
    floor_rate = n / floor["same"]
    write_figures("ingest", [
        Figure("ingest: `idgraph ingest FILE`, records/s", n / ours_s, "records/s", floor_rate,
               floor["same"] / ours_s, "ratio >= 0.8"),
        Figure("ingest: one service call, records/s", n / call_s, "records/s", floor_rate,
               floor["same"] / call_s, "ratio >= 0.8"),
        Figure("bulk resolve of 10,000 identities (empty store + the ingest)", resolve_s * 1000,
               "ms"),
    ], {"records": n, "batch": args.batch, "attributes": args.attributes, "views": views})


async def _schema(uri: str) -> None:
    graph = Graph(uri, auth_of(), "neo4j")
    await apply_schema(graph)
    await graph.close()


if __name__ == "__main__":
    main()
