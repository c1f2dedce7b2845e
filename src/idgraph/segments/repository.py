"""Running compiled rules against the graph (the Cypher itself is built by the compiler from
`cypher_parts.py`)."""

from __future__ import annotations

from idgraph.db.graph import Graph
from idgraph.segments.compiler import CompiledQuery


async def member_ids(graph: Graph, query: CompiledQuery) -> list[str]:
    """The ids of the profiles a compiled rule selects, in order (one auto-commit read)."""
    return [row["id"] for row in await graph.read(query.cypher, **query.params)]
