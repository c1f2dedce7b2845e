"""Computed attributes: aggregates over events in a lookback window, kept current at ingest.

State is per (definition, identity): a (:ComputedValue {def, key, ts, vals, events}) holding the
in-window contributions of matching events (value, time, event key), appended inside the ingest
transaction (the pipeline's facts stage, profile/facts.py) and pruned to the window as it
grows. A new definition is filled from past events by a backfill job, and read only once that is
done (`ready`). State per identity survives merges and splits; a read aggregates the states of
the cluster's identities (deduplicated by event key, since an event about two identities is
stored twice) over the window as of now.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

FUNCTIONS = ("SUM", "COUNT", "MIN", "MAX", "MOST_RECENT")
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Definition:
    name: str
    function: str
    event_type: str
    property: str | None
    lookback_ms: int
    ready: bool = True  # False while its backfill job runs: reads leave it out

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Definition:
        return cls(row["name"], row["function"], row["eventType"], row.get("property"),
                   row["lookbackMs"], bool(row.get("ready", True)))

    def params(self) -> dict[str, Any]:
        return {"name": self.name, "function": self.function, "eventType": self.event_type,
                "property": self.property, "lookbackMs": self.lookback_ms}


@dataclass(frozen=True)
class EventFact:
    key: str
    type: str
    ts: int
    properties: dict[str, Any]
    identities: tuple[str, ...]


def problem(d: Definition) -> str | None:
    """Why a definition is invalid, or None."""
    if not d.name.strip():
        return "a computed attribute needs a name"
    if d.function not in FUNCTIONS:
        return f"unknown function {d.function!r}"
    if d.function != "COUNT" and not d.property:
        return f"{d.function} needs an event property"
    if d.lookback_ms <= 0:
        return "the lookback window must be positive"
    return None


def _lookup(properties: dict[str, Any], path: str) -> Any:
    node: Any = properties
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def contribution(d: Definition, event: EventFact) -> float | str | None:
    """What one event adds to a definition's state (None: nothing)."""
    if event.type != d.event_type:
        return None
    value = _lookup(event.properties, d.property) if d.property else None
    if d.function == "COUNT":
        return None if d.property and value is None else 1.0
    if d.function == "MOST_RECENT":
        return None if value is None else json.dumps(value)
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if is_number else None


def state_rows(definitions: list[Definition], events: list[EventFact], now: int) -> list[dict]:
    """One WRITE_STATES row per (definition, identity), events in time order."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for d in definitions:
        cutoff = now - d.lookback_ms
        for event in sorted(events, key=lambda e: (e.ts, e.key)):
            value = contribution(d, event)
            if value is None or event.ts < cutoff:
                continue
            for key in event.identities:
                row = rows.setdefault((d.name, key), {"def": d.name, "key": key, "ts": [],
                                                      "vals": [], "events": [], "cutoff": cutoff})
                row["ts"].append(event.ts)
                row["vals"].append(value)
                row["events"].append(event.key)
    return list(rows.values())


def aggregate(d: Definition, states: list[dict[str, Any]], now: int) -> Any:
    """The value as of `now` over the cluster's states; an event counted once."""
    cutoff = now - d.lookback_ms
    entries: dict[str, tuple[int, Any]] = {}
    for state in states:
        for ts, value, key in zip(state["ts"], state["vals"], state["events"], strict=True):
            if ts >= cutoff:
                entries[key] = (ts, value)
    values = [v for _, v in entries.values()]
    if d.function == "COUNT":
        return len(values)
    if d.function == "SUM":
        return _number(sum(values))
    if not values:
        return None
    if d.function == "MIN":
        return _number(min(values))
    if d.function == "MAX":
        return _number(max(values))
    _, latest = max((ts, key) for key, (ts, _) in entries.items())
    return json.loads(entries[latest][1])


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value
