"""Benchmark: export of an audience to Parquet (rows/s, peak memory), against a floor in the
same run. Not a test; writes bench/results/export.md.

    .venv/bin/python -m bench.export --profiles 100000

Data: profiles, one email identity each, a materialised view and a membership of one segment,
written directly with the bare driver (faster than ingesting; the export reads only these).
- idgraph: `idgraph export`'s work (ActivationService.export_file + the export job run in the
  foreground): keyset pages of 5,000 memberships, records built, one Parquet row group a page.
- floor: ONE query by the bare driver streaming the same rows (identities and view JSON), the
  records written with pyarrow's ParquetWriter in pages of 5,000.
Peak memory: tracemalloc's peak of Python allocations (pyarrow's buffers included: it reports
them to tracemalloc) during the export, at the full size and at a quarter of it: flat when
memory holds a page, not the audience.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

import neo4j
import pyarrow as pa
import pyarrow.parquet as pq

from bench.common import Figure, auth_of, bench_server, wipe, write_figures, write_report
from idgraph.activation.destinations import Format
from idgraph.activation.service import ExportSpec
from idgraph.config import Settings
from idgraph.db.schema import apply_schema
from idgraph.segments.service import SegmentSpec
from idgraph.services import Services

PORT = 17712  # not the other benchmarks' port: they may run on this machine at once
SEED = """
UNWIND range($start, $end - 1) AS n
WITH n, 'p' + right('0000000' + toString(n), 8) AS id
CREATE (p:Profile {id: id, primaryKey: 'email:u' + n + '@x.com'})
CREATE (:Identity {key: 'email:u' + n + '@x.com', namespace: 'email'})-[:IN_PROFILE]->(p)
CREATE (p)-[:VIEW]->(:ProfileView {_profile: id, _isTest: false,
        _json: '{"tier": "gold", "age": ' + toString(n % 90) + '}'})
WITH p, id
MATCH (s:Segment {id: 'bench'})
CREATE (p)-[:IN_SEGMENT {segment: 'bench', profile: id, status: 'realized', since: 1,
                         changedAt: 1, version: 1}]->(s)
"""
FLOOR = """
MATCH (p)-[m:IN_SEGMENT]->() WHERE m.segment = 'bench' AND m.version = 1
  AND m.status IN ['realized', 'existing']
OPTIONAL MATCH (p)-[:VIEW]->(v:ProfileView)
RETURN m.profile AS id, m.status AS status, m.changedAt AS changedAt, v._json AS json,
       [(p)<-[:IN_PROFILE]-(i:Identity) WHERE i.namespace IN ['email'] | i.key] AS keys
ORDER BY id
"""


def seed(driver: neo4j.Driver, profiles: int) -> None:
    for start in range(0, profiles, 10_000):
        driver.execute_query(SEED, start=start, end=min(profiles, start + 10_000))
        if (start + 10_000) % 100_000 == 0:
            print(f"  seeded {start + 10_000:,} of {profiles:,}", flush=True)


def floor(driver: neo4j.Driver, path: Path) -> int:
    schema = pa.schema([("profile_id", pa.string()), ("status", pa.string()),
                        ("changed_at", pa.timestamp("ms", tz="UTC")),
                        ("identity.email", pa.list_(pa.string())),
                        ("attribute.tier", pa.string()), ("attribute.age", pa.string())])
    rows = 0
    with driver.session() as session, pq.ParquetWriter(path, schema,
                                                       compression="zstd") as out:
        page: list[dict] = []
        for record in session.run(FLOOR):
            attrs = json.loads(record["json"])
            page.append({"profile_id": record["id"], "status": record["status"],
                         "changed_at": record["changedAt"],
                         "identity.email": [k.split(":", 1)[1] for k in record["keys"]],
                         "attribute.tier": attrs.get("tier"),
                         "attribute.age": json.dumps(attrs.get("age"))})
            if len(page) == 5000:
                out.write_table(pa.Table.from_pylist(page, schema=schema))
                rows, page = rows + len(page), []
        if page:
            out.write_table(pa.Table.from_pylist(page, schema=schema))
            rows += len(page)
    return rows


async def idgraph_export(services: Services, path: Path) -> int:
    spec = ExportSpec("bench", ["email"], ["tier", "age"])
    job = await services.activation.service.export_file(spec, str(path), Format.PARQUET)
    job = await services.jobs.run_now(job.id)
    assert job.status.value == "succeeded", job.error
    return pq.ParquetFile(path).metadata.num_rows


def measured(work, traced: bool) -> tuple[float, int, float]:
    """(seconds, rows, peak MiB traced or 0)."""
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    rows = work()
    seconds = time.perf_counter() - start
    peak = 0.0
    if traced:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return seconds, rows, peak


async def main(profiles: int, memory: str = "1g") -> None:
    uri = bench_server(PORT, heap=memory, pagecache=memory)
    auth = auth_of()
    settings = Settings(neo4j_uri=uri, neo4j_user="neo4j",
                        neo4j_password=auth[1] if auth else "", neo4j_query_timeout=600)
    driver = neo4j.GraphDatabase.driver(uri, auth=auth)
    from idgraph.db.connect import graph_for

    graph = graph_for(settings, start_local=False)
    await apply_schema(graph)
    services = Services.build(settings, graph)
    lines = ["| size | path | seconds | rows/s | peak MiB (traced run) |", "|---|---|---|---|---|"]
    out = Path(tempfile.mkdtemp())
    found: dict[tuple[int, str], tuple[float, float]] = {}  # (size, path): (rows/s, peak MiB)
    try:
        for size in (profiles // 4, profiles):
            wipe(driver)
            await services.segments.service.create(SegmentSpec(
                name="bench", definition='tier = "gold"', id="bench"))
            started = time.perf_counter()
            seed(driver, size)
            print(f"seeded {size} in {time.perf_counter() - started:.1f} s", flush=True)
            loop = asyncio.get_running_loop()  # noqa: B023 - the same loop for both
            for name, work in (
                    ("floor (bare driver + pyarrow)",
                     lambda: floor(driver, out / "floor.parquet")),
                    ("idgraph export",
                     lambda: _sync(loop, services, out / "idg.parquet"))):  # noqa: B023
                seconds, rows, _ = await asyncio.to_thread(measured, work, False)
                _, _, peak = await asyncio.to_thread(measured, work, True)
                assert rows == size, (name, rows, size)
                found[(size, "floor" if name.startswith("floor") else "idgraph")] = (
                    rows / seconds, peak)
                lines.append(f"| {size:,} | {name} | {seconds:.1f} | {rows / seconds:,.0f} | "
                             f"{peak:.1f} |")
                print(lines[-1], flush=True)
    finally:
        await graph.close()
        driver.close()
    write_report("export", "Export of an audience to Parquet", [
        f"`python -m bench.export --profiles {profiles}`: a 2-core machine shared with other "
        f"jobs (load average {os.getloadavg()[0]:.1f} at the end), Neo4j heap {memory}, page "
        f"cache {memory}. One run per "
        "figure; seconds are wall time, so compare the two paths of the same size, not "
        "runs.", "", *lines, "",
        "Peak memory is tracemalloc's (Python and pyarrow allocations) in a second run of "
        "each path with tracing on (tracing slows it; the seconds are from the untraced "
        "run). The idgraph export holds one page (5,000 rows) at a time, so its peak should "
        "not grow with the audience: compare the two sizes."])
    write_figures("export", figures(found, profiles), {"profiles": profiles})


def figures(found: dict[tuple[int, str], tuple[float, float]], profiles: int) -> list[Figure]:
    """Rows/s and peak memory at the full size beside the floor's; the peak's growth from a
    quarter of the audience to all of it (streamed: flat, goal within 1.5x for 4x the rows)."""
    (ours, peak), (floor, floor_peak) = found[(profiles, "idgraph")], found[(profiles, "floor")]
    small_peak = found[(profiles // 4, "idgraph")][1]
    at = f"at {profiles:,} rows"
    return [Figure(f"export to Parquet {at}", ours, "rows/s", floor, ours / floor),
            Figure(f"export peak memory {at}", peak, "MiB", floor_peak,
                   peak / floor_peak if floor_peak else None),
            Figure(f"export peak memory growth, {profiles // 4:,} to {profiles:,} rows",
                   peak / small_peak if small_peak else 0.0, "x", goal="value <= 1.5")]


def _sync(loop: asyncio.AbstractEventLoop, services: Services, path: Path) -> int:
    return asyncio.run_coroutine_threadsafe(idgraph_export(services, path), loop).result()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--memory", default="1g", help="the Neo4j heap and page cache, each")
    args = parser.parse_args()
    asyncio.run(main(args.profiles, args.memory))
