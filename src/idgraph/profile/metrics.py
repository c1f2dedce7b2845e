"""Dashboard figures: the counters the pipeline keeps (profile/counters.py), less the test
profiles (found from their flagged records, few) unless they are asked for. Milliseconds at
any graph size; the first read of a graph without counters counts everything once."""

from __future__ import annotations

from dataclasses import dataclass, field

from idgraph.db.graph import Graph
from idgraph.profile import counters
from idgraph.profile.repository import TEST_PROFILE_FIGURES


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
    figure_of = {"size": out.cluster_sizes, "namespace": out.namespaces, "type": out.event_types}
    for row in await counters.read(graph):
        name = int(row["name"]) if row["kind"] == "size" else row["name"]
        figure_of[row["kind"]][name] = row["n"]  # type: ignore[index]
    [tests] = await graph.read(TEST_PROFILE_FIGURES)
    out.test_profiles = len(tests["profiles"])
    if not include_test:
        for size, namespaces in tests["profiles"]:
            _less(out.cluster_sizes, size)
            for namespace in namespaces:
                _less(out.namespaces, namespace)
        for event_type in tests["types"]:
            _less(out.event_types, event_type)
    return out


def _less(figure: dict, key: object) -> None:  # type: ignore[type-arg]
    """One fewer of `key`; a figure that reaches 0 is left out."""
    left = figure.get(key, 0) - 1
    if left > 0:
        figure[key] = left
    else:
        figure.pop(key, None)
