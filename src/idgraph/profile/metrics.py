"""Dashboard figures, all from one Cypher statement so that no two figures can disagree."""

from __future__ import annotations

from dataclasses import dataclass, field

from idgraph.db.graph import Graph
from idgraph.profile.repository import METRICS


@dataclass
class Figures:
    cluster_sizes: dict[int, int] = field(default_factory=dict)  # size -> profiles
    namespaces: dict[str, int] = field(default_factory=dict)
    event_types: dict[str, int] = field(default_factory=dict)
    test_profiles: int = 0

    @property
    def profiles(self) -> int:
        return sum(self.cluster_sizes.values())

    @property
    def identities(self) -> int:
        return sum(self.namespaces.values())

    @property
    def events(self) -> int:
        return sum(self.event_types.values())


async def figures(graph: Graph, include_test: bool) -> Figures:
    out = Figures()
    for row in await graph.read(METRICS, includeTest=include_test):
        n = row["n"]
        if row["kind"] == "events":
            out.event_types[row["type"]] = out.event_types.get(row["type"], 0) + n
            continue
        if row["test"]:
            out.test_profiles += n
            if not include_test:
                continue
        out.cluster_sizes[row["size"]] = out.cluster_sizes.get(row["size"], 0) + n
        for namespace in row["namespaces"]:
            out.namespaces[namespace] = out.namespaces.get(namespace, 0) + n
    return out
