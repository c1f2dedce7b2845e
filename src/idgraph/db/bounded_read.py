"""One statement in a read-only transaction with its own time limit and a cap on rows: for
Cypher written by people (saved explorations), whose cost idgraph cannot know in advance.

Neo4j refuses any write in a read-access transaction (`WriteRefused`), stops the statement at
its time limit (`QueryTimedOut`), and only the rows wanted are pulled: the rest of the result
is discarded on the server, never sent. Values come back as plain JSON-able Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import neo4j
from neo4j import Query
from neo4j.graph import Node, Path, Relationship
from neo4j.spatial import Point
from neo4j.time import Date, DateTime, Duration, Time

from idgraph.db.graph import Graph, _translated_errors


@dataclass(frozen=True)
class BoundedRows:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool  # more rows existed than were asked for


async def bounded_read(graph: Graph, cypher: str, params: dict[str, Any], max_rows: int,
                       timeout: float) -> BoundedRows:
    """At most `max_rows` rows of `cypher`, read-only, stopped by Neo4j after `timeout` s."""
    query = Query(cypher, timeout=timeout)
    rows: list[list[Any]] = []
    truncated = False
    # The deadline here only covers a server that stops answering; Neo4j enforces `timeout`.
    async with _translated_errors(timeout + 10.0), graph.driver.session(
            database=graph.database, default_access_mode=neo4j.READ_ACCESS) as session:
        result = await session.run(query, params)
        columns = list(result.keys())
        async for record in result:
            if len(rows) == max_rows:
                truncated = True
                await result.consume()  # discards the rest on the server
                break
            rows.append([plain(value) for value in record.values()])
    return BoundedRows(columns, rows, truncated)


def plain(value: Any) -> Any:
    """A driver value as JSON-able Python: nodes and relationships as their properties (with
    `_labels` / `_type`), paths as lists, temporal values as ISO 8601 text."""
    if isinstance(value, Node):
        return {"_labels": sorted(value.labels), **_props(value)}
    if isinstance(value, Relationship):
        return {"_type": value.type, **_props(value)}
    if isinstance(value, Path):
        return [plain(part) for pair in zip(value.nodes, value.relationships, strict=False)
                for part in pair] + [plain(value.end_node)]
    if isinstance(value, DateTime | Date | Time):
        return value.to_native().isoformat()  # microseconds: Python's precision is enough
    if isinstance(value, Duration | Point):
        return str(value)
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN and infinities have no JSON form
    return value


def _props(entity: Node | Relationship) -> dict[str, Any]:
    return {key: plain(item) for key, item in entity.items()}
