"""Merge rules: from record fragments and a merge policy to merged attributes with provenance.

Pure: no I/O. Nested attribute objects are flattened to dotted paths (address.city), merged
per path, then re-nested. A JSON null counts as "this fragment does not have the attribute".
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

TIMESTAMP = "TIMESTAMP_ORDERED"
PRECEDENCE = "DATASET_PRECEDENCE"


@dataclass(frozen=True)
class Fragment:
    """What one source said in one record, keyed by the identities the record carried."""

    source: str
    record_id: str
    ts: int
    attributes: dict[str, Any]
    keys: frozenset[str] = frozenset()

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Fragment:
        raw = row["attributes"]
        attributes = json.loads(raw) if isinstance(raw, str) else (raw or {})
        return cls(row["source"], row["recordId"], row["ts"], attributes,
                   frozenset(row.get("keys") or ()))


@dataclass(frozen=True)
class Policy:
    id: str
    name: str
    kind: str = TIMESTAMP
    sources: tuple[str, ...] = ()
    stitching: bool = True
    is_default: bool = False
    revision: int = 0  # grows with every save: a view records the revision it was merged under


# Used when no policy is stored as the default: timestamp ordered over the whole cluster.
BUILTIN_DEFAULT = Policy(id="default", name="Timestamp ordered", is_default=True)


@dataclass(frozen=True)
class Candidate:
    value: Any
    source: str
    record_id: str
    ts: int


@dataclass(frozen=True)
class MergedValue:
    path: str
    winner: Candidate
    beaten: tuple[Candidate, ...] = field(default=())


def flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects to dotted paths; lists, scalars and empty objects are leaves."""
    flat: dict[str, Any] = {}
    for key, value in obj.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, path + "."))
        elif value is not None:
            flat[path] = value
    return flat


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for path in sorted(flat):
        *parents, leaf = path.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = flat[path]
    return nested


def select(fragments: Iterable[Fragment], policy: Policy, identity: str | None) -> list[Fragment]:
    """The fragments a policy looks at: all of the cluster, or only those keyed by `identity`."""
    chosen = list(fragments)
    if not policy.stitching and identity is not None:
        chosen = [f for f in chosen if identity in f.keys]
    if policy.kind == PRECEDENCE:
        chosen = [f for f in chosen if f.source in policy.sources]
    return chosen


def rank(fragment: Fragment, policy: Policy) -> tuple:
    """Sort key, best first. Ties fall to source name then record id: never to arrival order."""
    if policy.kind == PRECEDENCE:
        return (policy.sources.index(fragment.source), -fragment.ts, fragment.record_id)
    return (-fragment.ts, fragment.source, fragment.record_id)


def merge(fragments: Iterable[Fragment], policy: Policy,
          identity: str | None = None) -> list[MergedValue]:
    """Per attribute path the winning value and the values it beat (best first), by path."""
    ordered = sorted(select(fragments, policy, identity), key=lambda f: rank(f, policy))
    candidates: dict[str, list[tuple[int, Candidate]]] = {}
    for position, fragment in enumerate(ordered):
        for path, value in flatten(fragment.attributes).items():
            candidate = Candidate(value, fragment.source, fragment.record_id, fragment.ts)
            candidates.setdefault(path, []).append((position, candidate))
    # A leaf and a deeper path can clash (address = "x" vs address.city = "y"): the better
    # ranked winner keeps its place, the other is dropped.
    accepted: dict[str, MergedValue] = {}
    for path, found in sorted(candidates.items(), key=lambda item: (item[1][0][0], item[0])):
        if not any(_clash(path, other) for other in accepted):
            accepted[path] = MergedValue(path, found[0][1], tuple(c for _, c in found[1:]))
    return [accepted[path] for path in sorted(accepted)]


def _clash(a: str, b: str) -> bool:
    return a.startswith(b + ".") or b.startswith(a + ".")


def merged_attributes(values: Iterable[MergedValue]) -> dict[str, Any]:
    return unflatten({v.path: v.winner.value for v in values})
