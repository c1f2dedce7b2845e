"""Shared benchmark plumbing: a private managed Neo4j, wiping, timing, report writing."""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import neo4j

from idgraph.config import Settings
from idgraph.db import local_auth, local_server

RESULTS = Path(__file__).resolve().parent / "results"
BENCH_STATE_DIR = Path(".idgraph/neo4j-bench")


def auth_of(state_dir: Path = BENCH_STATE_DIR) -> tuple[str, str] | None:
    """The managed server's user and generated password (idgraph/db/local_auth.py)."""
    password = local_auth.read_password(state_dir.expanduser().resolve())
    return (local_auth.USER, password) if password else None


def bench_server(port: int = 17790, heap: str = "4g", pagecache: str = "4g",
                 fresh: bool = False) -> str:
    """Start (or reuse) the benchmark's own managed Neo4j; returns its Bolt URI. `fresh`: on
    an empty store. A store that was filled and wiped many times gets slower (wipes leave
    its files and index trees as large as they were), so a reused one made runs drift."""
    cfg = local_server.LocalServerConfig(
        version=Settings().local_neo4j_version, bolt_port=port,
        state_dir=BENCH_STATE_DIR, cache_dir=Settings().local_neo4j_cache_dir,
        heap=heap, pagecache=pagecache, start_timeout=180)
    if fresh:
        local_server.stop(cfg)
        shutil.rmtree(cfg.home / "data", ignore_errors=True)
    return local_server.start(cfg)


def wipe(driver: neo4j.Driver) -> None:
    with driver.session() as session:
        session.run("MATCH (n) WHERE NOT n:SchemaMigration CALL (n) { DETACH DELETE n } "
                    "IN TRANSACTIONS OF 10000 ROWS").consume()


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def write_report(name: str, title: str, lines: list[str]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.md"
    header = [f"# {title}", "",
              f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
              f"({platform.machine()}), Neo4j {Settings().local_neo4j_version} managed local "
              "server.", ""]
    path.write_text("\n".join(header + lines) + "\n")
    return path


GOAL_OPS = {">=": float.__ge__, "<=": float.__le__, "==": float.__eq__}


def parse_goal(goal: str) -> tuple[str, str, float]:
    """A figure's goal, "ratio >= 0.8", "value <= 10", "value == 0": (subject, op, bound). A
    goal the page could not judge is refused when the figure is made, not when it is shown."""
    parts = goal.split()
    if len(parts) != 3 or parts[0] not in ("ratio", "value") or parts[1] not in GOAL_OPS:
        raise ValueError(f"a goal is 'ratio|value >=|<=|== number', not {goal!r}")
    try:
        bound = float(parts[2])
    except ValueError:
        raise ValueError(f"a goal's bound is a number, not {parts[2]!r} in {goal!r}") from None
    return parts[0], parts[1], bound


@dataclass(frozen=True)
class Figure:
    """One measured figure beside its floor (the bare driver doing the same work, measured in
    the same run) and its goal; `docs/performance.md` is made from these (bench/performance.py).
    `ratio`: idgraph over the floor (times: <= goals; rates: >= goals). `goal`: "ratio >= 0.8",
    "ratio <= 1.2", "value <= 10" (in `unit`), "value == 0" (errors)."""

    name: str
    value: float
    unit: str
    floor: float | None = None
    ratio: float | None = None
    goal: str | None = None

    def __post_init__(self) -> None:
        if self.goal is not None:
            subject, _, _ = parse_goal(self.goal)
            if subject == "ratio" and self.ratio is None:
                raise ValueError(f"{self.name}: a ratio goal needs a ratio (and its floor)")

    @property
    def met(self) -> bool | None:
        """Whether the goal ("ratio >= 0.8", "value <= 10") holds; None without a goal."""
        if self.goal is None:
            return None
        subject, op, bound = parse_goal(self.goal)
        x = self.value if subject == "value" else self.ratio
        if x is None:
            return None
        return bool(GOAL_OPS[op](float(x), bound))


def ratio_figure(name: str, value: float, unit: str, floor: float,
                 goal: str | None = None) -> Figure:
    """A figure beside its floor, the ratio computed (idgraph over the floor)."""
    return Figure(name, value, unit, floor, value / floor if floor else None, goal)


def write_figures(name: str, figures: list[Figure], context: dict[str, object]) -> Path:
    """bench/results/<name>.json: this benchmark's figures, for the performance page."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({
        "bench": name, "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "context": context,
        "figures": [asdict(f) | {"met": f.met} for f in figures]}, indent=2) + "\n")
    return path


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (from /proc; Linux). Busy machines
    stretch wall time, not this much, so comparing it between alternated runs holds up better."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_server_pid() -> int:
    """The pid of the benchmark's own managed Neo4j (see `bench_server`)."""
    return int((BENCH_STATE_DIR / "idgraph-neo4j.pid").read_text().strip())
