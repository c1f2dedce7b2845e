"""Growth: the profile read, bulk resolve, ingest and a segment evaluation at 10,000, 100,000 and
1,000,000 profiles, each beside its floor (the bare driver doing the same work, measured in the
same run), drawn as plots in docs/growth-*.png (issue #18 item 4).

Each size is a scale store (bench/scale_store.py: what idgraph's ingest writes for people of
three identities whose CRM record carries `loyaltyTier` and `age`, so their views hold them),
kept in `.idgraph/bench-scale-<port>`, one port per size; its server is stopped after its size
is measured, so one runs at a time. At each size, with the API served by uvicorn (its own
process):
- profile read: `profile(identity) { attributes identities }` over HTTP against the bare
  driver's auto-commit `VIEW_BY_IDENTITY` (bench/profile_read.py's floor), sequential reads of
  random people, interleaved in runs of 100;
- bulk resolve of 10,000 e-mails (bench/scale.py's, against its floor);
- ingest of new people by the GraphQL mutation, batches of 1,000, against bench/ingest.py's
  FLOOR_SAME_DATA (removed again after each run, so the store keeps its size);
- segment evaluation of `loyaltyTier in ["gold", "platinum"] or age >= 60` (a whole first
  evaluation writing every member, and the compiled rule's read alone) against bench/
  segments.py's hand-written Cypher (its write and its read).

A run may measure some sizes only (`--sizes 1000000`): the figures of sizes measured earlier
are kept (bench/results/growth.json's context) and the plots and report drawn from them all.
Run: `python -m bench.growth [--sizes 10000 100000 1000000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import neo4j

from bench import scale, scale_store
from bench.common import RESULTS, Figure, Timer, percentile, write_figures, write_report
from bench.profile_read import APP_KEY, GRAPHQL, LeanHttpClient, time_calls
from bench.segments import FLOOR_INDEX, FLOOR_SEGMENT, FLOOR_WRITE
from idgraph.config import Settings
from idgraph.db import local_server
from idgraph.db.graph import Graph
from idgraph.profile.repository import VIEW_BY_IDENTITY

DOCS = Path(__file__).resolve().parents[1] / "docs"
PORTS = {10_000: 17741, 100_000: 17742, 1_000_000: 17743}
SEGMENT = "growth-attribute"
RULE = 'loyaltyTier in ["gold", "platinum"] or age >= 60'
FLOOR_SEGMENT_READ = ("MATCH (p:Profile)-[:VIEW]->(v:ProfileView) WHERE NOT v._isTest AND "
                      "(v.loyaltyTier IN ['gold', 'platinum'] OR v.age >= 60)\n")
CLEAR_FLOOR = """
MATCH (s:FloorSegment)
OPTIONAL MATCH (s)<-[m:FLOOR_MEMBER]-()
CALL (m) { DELETE m } IN TRANSACTIONS OF 10000 ROWS
"""
DROP_FLOOR_SEGMENT = "MATCH (s:FloorSegment) DETACH DELETE s"
# The floor's transactions are as large as idgraph's evaluation chunks (bench/segments.py).
CHUNK = Settings().segment_write_chunk


# -- the measurements -------------------------------------------------------------------------

def profile_reads(driver: neo4j.Driver, api: scale.Api, loaded: int,
                  n: int) -> dict[str, list[float]]:
    """Read latencies in ms, idgraph over HTTP and the floor, interleaved in runs of 100."""
    calls, keys = read_paths(driver, api, loaded, n)
    for call in calls.values():  # plans, connections, the page cache
        time_calls(call, keys[: n // 4])
    out: dict[str, list[float]] = {name: [] for name in calls}
    for turn, start in enumerate(range(0, n, 100)):
        order = list(calls) if turn % 2 == 0 else list(reversed(calls))
        for name in order:
            out[name] += time_calls(calls[name], keys[start:start + 100])
    return out


def interleaved_reads(sizes: list[int], n: int) -> dict[int, dict[str, list[float]]]:
    """Profile reads of every size in the same minutes: each store's server and API up at
    once, runs of 100 reads turning over the sizes and paths, so the machine's load (other
    work on it) falls on every size alike; the fairest test of flatness on a shared machine."""
    stores, out = [], {}
    try:
        for size in sizes:
            uri, auth = scale_store.ensure(PORTS[size], size)
            api = scale.Api(uri, auth, keys=f"{scale.PARTNER_KEY}:partner,{APP_KEY}:app")
            driver = neo4j.GraphDatabase.driver(uri, auth=auth, notifications_min_severity="OFF")
            stores.append((size, api, driver))
        paths = {size: read_paths(driver, api, scale_store.loaded(driver), n)
                 for size, api, driver in stores}
        for calls, keys in paths.values():  # plans, connections, the page cache
            for call in calls.values():
                time_calls(call, keys[: n // 4])
        out = {size: {name: [] for name in calls} for size, (calls, _) in paths.items()}
        runs = [(size, name) for size, (calls, _) in paths.items() for name in calls]
        for turn, start in enumerate(range(0, n, 100)):
            shift = turn % len(runs)
            for size, name in runs[shift:] + runs[:shift]:
                calls, keys = paths[size]
                out[size][name] += time_calls(calls[name], keys[start:start + 100])
    finally:
        for size, api, driver in stores:
            driver.close()
            api.close()
            local_server.stop(scale_store.config(PORTS[size]))
    return out


def read_paths(driver: neo4j.Driver, api: scale.Api, loaded: int, n: int
               ) -> tuple[dict[str, Any], list[str]]:
    """The floor's and idgraph's read of one store, and the keys to read (random people)."""
    rng = random.Random(11)
    keys = [f"email:{scale_store.email(rng.randrange(loaded))}" for _ in range(n)]
    params = {"withFragments": False, "withView": True, "policies": []}
    session = driver.session(default_access_mode=neo4j.READ_ACCESS)
    client = LeanHttpClient(f"http://127.0.0.1:{api.port}")

    def floor(key: str) -> None:
        records = session.run(VIEW_BY_IDENTITY, key=key, **params).data()
        assert records and records[0]["viewJson"], key

    def idgraph(key: str) -> None:
        namespace, value = key.split(":", 1)
        body = json.loads(client.post(json.dumps({"query": GRAPHQL, "variables": {
            "identity": {"namespace": namespace, "value": value}}}).encode()))
        assert body["data"]["profile"]["attributes"], body

    return {"floor": floor, "idgraph": idgraph}, keys


def interleaved_summary(found: dict[int, dict[str, list[float]]]) -> dict[str, Any]:
    """growth.json's record of an interleaved read run: p50/p99 per size and path."""
    return {"measured": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_average": list(_load_average()),
            "sizes": {str(size): {f"{name}_p{pct}_ms": percentile(samples, pct)
                                  for name, samples in paths.items() for pct in (50, 99)}
                      | {"reads": len(paths["idgraph"])}
                      for size, paths in found.items()}}


def ingest(driver: neo4j.Driver, api: scale.Api, rounds: int,
           count: int) -> dict[str, list[float]]:
    """Seconds per run of `count` new people: the floor and the GraphQL mutation, alternated;
    what each run added is removed again."""
    records = scale.new_records(count)
    keys = scale.added_keys(records)
    warm = records[: max(200, count // 10)]
    for run in (lambda: scale.ingest_floor(driver, warm),
                lambda: scale.ingest_graphql(api, warm)):
        run()
        scale_store.remove_keys(driver, *scale.added_keys(warm))
    out: dict[str, list[float]] = {"floor": [], "idgraph": []}
    for r in range(rounds):
        for name, run in (("floor", lambda: scale.ingest_floor(driver, records)),
                          ("idgraph", lambda: scale.ingest_graphql(api, records))):
            seconds = run()
            scale_store.remove_keys(driver, *keys)
            out[name].append(seconds)
            print(f"  ingest round {r} {name}: {count / seconds:,.0f} records/s", flush=True)
    return out


async def segment(uri: str, auth: tuple[str, str] | None, driver: neo4j.Driver,
                  rounds: int) -> dict[str, Any]:
    """A first evaluation (every member written) and the compiled rule's read, idgraph and
    floor alternated; seconds, and the members."""
    from idgraph.segments.service import SegmentSpec
    from idgraph.services import Services

    graph = Graph(uri, auth, "neo4j", timeout=3600)
    segments = Services.build(Settings(neo4j_uri=uri), graph).segments
    as_of = int(time.time() * 1000)
    out: dict[str, Any] = {"first": [], "rule": [], "floor_write": [], "floor_read": []}
    try:
        if await segments.service.repository.get(SEGMENT) is None:
            await segments.service.create(SegmentSpec(id=SEGMENT, name=SEGMENT, definition=RULE))
        saved = await segments.service.get(SEGMENT)
        await segments.evaluator.evaluate(SEGMENT, as_of)  # plans, the page cache, the JIT
        floor_segment(driver, as_of)
        for _ in range(rounds):
            await segments.service.repository.drop_memberships(SEGMENT, 10_000)
            with Timer() as t:
                await segments.evaluator.evaluate(SEGMENT, as_of)
            out["first"].append(t.seconds)
            query = await segments.evaluator.compile(saved, as_of, [])
            with Timer() as t:
                ids = await graph.read_plain(query.cypher, **query.params)
            out["rule"].append(t.seconds)
            out["members"] = len(ids)
            read, write, members = floor_segment(driver, as_of)
            out["floor_read"].append(read)
            out["floor_write"].append(write)
            assert members == out["members"], (members, out["members"])
            print(f"  segment: first {out['first'][-1]:.2f} s (floor {write:.2f} s), rule "
                  f"{out['rule'][-1]:.2f} s (floor {read:.2f} s), {members:,} members",
                  flush=True)
        await segments.service.repository.drop_memberships(SEGMENT, 10_000)
    finally:
        await graph.close()
        with driver.session() as session:  # CALL IN TRANSACTIONS: an auto-commit statement
            session.run(CLEAR_FLOOR).consume()
            session.run(DROP_FLOOR_SEGMENT).consume()
    return out


def floor_segment(driver: neo4j.Driver, as_of: int) -> tuple[float, float, int]:
    params = {"now": as_of, "segment": SEGMENT, "run": "floor"}  # FLOOR_WRITE stores a run
    with driver.session() as session:
        session.run(CLEAR_FLOOR).consume()
        # The floor's memberships indexed as idgraph's are (bench/segments.py): without it the
        # floor wrote them at a fraction of the cost, and a first evaluation read 2x its floor.
        session.run(FLOOR_INDEX).consume()
        session.run("CALL db.awaitIndexes(300)").consume()
        session.run(FLOOR_SEGMENT, params).consume()
        with Timer() as read:
            ids = session.run(FLOOR_SEGMENT_READ + "RETURN p.id AS id", params).value()
        with Timer() as write:
            session.run(FLOOR_WRITE.format(query=FLOOR_SEGMENT_READ, chunk=CHUNK),
                    params).consume()
    return read.seconds, write.seconds, len(ids)


def measure_size(size: int, port: int, args: argparse.Namespace) -> dict[str, Any]:
    """Every figure at one size, as summary numbers (what the report and plots need)."""
    with Timer() as ready:
        uri, auth = scale_store.ensure(port, size)
    print(f"store of {size:,} profiles ready in {ready.seconds:.0f} s", flush=True)
    api = scale.Api(uri, auth, keys=f"{scale.PARTNER_KEY}:partner,{APP_KEY}:app")
    try:
        with neo4j.GraphDatabase.driver(uri, auth=auth,
                                        notifications_min_severity="OFF") as driver:
            loaded = scale_store.loaded(driver)
            reads = profile_reads(driver, api, loaded, args.reads)
            resolves = scale.bench_resolve(driver, api, loaded, args.rounds, args.resolve)
            ingests = ingest(driver, api, args.ingest_rounds, args.records)
            seg = asyncio.run(segment(uri, auth, driver, args.segment_rounds))
    finally:
        api.close()
        if not args.keep_running:
            local_server.stop(scale_store.config(port))
    return summary(loaded, reads, resolves, ingests, seg, args)


def summary(loaded: int, reads: dict[str, list[float]], resolves: dict[str, list[float]],
            ingests: dict[str, list[float]], seg: dict[str, Any],
            args: argparse.Namespace) -> dict[str, Any]:
    med = statistics.median
    return {
        "profiles": loaded, "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "read_p50_ms": percentile(reads["idgraph"], 50),
        "read_p99_ms": percentile(reads["idgraph"], 99),
        "floor_read_p50_ms": percentile(reads["floor"], 50),
        "floor_read_p99_ms": percentile(reads["floor"], 99),
        "reads": len(reads["idgraph"]),
        "resolve_s": med(resolves["idgraph"]), "floor_resolve_s": med(resolves["floor"]),
        "resolve_identities": args.resolve, "resolve_rounds": args.rounds,
        "ingest_rps": args.records / med(ingests["idgraph"]),
        "floor_ingest_rps": args.records / med(ingests["floor"]),
        "ingest_records": args.records, "ingest_rounds": args.ingest_rounds,
        "segment_first_s": med(seg["first"]), "floor_segment_write_s": med(seg["floor_write"]),
        "segment_rule_s": med(seg["rule"]), "floor_segment_read_s": med(seg["floor_read"]),
        "segment_members": seg["members"], "segment_rounds": args.segment_rounds,
        "load_average": list(_load_average()),
    }


def _load_average() -> tuple[float, float, float]:
    import os

    return os.getloadavg()


# -- figures, plots and the report (pure but for the writing) ---------------------------------

# Each plotted metric: (title, unit, idgraph's key, the floor's key, file stem). A metric whose
# work grows with the store (the segment's members) is drawn on a log scale (LOG_Y).
LOG_Y = {"growth-segment"}
PLOTS = [
    ("Profile read p50 (HTTP) vs the bare driver", "ms", "read_p50_ms", "floor_read_p50_ms",
     "growth-read-p50"),
    ("Profile read p99 (HTTP) vs the bare driver", "ms", "read_p99_ms", "floor_read_p99_ms",
     "growth-read-p99"),
    ("Bulk resolve of 10,000 e-mails", "s", "resolve_s", "floor_resolve_s", "growth-resolve"),
    ("Ingest of new records (GraphQL mutation)", "records/s", "ingest_rps", "floor_ingest_rps",
     "growth-ingest"),
    ("Segment evaluation (attribute rule, first run)", "s", "segment_first_s",
     "floor_segment_write_s", "growth-segment"),
]


def series(sizes: dict[str, dict[str, Any]], key: str, floor_key: str
           ) -> tuple[list[int], list[float], list[float]]:
    """A plot's points, by growing size: profiles, idgraph's values and the floor's."""
    rows = sorted(sizes.values(), key=lambda s: s["profiles"])
    rows = [r for r in rows if key in r and floor_key in r]
    return ([r["profiles"] for r in rows], [r[key] for r in rows], [r[floor_key] for r in rows])


def growth_of(sizes: dict[str, dict[str, Any]], key: str) -> tuple[int, int, float] | None:
    """(smallest, largest, largest's value / smallest's) for `key`; None with under 2 sizes."""
    xs, ys, _ = series(sizes, key, key)
    if len(xs) < 2 or ys[0] == 0:
        return None
    return xs[0], xs[-1], ys[-1] / ys[0]


def interleaved_growth(inter: dict[str, Any], path: str) -> tuple[int, int, float] | None:
    """(smallest, largest, p99 growth) of one path in an interleaved read run."""
    rows = {str(k): {"profiles": int(k), "p99": v[f"{path}_p99_ms"]}
            for k, v in inter.get("sizes", {}).items()}
    return growth_of(rows, "p99")


def figures(sizes: dict[str, dict[str, Any]], inter: dict[str, Any] | None = None
            ) -> list[Figure]:
    out = []
    for s in sorted(sizes.values(), key=lambda s: s["profiles"]):
        at = f"at {s['profiles']:,} profiles"
        out += [
            Figure(f"growth: profile read p50 {at}", s["read_p50_ms"], "ms",
                   s["floor_read_p50_ms"], s["read_p50_ms"] / s["floor_read_p50_ms"]),
            Figure(f"growth: profile read p99 {at}", s["read_p99_ms"], "ms",
                   s["floor_read_p99_ms"], s["read_p99_ms"] / s["floor_read_p99_ms"],
                   "ratio <= 2"),
            Figure(f"growth: bulk resolve of {s['resolve_identities']:,} {at}", s["resolve_s"],
                   "s", s["floor_resolve_s"], s["resolve_s"] / s["floor_resolve_s"],
                   "ratio <= 1.5"),
            Figure(f"growth: ingest (GraphQL) {at}", s["ingest_rps"], "records/s",
                   s["floor_ingest_rps"], s["ingest_rps"] / s["floor_ingest_rps"],
                   "ratio >= 0.8"),
            Figure(f"growth: segment evaluation (attribute rule) {at}", s["segment_first_s"], "s",
                   s["floor_segment_write_s"],
                   s["segment_first_s"] / s["floor_segment_write_s"], "ratio <= 1.2"),
        ]
    grown = growth_of(sizes, "read_p99_ms")
    floor_grown = growth_of(sizes, "floor_read_p99_ms")
    if grown and floor_grown:
        small, large, factor = grown
        # The floor's own growth beside it: what the database does as the store grows.
        out.append(Figure(f"growth: profile read p99 at {large:,} over {small:,} profiles",
                          factor, "x", floor_grown[2], factor / floor_grown[2],
                          "value <= 1.5"))
    ours, floor = (interleaved_growth(inter or {}, path) for path in ("idgraph", "floor"))
    if ours and floor:
        out.append(Figure(f"growth: profile read p99 at {ours[1]:,} over {ours[0]:,} profiles, "
                          "sizes interleaved", ours[2], "x", floor[2], ours[2] / floor[2],
                          "value <= 1.5"))
    return out


def as_sizes(inter: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An interleaved read run in the per-size shape (`read_p99_ms`, `floor_read_p99_ms`...)."""
    return {k: {"profiles": int(k)} | {
        f"{'' if path == 'idgraph' else 'floor_'}read_p{pct}_ms": v[f"{path}_p{pct}_ms"]
        for path in ("idgraph", "floor") for pct in (50, 99)}
        for k, v in inter.get("sizes", {}).items()}


def plot(sizes: dict[str, dict[str, Any]], folder: Path = DOCS,
         inter: dict[str, Any] | None = None) -> list[Path]:
    """The plots; the reads from the interleaved run when there is one (the fairer)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for title, unit, key, floor_key, stem in PLOTS:
        reads = key.startswith("read") and bool((inter or {}).get("sizes"))
        xs, ours, floor = series(as_sizes(inter or {}) if reads else sizes, key, floor_key)
        title = title + (", sizes interleaved" if reads else "")
        if not xs:
            continue
        fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
        ax.plot(xs, ours, marker="o", label="idgraph")
        ax.plot(xs, floor, marker="s", linestyle="--", label="floor (bare driver)")
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(xs, [f"{x:,}" for x in xs])
        for x, y, f in zip(xs, ours, floor, strict=True):  # idgraph over the floor, per size
            ax.annotate(f"{y / f:.2f}x" if f else "", (x, y), textcoords="offset points",
                        xytext=(0, 7), ha="center", fontsize=8)
        if stem in LOG_Y:
            ax.set_yscale("log")
            ax.set_ylim(top=max(ours + floor) * 2)  # room for the ratio above the top point
        else:
            ax.set_ylim(bottom=0, top=max(ours + floor) * 1.15)
        ax.set_xlabel("profiles in the graph")
        ax.set_ylabel(unit + (" (log scale)" if stem in LOG_Y else ""))
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = folder / f"{stem}.png"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


def interleaved_lines(inter: dict[str, Any]) -> list[str]:
    if not inter.get("sizes"):
        return []
    lines = ["", f"### Profile reads with the sizes interleaved ({inter['measured'][:16]}, load "
             f"average {', '.join(f'{x:.1f}' for x in inter['load_average'])})", "",
             "Every size's server and API up at once, runs of 100 reads turning over sizes and "
             "paths (`--interleaved-reads`): the machine's load falls on every size alike.", "",
             "| profiles | reads | p50 ms (floor) | p99 ms (floor) | p99 ratio |",
             "| ---: | ---: | ---: | ---: | ---: |"]
    for size, r in sorted(inter["sizes"].items(), key=lambda kv: int(kv[0])):
        lines.append(f"| {int(size):,} | {r['reads']:,} | {r['idgraph_p50_ms']:.2f} "
                     f"({r['floor_p50_ms']:.2f}) | {r['idgraph_p99_ms']:.2f} "
                     f"({r['floor_p99_ms']:.2f}) | {r['idgraph_p99_ms'] / r['floor_p99_ms']:.2f} |")
    ours, floor = (interleaved_growth(inter, path) for path in ("idgraph", "floor"))
    if ours and floor:
        lines += ["", f"p99 growth from {ours[0]:,} to {ours[1]:,} profiles: idgraph "
                  f"**{ours[2]:.2f}x**, the floor {floor[2]:.2f}x (goal for idgraph: within "
                  "1.5x)."]
    return lines


def report_lines(sizes: dict[str, dict[str, Any]],
                 inter: dict[str, Any] | None = None) -> list[str]:
    rows = sorted(sizes.values(), key=lambda s: s["profiles"])
    lines = ["Each size a scale store (bench/scale_store.py); the API served by uvicorn, "
             "1 worker; the floor is the bare driver running the equivalent Cypher, alternated "
             "with idgraph in the same run. Ratios are idgraph over the floor (for ingest, "
             "records/s, so higher is better). The machine: 2 cores shared with other agents' "
             "work (load average at the end of each size below); absolute figures are noisy, "
             "the ratios within a size less so.", "",
             "| profiles | read p50 ms (floor) | read p99 ms (floor) | p99 ratio | resolve s "
             "(floor) | ratio | ingest rec/s (floor) | ratio | segment first s (floor write) "
             "| ratio | rule read s (floor read) | members | load avg | measured |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| ---: | --- | --- |"]
    for s in rows:
        lines.append(
            f"| {s['profiles']:,} | {s['read_p50_ms']:.2f} ({s['floor_read_p50_ms']:.2f}) | "
            f"{s['read_p99_ms']:.2f} ({s['floor_read_p99_ms']:.2f}) | "
            f"{s['read_p99_ms'] / s['floor_read_p99_ms']:.2f} | "
            f"{s['resolve_s']:.2f} ({s['floor_resolve_s']:.2f}) | "
            f"{s['resolve_s'] / s['floor_resolve_s']:.2f} | "
            f"{s['ingest_rps']:,.0f} ({s['floor_ingest_rps']:,.0f}) | "
            f"{s['ingest_rps'] / s['floor_ingest_rps']:.2f} | "
            f"{s['segment_first_s']:.2f} ({s['floor_segment_write_s']:.2f}) | "
            f"{s['segment_first_s'] / s['floor_segment_write_s']:.2f} | "
            f"{s['segment_rule_s']:.2f} ({s['floor_segment_read_s']:.2f}) | "
            f"{s['segment_members']:,} | {', '.join(f'{x:.1f}' for x in s['load_average'])} | "
            f"{s['measured'][:16]} |")
    for key, label in (("read_p99_ms", "idgraph's profile read p99"),
                       ("floor_read_p99_ms", "the floor's profile read p99")):
        grown = growth_of(sizes, key)
        if grown:
            lines += ["", f"Growth of {label} from {grown[0]:,} to {grown[1]:,} profiles: "
                      f"**{grown[2]:.2f}x** (goal for idgraph: within 1.5x)."]
    lines += interleaved_lines(inter or {})
    lines += ["", "Plots: " + ", ".join(f"[{stem}](../../docs/{stem}.png)"
                                       for *_, stem in PLOTS) + ".", "",
              "Reads: sequential, random people's e-mails, interleaved in runs of 100 after a "
              "warm-up of a quarter as many. Resolve: median of the rounds. Ingest: new people "
              "of 3 identities each, median of the rounds, removed after each. Segment: "
              f"`{RULE}`, a first evaluation (every member written as realized) against the "
              "hand-written query writing one relationship per member (bench/segments.py's "
              "floor), and the compiled rule's read against the hand-written read."]
    return lines


def earlier_sizes(path: Path = RESULTS / "growth.json") -> dict[str, dict[str, Any]]:
    """The figures of sizes measured by earlier runs (kept unless measured again)."""
    return dict(_context(path).get("sizes", {}))


def earlier_interleaved(path: Path = RESULTS / "growth.json") -> dict[str, Any]:
    return dict(_context(path).get("interleaved", {}))


def _context(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()).get("context", {})) if path.exists() else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(PORTS))
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="bulk resolve rounds")
    parser.add_argument("--resolve", type=int, default=10_000, help="identities per resolve")
    parser.add_argument("--records", type=int, default=5_000, help="records per ingest run")
    parser.add_argument("--ingest-rounds", type=int, default=2)
    parser.add_argument("--segment-rounds", type=int, default=2)
    parser.add_argument("--keep-running", action="store_true",
                        help="leave each store's server running (for bench.scale after)")
    parser.add_argument("--replot", action="store_true",
                        help="measure nothing: redraw the plots and report from growth.json")
    parser.add_argument("--interleaved-reads", action="store_true",
                        help="only profile reads, every size's store up at once, interleaved")
    args = parser.parse_args()
    sizes, inter = earlier_sizes(), earlier_interleaved()
    if args.replot:
        write_out(sizes, inter, keep_measured=True)
        return
    if args.interleaved_reads:
        inter = interleaved_summary(interleaved_reads(args.sizes, args.reads))
        write_out(sizes, inter)
    for size in [] if args.interleaved_reads else args.sizes:
        sizes[str(size)] = measure_size(size, PORTS.get(size, 17744), args)
        write_out(sizes, inter)  # after each size: a later one failing keeps the earlier
    print((RESULTS / "growth.md").read_text())


NOTES = "## Findings"  # a hand-written section of the report, kept when it is rewritten


def kept_notes(text: str) -> list[str]:
    """The report's hand-written part (from NOTES on), to write again after the figures."""
    at = text.find("\n" + NOTES)
    return [""] + text[at + 1:].rstrip("\n").split("\n") if at >= 0 else []


def write_out(sizes: dict[str, dict[str, Any]], inter: dict[str, Any],
              keep_measured: bool = False) -> None:
    if not keep_measured:  # a redraw leaves the figures (and when they were measured) alone
        write_figures("growth", figures(sizes, inter), {"sizes": sizes, "interleaved": inter})
    plot(sizes, inter=inter)
    report = RESULTS / "growth.md"
    notes = kept_notes(report.read_text()) if report.exists() else []
    write_report("growth", "Growth: 10,000 to 1,000,000 profiles",
                 report_lines(sizes, inter) + notes)


if __name__ == "__main__":
    main()
