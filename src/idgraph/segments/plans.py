"""Neo4j query plans as text for analysts: one line per operator, children indented."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def plan_text(plan: Mapping[str, Any]) -> str:
    """The plan tree of EXPLAIN or PROFILE (as the driver gives it) as indented lines:
    operator, details, estimated rows, and for PROFILE the rows and database hits."""
    return "\n".join(_lines(plan, 0)) if plan else "(no plan)"


def _lines(node: Mapping[str, Any], depth: int) -> Iterator[str]:
    yield "  " * depth + "+ " + _describe(node)
    for child in node.get("children") or ():
        yield from _lines(child, depth + 1)


def _describe(node: Mapping[str, Any]) -> str:
    arguments = node.get("args") or node.get("arguments") or {}
    operator = str(node.get("operatorType", "?")).split("@")[0]
    parts = [operator]
    if details := arguments.get("Details"):
        parts.append(str(details))
    figures = [f"estimated rows {round(float(arguments.get('EstimatedRows', 0)))}"]
    if "rows" in node:
        figures.append(f"rows {node['rows']}")
    if "dbHits" in node:
        figures.append(f"db hits {node['dbHits']}")
    return "  ".join(parts) + "  (" + ", ".join(figures) + ")"
