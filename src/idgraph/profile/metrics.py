"""Dashboard figures, all from one Cypher statement so that no two figures can disagree."""

from __future__ import annotations

from dataclasses import dataclass, field

from idgraph.db.graph import Graph
from idgraph.profile.repository import IS_TEST

INCLUDED = f"MATCH (p:Profile) WHERE $includeTest OR NOT {IS_TEST}\n"
METRICS = (
    INCLUDED + """MATCH (p)<-[:IN_PROFILE]-(m:Identity)
WITH p, count(m) AS size
RETURN 'size' AS kind, toString(size) AS k, count(p) AS n
UNION ALL
""" + INCLUDED + """MATCH (p)<-[:IN_PROFILE]-(m:Identity)
RETURN 'namespace' AS kind, m.namespace AS k, count(m) AS n
UNION ALL
""" + INCLUDED + """MATCH (p)<-[:IN_PROFILE]-(:Identity)<-[:ABOUT]-(e:Event)
WITH DISTINCT e
RETURN 'event' AS kind, e.type AS k, count(e) AS n
UNION ALL
MATCH (p:Profile) WHERE """ + IS_TEST + """
RETURN 'test' AS kind, '' AS k, count(p) AS n
""")


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
        kind, key, n = row["kind"], row["k"], row["n"]
        if kind == "size":
            out.cluster_sizes[int(key)] = n
        elif kind == "namespace":
            out.namespaces[key] = n
        elif kind == "event":
            out.event_types[key] = n
        else:
            out.test_profiles = n
    return out
