"""The performance page: every benchmark's figures (bench/results/<bench>.json, written by each
benchmark through `bench.common.write_figures`) gathered into `bench/results/<date>.json` and
`docs/performance.md`, each figure beside its floor and its goal, with the machine and versions.

Run last by `make bench`; `python -m bench.performance` on its own remakes the page from the
figures already measured (each keeps the time it was measured).
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.common import RESULTS
from idgraph.config import Settings

PAGE = Path(__file__).resolve().parents[1] / "docs" / "performance.md"

# The goals, as #18 words them; a figure carries the one it is held to.
GOALS = [
    "ingest >= 0.8x the bare driver's UNWIND ... MERGE of the same records",
    "profile read p99 <= 10 ms and within 2x of the bare driver",
    ">= 3,000 profile reads/s with 32 clients on this 2-core machine",
    "segments within 1.2x of hand-written Cypher",
    "read latency flat (p99 within 1.5x) as the graph grows 100x",
]


def machine() -> dict[str, Any]:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"host": platform.node(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "memory_gib": round(memory, 1), "python": platform.python_version(),
            "neo4j": Settings().local_neo4j_version,
            "neo4j_driver": _version("neo4j"), "idgraph": _version("idgraph")}


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def gather(results: Path = RESULTS) -> list[dict[str, Any]]:
    """Every benchmark's latest figures (not earlier pages: those are named by date)."""
    found = []
    for path in sorted(results.glob("*.json")):
        if path.stem[:1].isdigit():
            continue
        found.append(json.loads(path.read_text()))
    return found


def page(benches: list[dict[str, Any]], where: dict[str, Any], made: str,
         others: Sequence[str] = (), plots: Sequence[str] = ()) -> str:
    lines = ["# Performance", "",
             f"Made {made} by `make bench` (bench/performance.py) from the figures each "
             "benchmark wrote; every ratio is against a floor measured in the same run (the "
             "bare driver doing the same work). Do not edit by hand.", "",
             f"Machine: {where['host']} ({where['machine']}), {where['cpus']} CPUs, "
             f"{where['memory_gib']} GiB; Python {where['python']}, Neo4j {where['neo4j']} "
             f"Community (managed local), driver {where['neo4j_driver']}, idgraph "
             f"{where['idgraph']}.", "",
             "| figure | idgraph | floor | ratio | goal | met | measured |",
             "| --- | ---: | ---: | ---: | --- | --- | --- |"]
    for bench in benches:
        for f in bench["figures"]:
            lines.append(
                f"| {f['name']} | {_num(f['value'])} {f['unit']} | "
                f"{_num(f['floor']) + ' ' + f['unit'] if f['floor'] is not None else ''} | "
                f"{_num(f['ratio']) + 'x' if f['ratio'] is not None else ''} | "
                f"{f['goal'] or ''} | {_met(f['met'])} | {bench['measured'][:16]} |")
    lines += ["", "## Goals", ""] + [f"- {goal}" for goal in GOALS]
    lines += plot_lines(plots)
    lines += ["", "Details, method and history of each benchmark: "
              + ", ".join(f"[{b['bench']}](../bench/results/{b['bench']}.md)" for b in benches)
              + "."]
    if others:
        lines += ["", "Reports with no figures on this page yet (written by hand or by a "
                  "benchmark that does not feed the page; see each for its date and "
                  "conditions): " + ", ".join(f"[{name}](../bench/results/{name}.md)"
                                              for name in others) + "."]
    return "\n".join(lines) + "\n"


def plot_lines(plots: Sequence[str]) -> list[str]:
    """The growth plots (docs/growth-*.png, drawn by bench/growth.py), beside this page."""
    if not plots:
        return []
    lines = ["", "## Growth", "",
             "idgraph and its floor at 10,000, 100,000 and 1,000,000 profiles "
             "(bench/growth.py; method and figures in "
             "[growth](../bench/results/growth.md)):", ""]
    for name in plots:
        lines.append(f"![{name.removesuffix('.png')}]({name})")
    return lines


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}"


def _met(met: bool | None) -> str:
    return "" if met is None else ("yes" if met else "**no**")


def main() -> None:
    benches = gather()
    now = datetime.now(UTC)
    where = machine()
    (RESULTS / f"{now:%Y-%m-%d}.json").write_text(json.dumps(
        {"made": now.isoformat(timespec="seconds"), "machine": where, "benchmarks": benches},
        indent=2) + "\n")
    fed = {b["bench"] for b in benches}
    others = sorted(p.stem for p in RESULTS.glob("*.md") if p.stem not in fed)
    plots = sorted(p.name for p in PAGE.parent.glob("growth-*.png"))
    PAGE.write_text(page(benches, where, f"{now:%Y-%m-%d %H:%M} UTC", others, plots))
    print(PAGE.read_text())


if __name__ == "__main__":
    main()
