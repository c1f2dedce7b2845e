"""A small demo dataset, loaded by `idgraph serve --demo`."""

from __future__ import annotations

from idgraph.config import Settings
from idgraph.db.graph import Graph
from idgraph.db.schema import apply_schema


async def load_demo(settings: Settings, graph: Graph, log=print) -> None:
    await apply_schema(graph)
    log("Demo dataset: nothing to load yet.")
    await graph.close()
