"""`idgraph demo generate`: generated people written as ingest files, streamed, with a manifest.

Layout: one JSON Lines file per source (`crm.jsonl`, `web.jsonl`, `app.jsonl`, `pos.jsonl`,
`email.jsonl`), as the sources would deliver them, or with `combined` one `all.jsonl` (a person's
items next to each other: the fastest to ingest). `manifest.json` is written last (its presence
means the files are complete): the parameters and the counts per file, per source and per trap.
People are generated and written one at a time; nothing of a person is kept once written.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from idgraph.demo.generator import SOURCES, TRAPS, person_items

COMBINED_FILE = "all.jsonl"
MANIFEST_FILE = "manifest.json"
PROGRESS_EVERY = 1000  # people between two progress reports


def file_names(combined: bool) -> dict[str, str]:
    """The file each source's items go to."""
    return {source: COMBINED_FILE if combined else f"{source}.jsonl" for source in SOURCES}


def write_dataset(out: Path, profiles: int, seed: int, now: dt.datetime,
                  combined: bool = False,
                  on_progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Write the files and the manifest under `out` (created if missing); returns the manifest.
    `on_progress` is told how many more people were written, every PROGRESS_EVERY of them."""
    out.mkdir(parents=True, exist_ok=True)
    names = file_names(combined)
    counts: Counter[tuple[str, str, str]] = Counter()  # (what, name, records|events) -> lines
    with ExitStack() as stack:
        handles: dict[str, BinaryIO] = {
            name: stack.enter_context((out / name).open("wb")) for name in set(names.values())}
        for index in range(profiles):
            for generated in person_items(seed, index, now):
                name, kind = names[generated.source], generated.kind + "s"
                handles[name].write(orjson.dumps(generated.item) + b"\n")
                counts["file", name, kind] += 1
                counts["source", generated.source, kind] += 1
                if generated.trap:
                    counts["trap", generated.trap, "lines"] += 1
            if on_progress and (index + 1) % PROGRESS_EVERY == 0:
                on_progress(PROGRESS_EVERY)
    if on_progress and profiles % PROGRESS_EVERY:
        on_progress(profiles % PROGRESS_EVERY)
    manifest = _manifest(profiles, seed, now, combined, names, counts)
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _manifest(profiles: int, seed: int, now: dt.datetime, combined: bool,
              names: dict[str, str], counts: Counter[tuple[str, str, str]]) -> dict[str, Any]:
    def tally(what: str, name: str) -> dict[str, int]:
        return {kind: counts[what, name, kind] for kind in ("records", "events")}

    files = {name: tally("file", name) for name in sorted(set(names.values()))}
    return {
        "generator": "idgraph demo generate",
        "profiles": profiles, "seed": seed,
        "now": now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "layout": "one combined file" if combined else "one file per source",
        "files": files,
        "sources": {source: tally("source", source) for source in SOURCES},
        "traps": {trap: counts["trap", trap, "lines"] for trap in TRAPS},
        "records": sum(f["records"] for f in files.values()),
        "events": sum(f["events"] for f in files.values()),
    }


def parse_now(text: str) -> dt.datetime:
    """A reference time from the command line (a date means its midnight, UTC by default)."""
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--now {text!r} is not an ISO 8601 date or date-time "
                         "(e.g. 2026-01-01 or 2026-01-01T00:00:00Z)") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
