"""Benchmark at scale: bulk resolve and ingest on a store of N profiles (default 1,000,000).

The store (bench/scale_store.py) is loaded once and kept in `.idgraph/bench-scale-<port>`; every
run that adds people removes them again, so the store keeps its size. In one run, idgraph and
its floor alternate, `--rounds` times each:
- bulk resolve of 10,000 e-mails of known people: `resolve(identities: $ids) { profileId }` over
  HTTP (the API served by uvicorn, a partner key), against the bare driver's
  `UNWIND $keys AS k OPTIONAL MATCH (:Identity {key: k})-[:IN_PROFILE]->(p:Profile)
  RETURN collect(p.id)` (the issue's floor);
- ingest of 30,000 records: `idgraph ingest FILE` (the CLI, a process of its own) and the
  GraphQL `ingest` mutation in batches of 1,000, against bench/ingest.py's FLOOR_SAME_DATA by
  the bare driver, 1,000 rows per transaction; for each of three files (`--shapes`, SHAPES):
  `new`, every record a new person of 3 identities (the worst case: a profile per record);
  `repeat`, new people in 2.5 records each (bench/ingest.py's shape); `update`, people the store
  knows, each record a known e-mail and a new device id.
With `--explain`, the report adds the statements' PROFILEs and, with py-spy installed, where the
API's CPU went during the resolves and the mutation ingest.
Run: `python -m bench.scale [--profiles N --port P]`; the report: bench/results/scale-<N>.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import neo4j
import orjson

from bench import scale_store as store
from bench.common import Figure, Timer, write_figures, write_report
from bench.ingest import FLOOR_SAME_DATA, floor_rows, make_records
from bench.profile_read import free_port
from idgraph.identity.repository import RESOLVE

PARTNER_KEY = "bench-scale-partner-key-0123456789abcdef"
FLOOR_RESOLVE = """UNWIND $keys AS k
OPTIONAL MATCH (:Identity {key: k})-[:IN_PROFILE]->(p:Profile)
RETURN collect(p.id) AS ids"""
RESOLVE_DOC = "query R($ids: [IdentityInput!]!) { resolve(identities: $ids) { profileId } }"
INGEST_DOC = """mutation I($records: [RecordInput!]) { ingest(records: $records) {
  accepted rejected profilesCreated } }"""
DEFERRED_DOC = """mutation D($records: [RecordInput!]) { ingestDeferred(records: $records) {
  accepted rejected } }"""
NEW_PEOPLE = 10_000_000  # new people are numbered from here: never in the store
# Not the floor, a bound of this design: the bare driver writing, for each new person,
# exactly the nodes, relationships and properties an idgraph ingest leaves (its profile with 3
# memberships and a view node included), in one statement per 1,000 records, with no reads,
# no re-clustering, no locks. What it leaves of FLOOR_SAME_DATA's rate is the most a serial
# writer of idgraph's data can reach, whatever its code.
MODEL_FLOOR = """
UNWIND $rows AS row
CREATE (r:Record {key: row.source + '|' + row.id, source: row.source, recordId: row.id,
                  ts: row.ts, ingestedAt: $now, batch: $batch, attributes: '{}'})
CREATE (p:Profile {id: row.pid, createdAt: $now, updatedAt: $now, size: size(row.ids),
                   primaryKey: row.ids[0], createdBy: 'ingest:bench'})
CREATE (p)-[:VIEW]->(:ProfileView {_profile: row.pid, _size: size(row.ids), _isTest: false,
        _stitched: true, _json: '{}', _policy: 'default', _policyRevision: 0, _updatedAt: $now})
WITH r, row, p
CALL (r, row, p) {
  UNWIND row.ids AS key
  MERGE (i:Identity {key: key})
    ON CREATE SET i.namespace = split(key, ':')[0], i.value = split(key, ':')[1],
                  i.firstSeen = row.ts, i.lastSeen = row.ts, i.createdBatch = $batch
  CREATE (r)-[:KEYED_BY]->(i)
  CREATE (i)-[:IN_PROFILE]->(p)
}
WITH row
UNWIND row.pairs AS pair
MATCH (a:Identity {key: pair[0]}), (b:Identity {key: pair[1]})
MERGE (a)-[l:LINK {source: row.source}]->(b)
  ON CREATE SET l.count = 1, l.firstSeen = row.ts, l.lastSeen = row.ts, l.firstRecordId = row.id,
                l.lastRecordId = row.id, l.status = 'active', l.batch = $batch
"""


def new_records(count: int) -> list[dict]:
    """Records of new people, 3 identities each, as a partner's file holds them."""
    out = []
    for n in range(NEW_PEOPLE, NEW_PEOPLE + count):
        out.append({"source": "web", "recordId": f"W{n}", "timestamp": store.TS0 + n,
                     "identities": [{"namespace": "crm", "value": f"C{n}"},
                                    {"namespace": "email", "value": store.email(n)},
                                    {"namespace": "ecid", "value": f"k{n}a"}]})
    return out


def repeat_records(count: int) -> list[dict]:
    """Records of new people that repeat them: bench/ingest.py's file (2.5 records per person
    on average, from three sources, each showing 2-3 of the person's 4 identities)."""
    return make_records(count, first_person=NEW_PEOPLE)


def update_records(count: int, loaded: int, seed: int = 11) -> list[dict]:
    """Records of people the store knows, as a till's daily file holds them: one of their
    e-mails and a device id never seen before, so each joins a known profile."""
    rng = random.Random(seed)
    return [{"source": "pos", "recordId": f"U{i}", "timestamp": store.TS0 + loaded + i,
             "identities": [{"namespace": "email", "value": store.email(n)},
                            {"namespace": "ecid", "value": f"k{n}u"}]}
            for i, n in enumerate(rng.sample(range(loaded), min(count, loaded)))]


def added_keys(records: list[dict]) -> tuple[list[str], list[str]]:
    return ([f"{r['source']}|{r['recordId']}" for r in records],
            sorted({f"{i['namespace']}:{i['value']}" for r in records
                    for i in r["identities"]}))


def remove_new_people(driver: neo4j.Driver, records: list[dict]) -> None:
    store.remove_keys(driver, *added_keys(records))


def remove_updates(driver: neo4j.Driver, records: list[dict]) -> None:
    """The records and the new device ids; the known people and their profiles stay (a profile
    keeps the size it had with the device: the next run writes it again)."""
    record_keys, identity_keys = added_keys(records)
    store.remove_keys(driver, record_keys, [])
    store.remove_identities_only(driver, [k for k in identity_keys if k.startswith("ecid:")])


@dataclass(frozen=True)
class Shape:
    """A partner's file: what its records hold, how a run's additions are removed again."""

    name: str
    heading: str  # "Ingest of 30,000 <heading>"
    figure: str  # the figures' "ingest of <figure> by ..."
    records: Callable[[int, int], list[dict]]  # (records, profiles in the store)
    remove: Callable[[neo4j.Driver, list[dict]], None]
    model: bool  # MODEL_FLOOR (a new profile per record) applies


SHAPES = {
    "new": Shape("new", "new records (3 identities each, every record a new person)",
                 "new records", lambda count, loaded: new_records(count), remove_new_people,
                 True),
    "repeat": Shape("repeat", "records repeating new people (2.5 records per person, 2-3 of "
                    "their 4 identities each, bench/ingest.py's shape)",
                    "records repeating new people", lambda count, loaded: repeat_records(count),
                    remove_new_people, False),
    "update": Shape("update", "records of known people (a known e-mail and a new device id "
                    "each: every record joins a profile of the store)",
                    "records of known people", update_records, remove_updates, False),
}


class Api:
    """The API served by uvicorn in a process of its own, as deployed."""

    def __init__(self, uri: str, auth: tuple[str, str] | None,
                 keys: str = f"{PARTNER_KEY}:partner") -> None:
        port = free_port()
        self.port = port
        # Bytecode cached as in a partner's install (this machine's shell may turn it off,
        # which would charge each CLI run the compiling of idgraph's modules).
        self.env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
                    "NEO4J_URI": uri, "NEO4J_PASSWORD": (auth or ("", ""))[1],
                    "IDGRAPH_API_KEYS": keys,
                    "IDGRAPH_RATE_LIMIT_PER_MINUTE": "1e12",
                    "IDGRAPH_RATE_LIMIT_BURST": "1000000000",
                    # a busy machine: a batch into a large store may pass the 30 s default
                    "IDGRAPH_NEO4J_QUERY_TIMEOUT": "600"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "idgraph.api.http.app:create_app",
             "--port", str(port), "--no-access-log", "--log-level", "warning"], env=self.env)
        self.url = f"http://127.0.0.1:{port}/graphql"
        self.client = httpx.Client(timeout=900, headers={
            "authorization": f"Bearer {PARTNER_KEY}", "content-type": "application/json"})
        for _ in range(1200):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the API did not start")

    def post(self, query: str, variables: dict) -> dict:
        # orjson both ways, as a client that cares would (the floor's driver encodes and
        # decodes too, inside its timing)
        body = orjson.loads(self.client.post(self.url, content=orjson.dumps(
            {"query": query, "variables": variables})).content)
        if body.get("errors"):
            raise RuntimeError(str(body["errors"])[:500])
        return body["data"]

    def close(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait()


# -- bulk resolve ---------------------------------------------------------------------------

def resolve_probe(loaded: int, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [store.email(rng.randrange(loaded)) for _ in range(count)]


def resolve_floor(driver: neo4j.Driver, emails: list[str]) -> tuple[float, list[str]]:
    keys = [f"email:{e}" for e in emails]
    with Timer() as t:
        ids = driver.execute_query(FLOOR_RESOLVE, keys=keys).records[0]["ids"]
    return t.seconds, ids


def resolve_idgraph(api: Api, emails: list[str]) -> tuple[float, list[str | None]]:
    variables = {"ids": [{"namespace": "email", "value": e} for e in emails]}
    with Timer() as t:
        rows = api.post(RESOLVE_DOC, variables)["resolve"]
    return t.seconds, [r["profileId"] for r in rows]


def bench_resolve(driver: neo4j.Driver, api: Api, loaded: int, rounds: int,
                  count: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"floor": [], "idgraph": []}
    for warm in range(2):  # plans, JIT, the page cache and the API's compiled document
        resolve_floor(driver, resolve_probe(loaded, count, 100 + warm))
        resolve_idgraph(api, resolve_probe(loaded, count, 100 + warm))
    for r in range(rounds):
        emails = resolve_probe(loaded, count, r)  # each round its own people, for both
        floor_s, floor_ids = resolve_floor(driver, emails)
        ours_s, ours_ids = resolve_idgraph(api, emails)
        assert ours_ids == floor_ids, "idgraph and the floor disagree"
        times["floor"].append(floor_s)
        times["idgraph"].append(ours_s)
        print(f"  resolve round {r}: floor {floor_s * 1000:.0f} ms, idgraph "
              f"{ours_s * 1000:.0f} ms", flush=True)
    return times


# -- ingest ---------------------------------------------------------------------------------

def ingest_floor(driver: neo4j.Driver, records: list[dict], batch: int = 1000) -> float:
    rows = floor_rows(records)
    with Timer() as t:
        for start in range(0, len(rows), batch):
            driver.execute_query(FLOOR_SAME_DATA, rows=rows[start:start + batch])
    return t.seconds


def ingest_model(driver: neo4j.Driver, records: list[dict], batch: int = 1000) -> float:
    """MODEL_FLOOR: idgraph's data written by the bare driver, 1,000 rows per transaction."""
    rows = [row | {"pid": f"{n:032x}"} for n, row in enumerate(floor_rows(records), 1 << 100)]
    now = int(time.time() * 1000)
    with Timer() as t:
        for start in range(0, len(rows), batch):
            driver.execute_query(MODEL_FLOOR, rows=rows[start:start + batch], now=now,
                                 batch=1)
    return t.seconds


def ingest_cli(api: Api, file: Path, *options: str) -> float:
    """`idgraph ingest FILE`, as a partner runs it (the process's start included)."""
    idgraph = shutil.which("idgraph", path=str(Path(sys.executable).parent)) or "idgraph"
    with Timer() as t:
        subprocess.run([idgraph, "ingest", str(file), "--no-progress", *options], env=api.env,
                       check=True, stdout=subprocess.DEVNULL)
    return t.seconds


def ingest_graphql(api: Api, records: list[dict], batch: int = 1000,
                   document: str = INGEST_DOC, field: str = "ingest") -> float:
    records = [{**r, "timestamp": _iso(r["timestamp"])} for r in records]  # a DateTime there
    with Timer() as t:
        for start in range(0, len(records), batch):
            done = api.post(document, {"records": records[start:start + batch]})[field]
            assert done["accepted"] == len(records[start:start + batch]), done
    return t.seconds


class Deferred:
    """A deferred ingest's two times: until its last answer (`accepted`), and until the API's
    settler has emptied the backlog (`settled`, from the same start: the profiles exist)."""

    def __init__(self, driver: neo4j.Driver) -> None:
        self.driver = driver
        self.settled: list[float] = []

    def run(self, ingest: Callable[[], float]) -> float:
        start = time.perf_counter()
        accepted = ingest()
        while self.driver.execute_query(BACKLOG_LEFT).records[0]["n"]:
            time.sleep(0.02)
        self.settled.append(time.perf_counter() - start)
        return accepted


BACKLOG_LEFT = "MATCH (b:BacklogEntry) RETURN count(b) AS n"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def bench_ingest(driver: neo4j.Driver, api: Api, rounds: int, count: int,
                 shape: Shape = SHAPES["new"], loaded: int = 0) -> dict[str, list[float]]:
    records = shape.records(count, loaded)
    times: dict[str, list[float]] = {"floor": [], "model": [], "cli": [], "graphql": [],
                                     "cli-defer": [], "graphql-defer": []}
    cli_deferred, graphql_deferred = Deferred(driver), Deferred(driver)
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "records.jsonl"
        file.write_text("".join(json.dumps(r) + "\n" for r in records))
        runs = {"floor": lambda: ingest_floor(driver, records),
                "model": lambda: ingest_model(driver, records),
                "cli": lambda: ingest_cli(api, file),
                "graphql": lambda: ingest_graphql(api, records),
                "cli-defer": lambda: cli_deferred.run(lambda: ingest_cli(api, file, "--defer")),
                "graphql-defer": lambda: graphql_deferred.run(lambda: ingest_graphql(
                    api, records, document=DEFERRED_DOC, field="ingestDeferred"))}
        if not shape.model:
            del runs["model"], times["model"]
        warm = records[:max(500, count // 10)]  # every kind of work once, on a few records
        ingest_floor(driver, warm)
        shape.remove(driver, warm)
        ingest_graphql(api, warm)
        shape.remove(driver, warm)
        names = list(runs)
        for r in range(rounds):
            # Each round starts one run later: no run always follows the same one (the
            # removal of the previous run's records leaves Neo4j work that a fixed order
            # would always charge to the same run).
            for name in names[r % len(names):] + names[:r % len(names)]:
                seconds = runs[name]()
                shape.remove(driver, records)
                times[name].append(seconds)
                print(f"  ingest ({shape.name}) round {r} {name}: {count / seconds:,.0f} "
                      "records/s", flush=True)
    times["cli-defer-settled"] = cli_deferred.settled
    times["graphql-defer-settled"] = graphql_deferred.settled
    return times


# -- where the time goes --------------------------------------------------------------------

def statement_profiles(driver: neo4j.Driver, loaded: int) -> list[str]:
    """PROFILE of idgraph's resolve statement and of the floor's, on 10,000 keys."""
    keys = [f"email:{e}" for e in resolve_probe(loaded, 10_000, 7)]
    lines = []
    for name, statement in (("idgraph RESOLVE", RESOLVE), ("floor", FLOOR_RESOLVE)):
        summary = driver.execute_query("PROFILE " + statement, keys=keys).summary
        plan = summary.profile
        lines += [f"{name}: {_db_hits(plan):,} db hits, server time "
                  f"{summary.result_available_after + summary.result_consumed_after} ms", "",
                  "```", *_plan_lines(plan), "```", ""]
    return lines


def _db_hits(plan: dict) -> int:
    return int(plan.get("dbHits", 0)) + sum(_db_hits(c) for c in plan.get("children", []))


def _plan_lines(plan: dict, depth: int = 0) -> list[str]:
    args = plan.get("args", {})
    line = (f"{'  ' * depth}{plan['operatorType']}  rows={plan.get('rows', '?')} "
            f"hits={plan.get('dbHits', '?')} {args.get('Details', '')}")[:160]
    return [line] + [x for c in plan.get("children", []) for x in _plan_lines(c, depth + 1)]


def py_spy(pid: int, work, top: int = 14) -> list[str]:
    """The API's busiest functions (own time) while `work()` runs, by py-spy."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        return ["(py-spy not installed)"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "raw.txt"
        proc = subprocess.Popen([spy, "record", "-p", str(pid), "-o", str(out), "-f", "raw",
                                 "-r", "200", "--nonblocking"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        work()
        proc.send_signal(2)
        proc.wait()
        own: Counter[str] = Counter()
        within: Counter[str] = Counter()
        for line in out.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            frames = stack.split(";")
            own[frames[-1]] += int(n)
            for area in {_area(frame) for frame in frames}:
                within[area] += int(n)
        total = sum(own.values()) or 1
    lines = [f"{total} samples; share of samples inside each area:", ""]
    lines += [f"- {area}: {n / total:.0%}" for area, n in within.most_common() if area]
    lines += ["", "busiest functions (own time):", ""]
    lines += [f"- {n / total:.1%} {frame[:120]}" for frame, n in own.most_common(top)]
    return lines


# First match wins: idgraph's own modules live under idgraph/api/graphql/ too.
AREAS = {"idgraph/": "idgraph", "neo4j/": "the Neo4j driver", "graphql/": "graphql-core",
         "strawberry/": "strawberry", "uvicorn/": "uvicorn", "json": "JSON"}


def _area(frame: str) -> str:
    for marker, area in AREAS.items():
        if marker in frame:
            return area
    return ""


# -- the run --------------------------------------------------------------------------------

def _ratio_row(label: str, ours: list[float], floor: list[float], unit: float = 1.0) -> str:
    o, f = statistics.median(ours), statistics.median(floor)
    runs = ", ".join(f"{s * unit:.2f}" for s in ours)
    return f"| {label} | {runs} | {o * unit:.2f} | {f / o:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=17737)
    parser.add_argument("--events", action="store_true",
                        help="the store with events of bench.segments --scale (its port: 17738)")
    parser.add_argument("--pagecache", default="3g")
    parser.add_argument("--rounds", type=int, default=3, help="bulk resolve rounds")
    parser.add_argument("--ingest-rounds", type=int, default=2)
    parser.add_argument("--resolve", type=int, default=10_000, help="identities per resolve")
    parser.add_argument("--records", type=int, default=30_000, help="records per ingest run")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--shapes", default=",".join(SHAPES),
                        help=f"ingest files measured, of {', '.join(SHAPES)}")
    parser.add_argument("--explain", action="store_true", help="PROFILEs and py-spy too")
    args = parser.parse_args()
    with Timer() as load:
        uri, auth = store.ensure(args.port, args.profiles, events=args.events,
                                 pagecache=args.pagecache)
    print(f"store ready ({args.profiles:,} profiles) in {load.seconds:.0f} s", flush=True)
    api = Api(uri, auth)
    lines: list[str] = []
    try:
        with neo4j.GraphDatabase.driver(uri, auth=auth,
                                        notifications_min_severity="OFF") as driver:
            loaded = store.loaded(driver)
            res = bench_resolve(driver, api, loaded, args.rounds, args.resolve)
            lines += _resolve_report(res, loaded, args)
            ings: dict[str, dict[str, list[float]]] = {}
            for name in [] if args.skip_ingest else args.shapes.split(","):
                ings[name] = bench_ingest(driver, api, args.ingest_rounds, args.records,
                                          SHAPES[name], loaded)
                lines += _ingest_report(ings[name], args, SHAPES[name])
            if args.explain:
                lines += ["## Where the time goes", "", "### Statement PROFILEs (10,000 keys)",
                          ""] + statement_profiles(driver, loaded)
                emails = resolve_probe(loaded, args.resolve, 11)
                lines += ["### py-spy of the API: 5 bulk resolves", ""] + py_spy(
                    api.proc.pid, lambda: [resolve_idgraph(api, emails) for _ in range(5)])
                if not args.skip_ingest:
                    records = new_records(5_000)
                    lines += ["", "### py-spy of the API: 5,000 records by the mutation", ""]
                    lines += py_spy(api.proc.pid, lambda: ingest_graphql(api, records))
                    store.remove_keys(driver, *added_keys(records))
    finally:
        api.close()
    path = write_report(f"scale-{args.profiles}", f"Benchmark at scale: {args.profiles:,} "
                        "profiles", lines)
    print(path.read_text())
    figs = figures(args.profiles, args.resolve, args.records, res, None)
    for name, ing in ings.items():
        figs += ingest_figures(args.profiles, args.records, ing, SHAPES[name])
    write_figures(f"scale-{args.profiles}", figs,
                  {"profiles": args.profiles, "rounds": args.rounds,
                   "ingest_rounds": args.ingest_rounds})


def figures(profiles: int, resolve: int, records: int, res: dict[str, list[float]],
            ing: dict[str, list[float]] | None) -> list[Figure]:
    """Issue #19's goals: bulk resolve <= 1.5x its floor, ingest >= 0.8x (medians of rounds);
    `ing`: the ingest of new records, if measured."""
    med = statistics.median
    out = [Figure(f"bulk resolve of {resolve:,} e-mails at {profiles:,} profiles",
                  med(res["idgraph"]), "s", med(res["floor"]),
                  med(res["idgraph"]) / med(res["floor"]), "ratio <= 1.5")]
    return out + ([] if ing is None else ingest_figures(profiles, records, ing, SHAPES["new"]))


def ingest_figures(profiles: int, records: int, ing: dict[str, list[float]],
                   shape: Shape) -> list[Figure]:
    med = statistics.median
    at = f"at {profiles:,} profiles"
    out = []
    for name, label in (("cli", "`idgraph ingest FILE`"), ("graphql", "GraphQL mutation"),
                        ("cli-defer", "`idgraph ingest FILE --defer` (accepted)"),
                        ("graphql-defer", "GraphQL `ingestDeferred` (accepted)")):
        if not ing.get(name):
            continue
        ours, floor = records / med(ing[name]), records / med(ing["floor"])
        out.append(Figure(f"ingest of {shape.figure} by {label} {at}", ours, "records/s",
                          floor, ours / floor, "ratio >= 0.8"))
    for name, label in (("cli-defer-settled", "`idgraph ingest FILE --defer`"),
                        ("graphql-defer-settled", "GraphQL `ingestDeferred`")):
        if ing.get(name):  # no goal: the profiles' lag behind the answers
            ours, floor = records / med(ing[name]), records / med(ing["floor"])
            out.append(Figure(f"ingest of {shape.figure} by {label}, until settled {at}",
                              ours, "records/s", floor, ours / floor))
    if ing.get("model"):  # no goal: the most a serial writer can reach
        model, floor = records / med(ing["model"]), records / med(ing["floor"])
        out.append(Figure(f"bound of the design: idgraph's own data by the bare driver "
                          f"(MODEL_FLOOR) {at}", model, "records/s", floor, model / floor))
    return out


def _resolve_report(res: dict[str, list[float]], loaded: int, args) -> list[str]:
    return [f"Store: {loaded:,} profiles of 3 identities each (bench/scale_store.py). "
            f"idgraph and its floor alternated, {args.rounds} rounds each, medians; the "
            "ingest runs in a rotated order (each round starts one run later).", "",
            f"## Bulk resolve of {args.resolve:,} e-mails in one call", "",
            "| run | ms per call (each round) | median ms | floor / idgraph |",
            "| --- | --- | ---: | ---: |",
            _ratio_row("floor: bare driver `UNWIND ... OPTIONAL MATCH ... collect(p.id)`",
                       res["floor"], res["floor"], 1000),
            _ratio_row("idgraph: `resolve(identities: $ids) { profileId }` over HTTP",
                       res["idgraph"], res["floor"], 1000), "",
            f"idgraph / floor: **{_median_ratio(res['idgraph'], res['floor']):.2f}x** "
            "(goal <= 1.5x).", ""]


def _median_ratio(ours: list[float], floor: list[float]) -> float:
    return statistics.median(ours) / statistics.median(floor)


def _ingest_report(ing: dict[str, list[float]], args, shape: Shape) -> list[str]:
    n = args.records

    def row(label: str, name: str) -> str:
        rates = ", ".join(f"{n / s:,.0f}" for s in ing[name])
        median = statistics.median(ing[name])
        return (f"| {label} | {rates} | {n / median:,.0f} | "
                f"{statistics.median(ing['floor']) / median:.2f} |")

    model = [row("bound of the design: MODEL_FLOOR, idgraph's own data by the bare driver, "
                 "1,000 rows per tx", "model")] if "model" in ing else []
    return [f"## Ingest of {n:,} {shape.heading}, {args.ingest_rounds} rounds", "",
            "| run | records/s (each round) | median records/s | idgraph / floor |",
            "| --- | --- | ---: | ---: |",
            row("floor: bench/ingest.py FLOOR_SAME_DATA, bare driver, 1,000 rows per tx",
                "floor"), *model,
            row("idgraph: `idgraph ingest FILE` (a process of its own, its start included)",
                "cli"),
            row("idgraph: GraphQL `ingest` mutation over HTTP, batches of 1,000", "graphql"),
            row("idgraph, deferred, accepted: `idgraph ingest FILE --defer`", "cli-defer"),
            row("idgraph, deferred, settled: the same until the API's settler emptied the "
                "backlog", "cli-defer-settled"),
            row("idgraph, deferred, accepted: GraphQL `ingestDeferred`, batches of 1,000",
                "graphql-defer"),
            row("idgraph, deferred, settled: the same until the API's settler emptied the "
                "backlog", "graphql-defer-settled"),
            ""]


if __name__ == "__main__":
    main()
