"""Benchmark: batch evaluation of segments into audiences, against hand-written Cypher run by
the bare driver in the same run (the floor). Not a test; writes bench/results/segments.md.

    .venv/bin/python -m bench.segments --profiles 20000

Data: `idgraph demo generate` (demo/dataset.py) people, ingested with `idgraph ingest`. Rules:
an attribute-only rule, an event-window count rule and their composition. For each rule:

- idgraph `first`: an evaluation job's work (Evaluator.evaluate) on a segment without
  memberships: run the compiled rule, compare, write every member as realized
  (IDGRAPH_SEGMENT_WRITE_CHUNK per transaction, IDGRAPH_SEGMENT_WRITE_CONCURRENCY at
  once); `again`: the next evaluation, which rewrites realized as existing;
  `steady`: the one after, nothing to write;
- idgraph `rule`: the compiled rule's read alone (ids of members);
- floor `read`: a hand-written query for the same members, by the bare driver;
- floor `write`: that query writing each member's membership, as many per transaction as
  idgraph's chunks
  (CALL ... IN TRANSACTIONS): the same data an evaluation stores (a relationship with the
  eight properties of `IN_SEGMENT`, under an index on (segment, profile) as the members pages
  need), by CREATE in one statement: the least a first evaluation must do.
Each figure is the median of `--repeat` runs, idgraph and floor alternated; beside seconds,
the Neo4j server's CPU seconds (from /proc/<pid>/stat), which the machine's load changes less.

    .venv/bin/python -m bench.segments --scale --profiles 1000000 --repeat 2

With `--scale`, the data is instead bench/scale_store.py's store with events (imported offline in
minutes where ingesting 1,000,000 generated people takes hours on this machine): people of three
identities whose views hold `loyaltyTier` and `age`, about ten events each over the year before
NOW (0-6 purchases a year, as the generator's), kept in `.idgraph/bench-scale-events-<port>`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import neo4j

from bench import scale_store
from bench.common import (
    BENCH_STATE_DIR,
    Figure,
    Timer,
    auth_of,
    bench_server,
    process_cpu_seconds,
    wipe,
    write_figures,
    write_report,
)
from idgraph.config import Settings
from idgraph.db.graph import Graph
from idgraph.db.schema import apply_schema
from idgraph.demo.dataset import parse_now, write_dataset
from idgraph.identity.items import to_millis
from idgraph.segments.evaluation import NEVER
from idgraph.segments.repository import COLLECT_IDS, ENTER
from idgraph.segments.service import SegmentSpec
from idgraph.services import Services

PORT = 17762
NOW = "2026-01-01T00:00:00Z"  # the generator's reference time: events fall in the year before
DAY = 86_400_000
RULES = {
    "attribute": 'loyaltyTier in ["gold", "platinum"] or age >= 60',
    "window": 'events(type = "commerce.purchase", within 90 days).count() >= 2',
    "composition": 'inSegment("attribute") and inSegment("window")',
}
ATTRIBUTE_WHERE = "(v.loyaltyTier IN ['gold', 'platinum'] OR v.age >= 60)"
# The window rule from the events' (type, ts) index outward: the plan one would write by hand.
WINDOW_IDS = """
MATCH (e:Event) WHERE e.type = 'commerce.purchase' AND e.ts >= $since AND e.ts <= $now
MATCH (e)-[:ABOUT]->(:Identity)-[:IN_PROFILE]->(p:Profile)
WITH p, count(DISTINCT e) AS n WHERE n >= 2
MATCH (p)-[:VIEW]->(v:ProfileView) WHERE NOT v._isTest
"""
FLOOR = {
    "attribute": "MATCH (p:Profile)-[:VIEW]->(v:ProfileView) WHERE NOT v._isTest AND "
                 + ATTRIBUTE_WHERE + "\n",
    "window": WINDOW_IDS,
    "composition": WINDOW_IDS + "WITH p, v WHERE " + ATTRIBUTE_WHERE + "\n",
}
# Seconds between deleting the last run's memberships and the next timed step, for both: the
# server's background work after a large delete (index sampling, cleanup) lands outside both.
SETTLE = 3.0
FLOOR_SEGMENT = "MERGE (:FloorSegment {id: $segment})"
# The floor's memberships are indexed as idgraph's are (cypher/schema/007_segments.cypher).
FLOOR_INDEX = """
CREATE INDEX floor_member IF NOT EXISTS FOR ()-[m:FLOOR_MEMBER]-() ON (m.segment, m.profile)
"""
# A member's membership as the floors write it: the eight properties of `IN_SEGMENT`.
FLOOR_MEMBERSHIP = """CREATE (p)-[:FLOOR_MEMBER {{segment: $segment, profile: p.id,
    status: 'realized', since: $now, changedAt: $now, version: 1, run: $run,
    cause: 'evaluation'}}]->(s)"""
FLOOR_WRITE = """
MATCH (s:FloorSegment {{id: $segment}})
CALL () {{
{query}RETURN p
}}
CALL (p, s) {{
  """ + FLOOR_MEMBERSHIP + """
}} IN TRANSACTIONS OF {chunk} ROWS
"""
# The floor's write with the guarantees idgraph's memberships keep (segments/repository.py):
# each profile locked before its membership is looked for, so a streaming write of the same
# profile waits, and a membership created only where none exists. Not the floor: what
# those guarantees cost when written by hand.
FLOOR_WRITE_GUARDED = """
MATCH (s:FloorSegment {{id: $segment}})
CALL () {{
{query}RETURN p
}}
CALL (p, s) {{
  SET p._locked = true
  REMOVE p._locked
  WITH p, s
  OPTIONAL MATCH (p)-[held:FLOOR_MEMBER]->(s)
  WITH p, s, held WHERE held IS NULL
  """ + FLOOR_MEMBERSHIP + """
}} IN TRANSACTIONS OF {chunk} ROWS
"""
# The floor's write in as many transactions at once as idgraph's evaluation writes
# (IDGRAPH_SEGMENT_WRITE_CONCURRENCY, 2): not the floor, which is one writer, but what
# a hand-written query gains from the second core that idgraph's evaluation uses.
FLOOR_WRITE_CONCURRENT = FLOOR_WRITE.replace("IN TRANSACTIONS",
                                             "IN {writers} CONCURRENT TRANSACTIONS")
CLEAR_FLOOR = """
MATCH (:FloorSegment)<-[m:FLOOR_MEMBER]-()
CALL (m) { DELETE m } IN TRANSACTIONS OF 10000 ROWS
"""


def server_cpu(state_dir: Path = BENCH_STATE_DIR) -> float:
    """CPU seconds the benchmark's Neo4j has used so far (user and system)."""
    return process_cpu_seconds(int((state_dir / "idgraph-neo4j.pid").read_text().strip()))


def stored_profiles(driver: neo4j.Driver) -> int:
    with driver.session() as session:
        return int(session.run("MATCH (p:Profile) RETURN count(p) AS n").single()["n"])


def clear_segments(driver: neo4j.Driver) -> None:
    """Segments, memberships and the floor's relationships of an earlier run."""
    with driver.session() as session:
        # The memberships first, in batches: a segment of 250,000 members detached in one
        # inner transaction overran the server's memory pool (2g heap).
        for kind in ("IN_SEGMENT", "FLOOR_MEMBER"):
            session.run(f"MATCH ()-[m:{kind}]->() CALL (m) {{ DELETE m }} "
                        "IN TRANSACTIONS OF 10000 ROWS").consume()
        for label in ("Segment", "FloorSegment", "Job"):
            session.run(f"MATCH (n:{label}) CALL (n) {{ DETACH DELETE n }} "
                        "IN TRANSACTIONS OF 1000 ROWS").consume()


def load(uri: str, profiles: int, seed: int) -> dict:
    """Generate `profiles` people and ingest them with the CLI; the manifest."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        manifest = write_dataset(out, profiles, seed, parse_now(NOW), combined=True)
        env = {**os.environ, "NEO4J_URI": uri, "IDGRAPH_NEO4J_QUERY_TIMEOUT": "600",
               "NEO4J_PASSWORD": (auth_of() or ("", ""))[1]}
        idgraph = Path(sys.executable).with_name("idgraph")
        subprocess.run([str(idgraph), "ingest", str(out / "all.jsonl"), "--no-progress"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
    return manifest


def median_of(repeat: int, run: Callable[[], Awaitable[float]]) -> Callable[[], Awaitable[float]]:
    async def median() -> float:
        return statistics.median([await run() for _ in range(repeat)])
    return median


class Bench:
    def __init__(self, uri: str, repeat: int, auth: tuple[str, str] | None,
                 state_dir: Path = BENCH_STATE_DIR) -> None:
        self.uri, self.repeat, self.state_dir = uri, repeat, state_dir
        self.driver = neo4j.GraphDatabase.driver(uri, auth=auth)
        self.graph = Graph(uri, auth, "neo4j", timeout=3600)
        settings = Settings(neo4j_uri=uri)
        self.services = Services.build(settings, self.graph)
        # The floor's transactions are as large as idgraph's chunks: both cost less CPU per
        # membership in smaller transactions (1,000 rows against 5,000: a fifth to a third).
        self.chunk = settings.segment_write_chunk
        self.writers = settings.segment_write_concurrency
        self.as_of = to_millis(NOW)

    async def define(self) -> None:
        for name, rule in RULES.items():
            await self.services.segments.service.create(
                SegmentSpec(id=name, name=name, definition=rule))

    async def idgraph_runs(self, name: str) -> dict[str, float]:
        """first, again, steady evaluations and the rule's read, in seconds."""
        segments = self.services.segments
        # The composition is evaluated as in evaluateSegments: its parts fresh before it.
        fresh = ["attribute", "window"] if name == "composition" else []
        await segments.service.repository.drop_memberships(name, 5000)
        await asyncio.sleep(SETTLE)  # as after the floor's clearing
        figures = {}
        for label in ("first", "again", "steady"):
            cpu = server_cpu(self.state_dir)
            with Timer() as timer:
                await segments.evaluator.evaluate(name, self.as_of, fresh=fresh)
            figures[label] = timer.seconds
            figures[f"{label}_cpu"] = server_cpu(self.state_dir) - cpu
        saved = await segments.service.get(name)
        query = await segments.evaluator.compile(saved, self.as_of, fresh)
        with Timer() as timer:
            ids = await self.graph.read_plain(query.cypher, **query.params)
        figures["rule"], figures["members"] = timer.seconds, len(ids)
        return figures

    def floor_runs(self, name: str) -> dict[str, float]:
        params = {"now": self.as_of, "since": self.as_of - 90 * DAY, "segment": name,
                  "run": "floor"}
        with self.driver.session() as session:
            session.run(CLEAR_FLOOR).consume()
            session.run(FLOOR_INDEX).consume()
            session.run(FLOOR_SEGMENT, params).consume()
            time.sleep(SETTLE)
            start = time.perf_counter()
            ids = session.run(FLOOR[name] + "RETURN p.id AS id", params).value()
            read = time.perf_counter() - start
            figures = {"read": read, "members": len(ids)}
            for label, statement in (("write", FLOOR_WRITE), ("guarded", FLOOR_WRITE_GUARDED),
                                     ("concurrent", FLOOR_WRITE_CONCURRENT)):
                if label != "write":  # the last write's memberships away first
                    session.run(CLEAR_FLOOR).consume()
                    time.sleep(SETTLE)
                cpu, start = server_cpu(self.state_dir), time.perf_counter()
                session.run(statement.format(query=FLOOR[name], chunk=self.chunk,
                                             writers=self.writers), params).consume()
                figures[label] = time.perf_counter() - start
                figures[f"{label}_cpu"] = server_cpu(self.state_dir) - cpu
        return figures

    async def plans(self, name: str) -> dict[str, object]:
        """PROFILE of the compiled rule and of the floor's read: database hits and where each
        starts (the deepest operator of the plan's first branch)."""
        segments = self.services.segments
        fresh = ["attribute", "window"] if name == "composition" else []
        query = await segments.evaluator.compile(await segments.service.get(name), self.as_of,
                                                 fresh)
        params = {"now": self.as_of, "since": self.as_of - 90 * DAY, "segment": name}
        ours = self.profiled(query.cypher, query.params)
        floor = self.profiled(FLOOR[name] + "RETURN p.id AS id", params)
        return {"hits": db_hits(ours), "floor_hits": db_hits(floor), "start": start_of(ours)}

    async def write_plans(self, name: str) -> dict[str, int]:
        """Database hits of a first evaluation's statements (the rule's ids, then per chunk the
        profiles' locks and the CREATE (`ENTER`); in a transaction rolled back) and of the
        floor's write (then cleared)."""
        segments = self.services.segments
        fresh = ["attribute", "window"] if name == "composition" else []
        saved = await segments.service.get(name)
        query = await segments.evaluator.compile(saved, self.as_of, fresh)
        hits = 0
        with self.driver.session() as session, session.begin_transaction() as tx:
            result = tx.run("PROFILE " + COLLECT_IDS % query.unordered, query.params)
            ids = result.single()["ids"]
            hits += db_hits(dict(result.consume().profile or {}))
            for start in range(0, len(ids), self.chunk):
                result = tx.run("PROFILE " + ENTER, segment=name, at=self.as_of,
                                ids=ids[start:start + self.chunk], version=saved.version,
                                run="plan", since=NEVER)
                hits += db_hits(dict(result.consume().profile or {}))
            tx.rollback()
        params = {"now": self.as_of, "since": self.as_of - 90 * DAY, "segment": name,
                  "run": "floor"}
        with self.driver.session() as session:
            session.run(CLEAR_FLOOR).consume()
            floor = session.run("PROFILE " + FLOOR_WRITE.format(query=FLOOR[name],
                                                                   chunk=self.chunk), params)
            floor_hits = db_hits(dict(floor.consume().profile or {}))
            session.run(CLEAR_FLOOR).consume()
        return {"write_hits": hits, "floor_write_hits": floor_hits}

    def profiled(self, cypher: str, params: dict) -> dict:
        """PROFILE's plan, the rows read first (the server gives the figures after)."""
        with self.driver.session() as session:
            result = session.run("PROFILE " + cypher, params)
            list(result)
            return dict(result.consume().profile or {})

    async def measure(self, name: str) -> dict[str, float]:
        runs: list[dict[str, float]] = []
        for _ in range(self.repeat):
            runs.append({**{f"floor_{k}": v for k, v in self.floor_runs(name).items()},
                         **await self.idgraph_runs(name)})
        return {key: statistics.median(run[key] for run in runs) for key in runs[0]}

    async def close(self) -> None:
        self.driver.close()
        await self.graph.close()


def db_hits(plan: dict) -> int:
    return int(plan.get("dbHits", 0)) + sum(db_hits(c) for c in plan.get("children") or ())


def start_of(plan: dict) -> str:
    """The leaf of the plan's first branch: the operator the query starts with."""
    while plan.get("children"):
        plan = plan["children"][0]
    details = (plan.get("args") or {}).get("Details", "")
    return f"{str(plan.get('operatorType', '?')).split('@')[0]} {details}".strip()


def plan_lines(plans: dict) -> list[str]:
    lines = ["", "PROFILE of each rule's read (database hits; where the compiled rule starts):", "",
             "| rule | idgraph db hits | floor db hits | ratio | compiled rule starts with |",
             "| --- | ---: | ---: | ---: | --- |"]
    for name, p in plans.items():
        lines.append(f"| {name} | {p['hits']:,} | {p['floor_hits']:,} | "
                     f"{p['hits'] / max(p['floor_hits'], 1):.2f} | `{p['start']}` |")
    lines += ["", "PROFILE of a first evaluation's statements (the rule's ids, then per chunk "
              "each profile locked and its membership created: `ENTER`) and of the floor's "
              "write (database hits):", "",
              "| rule | idgraph first db hits | floor write db hits | ratio |",
              "| --- | ---: | ---: | ---: |"]
    for name, p in plans.items():
        lines.append(f"| {name} | {p['write_hits']:,} | {p['floor_write_hits']:,} | "
                     f"{p['write_hits'] / max(p['floor_write_hits'], 1):.2f} |")
    return lines


def report(profiles: int, manifest: dict, load_seconds: float, results: dict,
           store: str = "", writers: int = 2) -> list[str]:
    data = (f"{manifest['records']:,} records, {manifest['events']:,} events), ingested in "
            f"{load_seconds:.0f} s" if manifest else "the store of an earlier run)")
    about = store or (f"{profiles:,} generated people (`idgraph demo generate --seed 1`, "
                      f"{data}.")
    lines = [f"{about} As of {NOW}; median of the runs.", "",
             "| rule | members | floor read | idgraph rule read | read / floor read | floor write "
             "| idgraph first | first / floor write | Neo4j CPU: floor write | idgraph first "
             "| ratio | again (Neo4j CPU) | steady (Neo4j CPU) | guarded floor write "
             f"| first / guarded | floor write, {writers} at once | first / that |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| ---: | ---: | ---: | ---: | ---: |"]
    for name, r in results.items():
        assert r["members"] == r["floor_members"], (name, r)
        lines.append(
            f"| {name}: `{RULES[name]}` | {r['members']:,.0f} | {r['floor_read']:.2f} s | "
            f"{r['rule']:.2f} s | {r['rule'] / r['floor_read']:.2f} | {r['floor_write']:.2f} s | "
            f"{r['first']:.2f} s | {r['first'] / r['floor_write']:.2f} | "
            f"{r['floor_write_cpu']:.2f} s | {r['first_cpu']:.2f} s | "
            f"{r['first_cpu'] / max(r['floor_write_cpu'], 0.01):.2f} | "
            f"{r['again']:.2f} s ({r['again_cpu']:.2f} s) | "
            f"{r['steady']:.2f} s ({r['steady_cpu']:.2f} s) | {r['floor_guarded']:.2f} s "
            f"({r['floor_guarded'] / r['floor_write']:.2f}x the floor) | "
            f"{r['first'] / r['floor_guarded']:.2f} | {r['floor_concurrent']:.2f} s | "
            f"{r['first'] / r['floor_concurrent']:.2f} |")
    return lines


def scale_store_server(args: argparse.Namespace) -> tuple[str, tuple[str, str] | None, Path, str]:
    """The scale store with events (imported on first use); its segments cleared."""
    uri, auth = scale_store.ensure(args.port, args.profiles, events=True,
                                   pagecache=args.pagecache)
    with neo4j.GraphDatabase.driver(uri, auth=auth) as driver:
        clear_segments(driver)
        counts = driver.execute_query("MATCH (p:Profile) WITH count(p) AS people "
                                      "MATCH (e:Event) RETURN people, count(e) AS events"
                                      ).records[0]
    state_dir = scale_store.config(args.port, events=True).state_dir
    about = (f"{counts['people']:,} people and {counts['events']:,} events "
             f"(bench/scale_store.py with events, imported offline).")
    return uri, auth, state_dir, about


async def run(args: argparse.Namespace) -> None:
    if args.scale:  # (the store's loader runs event loops of its own: in a thread)
        store = await asyncio.to_thread(scale_store_server, args)
        await measure_and_report(args, *store, {}, 0.0)
        return
    uri = bench_server(port=args.port, heap=args.heap, pagecache=args.pagecache)
    graph = Graph(uri, auth_of(), "neo4j")
    await apply_schema(graph)
    await graph.close()
    with neo4j.GraphDatabase.driver(uri, auth=auth_of()) as driver:
        loaded = stored_profiles(driver) if args.reuse else 0
        if loaded:
            print(f"reusing the store's {loaded:,} profiles (their segments are redefined)")
            clear_segments(driver)
        else:
            wipe(driver)
    manifest, load_seconds = {}, 0.0
    if not loaded:
        with Timer() as loading:
            manifest = load(uri, args.profiles, args.seed)
        load_seconds = loading.seconds
    await measure_and_report(args, uri, auth_of(), BENCH_STATE_DIR, "", manifest, load_seconds)


async def measure_and_report(args: argparse.Namespace, uri: str, auth: tuple[str, str] | None,
                             state_dir: Path, store: str, manifest: dict, load_seconds: float
                             ) -> None:
    bench = Bench(uri, args.repeat, auth, state_dir)
    try:
        await bench.define()
        results = {name: await bench.measure(name) for name in RULES}
        plans = {name: {**await bench.plans(name), **await bench.write_plans(name)}
                 for name in RULES}
    finally:
        await bench.close()
    path = write_report("segments", "Segment evaluation: idgraph vs hand-written Cypher",
                        report(args.profiles, manifest, load_seconds, results, store,
                               bench.writers)
                        + plan_lines(plans) + notes(bench.writers))
    print(path.read_text())
    write_figures("segments", [
        Figure(f"segment evaluation ({name}) at {args.profiles:,} profiles", r["first"], "s",
               r["floor_write"], r["first"] / r["floor_write"], "ratio <= 1.2")
        for name, r in results.items()], {"profiles": args.profiles, "seed": args.seed})


def notes(writers: int = 2) -> list[str]:
    return ["", "Columns: `floor read` the hand-written query for the members (bare driver); "
            "`idgraph rule read` the compiled rule alone; `floor write` the hand-written query "
            "creating each member's membership (the eight properties idgraph stores, under an "
            "index on (segment, profile)), as many per transaction as idgraph's chunks (1,000); "
            "`idgraph first` a "
            "whole evaluation without prior memberships (rule, comparison, every member "
            "written as realized); `again` the next evaluation (realized rewritten as "
            "existing); `steady` the one after (nothing to write); `Neo4j CPU` the server's CPU "
            "seconds during the floor's write and idgraph's first evaluation; `guarded floor "
            "write` the floor's write with the guarantees idgraph's memberships keep (each "
            "profile locked, then its membership looked for and created only if missing; "
            "FLOOR_WRITE_GUARDED), not the issue's floor but the price of those guarantees "
            f"written by hand; `floor write, {writers} at once` the floor's write in {writers} "
            "concurrent transactions (FLOOR_WRITE_CONCURRENT), as idgraph writes its chunks "
            f"{writers} at a time "
            "(IDGRAPH_SEGMENT_WRITE_CONCURRENCY), again not the issue's floor. The composition is "
            "evaluated as `evaluateSegments` does, its parts fresh, reading their memberships."]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--heap", default="2g")
    parser.add_argument("--pagecache", default="1g")
    parser.add_argument("--scale", action="store_true",
                        help="the scale store with events (bench/scale_store.py) instead of "
                             "generated people; --port then names its server (default 17738)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the profiles already loaded (same --profiles and --seed)")
    args = parser.parse_args()
    if args.scale and args.port == PORT:
        args.port = 17738
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
