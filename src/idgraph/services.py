"""The use-case services of every domain, built once per app around the one Graph."""

from __future__ import annotations

from dataclasses import dataclass

from idgraph.config import Settings
from idgraph.db.graph import Graph


@dataclass
class Services:
    settings: Settings
    graph: Graph

    @classmethod
    def build(cls, settings: Settings, graph: Graph) -> Services:
        return cls(settings=settings, graph=graph)
