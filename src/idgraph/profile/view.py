"""The segment-facing read of the materialised views: conditions on merged attributes compiled
to ONE parameterised Cypher query that scans profiles (their views), never fragments.

The seed of the segment compiler. Property names come only from validated attribute paths
(always backtick-quoted); values only ever travel as parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from idgraph.db.graph import Graph
from idgraph.errors import InvalidInput
from idgraph.profile.materialise import ATTRIBUTE_PATH
from idgraph.profile.repository import SCAN_VIEWS, VIEW_NOT_TEST

COMPARISONS = frozenset({"=", "<>", "<", "<=", ">", ">="})
NULL_TESTS = frozenset({"IS NULL", "IS NOT NULL"})
OPERATORS = COMPARISONS | NULL_TESTS | {"IN"}
MAX_IN_VALUES = 1000



@dataclass(frozen=True)
class Condition:
    path: str  # dotted attribute path, e.g. address.city
    op: str
    value: Any = None


def compile_conditions(conditions: Sequence[Condition], include_test: bool = False,
                       ) -> tuple[str, dict[str, Any]]:
    """(Cypher, parameters) returning the ids of the profiles meeting every condition."""
    clauses = [] if include_test else [VIEW_NOT_TEST]
    params: dict[str, Any] = {}
    for n, condition in enumerate(conditions):
        clauses.append(_clause(condition, f"v{n}", params))
    where = "\nWHERE " + "\n  AND ".join(clauses) if clauses else ""
    return f"{SCAN_VIEWS}{where}\nRETURN p.id AS id\nORDER BY id", params


async def profile_ids(graph: Graph, conditions: Sequence[Condition],
                      include_test: bool = False) -> list[str]:
    text, params = compile_conditions(conditions, include_test)
    return [row["id"] for row in await graph.read(text, **params)]


def _clause(condition: Condition, name: str, params: dict[str, Any]) -> str:
    if not ATTRIBUTE_PATH.fullmatch(condition.path):
        raise InvalidInput(f"Not an attribute path: {condition.path!r}.")
    if condition.op not in OPERATORS:
        raise InvalidInput(f"Unknown operator {condition.op!r}.")
    prop = f"v.`{condition.path}`"  # the path regex admits no backtick
    if condition.op in NULL_TESTS:
        if condition.value is not None:
            raise InvalidInput(f"{condition.op} takes no value.")
        return f"{prop} {condition.op}"
    _check_value(condition)
    value = condition.value
    params[name] = list(value) if isinstance(value, tuple) else value
    return f"{prop} {condition.op} ${name}"


def _check_value(condition: Condition) -> None:
    value = condition.value
    if condition.op == "IN":
        if not isinstance(value, list | tuple) or len(value) > MAX_IN_VALUES:
            raise InvalidInput(f"IN takes a list of at most {MAX_IN_VALUES} values.")
        if not all(_scalar(x) for x in value):
            raise InvalidInput("IN takes a list of strings, numbers or booleans.")
    elif not _scalar(value) and not (isinstance(value, list) and all(map(_scalar, value))):
        raise InvalidInput(f"{condition.op} takes a string, number, boolean or list of them.")


def _scalar(value: Any) -> bool:
    return isinstance(value, bool | int | float | str)
