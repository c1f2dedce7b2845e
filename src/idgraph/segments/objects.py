"""Saved segments as the service hands them out, and whether a rule depends on the time of
evaluation."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from idgraph.segments.ast import InSegment, Rule

IMPORTED = "imported"  # the kind of a segment whose members were imported (no rule)

# Parts of a rule whose meaning moves with the clock: `now`, `within N days` windows and
# computed attributes (aggregates over a lookback window ending now).
TIME_KINDS = frozenset({"now", "within", "computed"})


def _nodes(tree: Any) -> Iterator[Mapping[str, Any]]:
    """Every JSON object of a rule's JSON form (conditions, subjects, literals, windows)."""
    if isinstance(tree, Mapping):
        yield tree
        for value in tree.values():
            yield from _nodes(value)
    elif isinstance(tree, list | tuple):
        for value in tree:
            yield from _nodes(value)


def depends_on_time(rule: Rule) -> bool:
    """Does the rule's own text read the clock (now, windows, computed attributes)?"""
    return any(n.get("kind") in TIME_KINDS for n in _nodes(rule.model_dump(mode="json")))


@dataclass(frozen=True)
class SavedSegment:
    id: str
    name: str
    description: str | None
    text: str | None  # the rule's canonical text (None: an imported audience)
    ast: dict[str, Any] | None  # the rule's JSON form
    version: int
    created_at: int
    updated_at: int
    time_dependent: bool
    include_test: bool
    merge_policy: str | None
    references: tuple[str, ...]
    size: int
    evaluation: dict[str, Any] | None  # the last evaluation (or import) of this version
    kind: str = "rule"  # or IMPORTED
    batch_only: bool = False  # never evaluated per write (segments/streaming.py)

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> SavedSegment:
        return cls(id=row["id"], name=row["name"], description=row.get("description"),
                   text=row.get("text"), ast=json.loads(row["ast"]) if row.get("ast") else None,
                   version=row["version"], kind=row.get("kind") or "rule",
                   created_at=row["createdAt"], updated_at=row["updatedAt"],
                   time_dependent=bool(row.get("timeDependent")),
                   include_test=bool(row.get("includeTest")),
                   merge_policy=row.get("mergePolicy"),
                   references=tuple(row.get("references") or ()), size=row.get("size") or 0,
                   evaluation=json.loads(row["evaluation"]) if row.get("evaluation") else None,
                   batch_only=bool(row.get("batchOnly")))

    @property
    def imported(self) -> bool:
        return self.kind == IMPORTED

    @property
    def rule(self) -> Rule:
        """The rule; for an imported audience, `inSegment(<its id>)`: its stored members."""
        if self.ast is None:
            return Rule(InSegment(segment_id=self.id))
        return Rule.model_validate(self.ast)
