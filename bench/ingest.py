"""Benchmark: batch ingest of records with 2-3 identities, and bulk resolve.

Floor: the bare driver writing the same identities and links with a plain UNWIND ... MERGE
(no validation, no records, no linking rules, no profiles). Run: `python -m bench.ingest`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
from pathlib import Path

import neo4j

from bench.common import Timer, bench_server, wipe, write_report
from idgraph.config import Settings
from idgraph.db.graph import Graph
from idgraph.db.schema import apply_schema
from idgraph.ingest.runner import ingest_file
from idgraph.profile import materialise
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


# Floor B: the same input stored as is: record nodes keyed by their identities, plus links.
FLOOR_RECORDS = """
UNWIND $rows AS row
CREATE (r:Record {key: row.source + '|' + row.id, source: row.source, recordId: row.id,
                  ts: row.ts})
WITH r, row
UNWIND row.ids AS key
MERGE (i:Identity {key: key})
CREATE (r)-[:KEYED_BY]->(i)
""" + MERGE_PAIRS


def make_records(n: int, seed: int = 7, attributes: bool = False) -> list[dict]:
    """People with a CRM id, an e-mail and two cookies; each record shows 2-3 of them
    (and, with `attributes`, a name, a nested city and a tier that sources disagree on)."""
    rng = random.Random(seed)
    people = max(1, n * 2 // 5)
    records = []
    for i in range(n):
        p = rng.randrange(people)
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
    graph = Graph(uri, None, "neo4j", timeout=600)
    # The app's wiring (profile hooks included); optionally without view maintenance.
    service = Services.build(Settings(ingest_batch_size=batch, max_cluster_size=50),
                             graph).identity
    if not views:
        service.after_batch.remove(materialise.after_batch)
    try:
        with Timer() as t:
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
    with neo4j.GraphDatabase.driver(uri) as driver:
        asyncio.run(_schema(uri))
        # Warm the server (JIT, page cache, plans) on both kinds of work first: whichever run
        # came first on a fresh JVM was measured up to 1.7x slower, which flattered the runs
        # after it.
        warm = records[:20_000]
        run_floor(driver, FLOOR_LINKS, warm, args.batch)
        wipe(driver)
        asyncio.run(run_idgraph(uri, warm, args.batch, views=views))
        wipe(driver)
        floor_first = run_floor(driver, FLOOR_LINKS, records, args.batch)
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
        # Floor A again at the end: the server drifts over a run (its store grows with every
        # fill and wipe), so the floor is the mean of a run before idgraph's and one after.
        floor_last = run_floor(driver, FLOOR_LINKS, records, args.batch)
    floor_s = (floor_first + floor_last) / 2
    n = args.records
    lines = [
        f"{n:,} records, 2-3 identities each{', with attributes' if args.attributes else ''}, "
        f"batches of {args.batch}; materialised views "
        f"{'not maintained' if args.no_views else 'maintained'}.", "",
        "| run | seconds | records/s | vs floor |", "| --- | ---: | ---: | ---: |",
        f"| floor: bare driver UNWIND ... MERGE (identities, links); mean of a run first and "
        f"one last ({floor_first:.1f} s, {floor_last:.1f} s) | {floor_s:.1f} | "
        f"{n / floor_s:,.0f} | 1.00 |",
        f"| floor B: bare driver, records + identities + links | {floor_b:.1f} | "
        f"{n / floor_b:,.0f} | {floor_s / floor_b:.2f} |",
        f"| idgraph: `idgraph ingest FILE` (JSON Lines read and parsed, validation, records, "
        f"linking rules, profiles, views) | {ours_s:.1f} | {n / ours_s:,.0f} | "
        f"{floor_s / ours_s:.2f} |",
        f"| idgraph: the same records in memory, one service call | {call_s:.1f} | "
        f"{n / call_s:,.0f} | {floor_s / call_s:.2f} |", "",
        f"`idgraph ingest FILE` vs floor B (same stored input, no identity resolution): "
        f"{floor_b / ours_s:.2f}.", "",
        f"Bulk resolve of 10,000 identities in one call: {resolve_s * 1000:.0f} ms "
        f"({found:,} found).",
    ]
    print(write_report("ingest", "Ingest benchmark", lines).read_text())


async def _schema(uri: str) -> None:
    graph = Graph(uri, None, "neo4j")
    await apply_schema(graph)
    await graph.close()


if __name__ == "__main__":
    main()
