"""Running saved explorations: read-only, under a time limit, at most a given number of rows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idgraph.db.bounded_read import bounded_read
from idgraph.db.errors import QueryTimedOut, WriteRefused
from idgraph.db.graph import Graph
from idgraph.db.schema import cypher_dir
from idgraph.errors import IdgraphError, InvalidInput, NotFound
from idgraph.explorations.catalogue import SavedQuery, load


@dataclass(frozen=True)
class Exploration:
    """A saved query's answer: rows in column order, and whether more rows were cut off."""

    name: str
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    params: dict[str, Any]


def shipped_folder() -> Path:
    return cypher_dir() / "queries"


def read_catalogue(extra_folder: Path | None = None) -> dict[str, SavedQuery]:
    """The saved queries shipped with idgraph, and those of `extra_folder` (which win)."""
    return load([shipped_folder(), *([extra_folder] if extra_folder else [])])


def find(catalogue: dict[str, SavedQuery], name: str) -> SavedQuery:
    found = catalogue.get(name)
    if found is None:
        raise NotFound(f"No saved query `{name}`; `savedQueries` (or `idgraph cypher`) "
                       "lists them.")
    return found


class ExplorationService:
    def __init__(self, graph: Graph, extra_folder: Path | None = None, timeout: float = 20.0,
                 max_rows: int = 1000) -> None:
        self.graph = graph
        self.extra_folder = extra_folder
        self.timeout = timeout
        self.max_rows = max_rows

    def catalogue(self) -> dict[str, SavedQuery]:
        """The saved queries, read from disk on each call: analysts edit them while it runs."""
        return read_catalogue(self.extra_folder)

    async def run(self, name: str, given: dict[str, Any], limit: int | None = None,
                  ) -> Exploration:
        """The answer of saved query `name` with the caller's parameter values."""
        query = find(self.catalogue(), name)
        params = query.bind(given)
        try:
            rows = await bounded_read(self.graph, query.cypher, params, self._row_cap(limit),
                                      self.timeout)
        except (QueryTimedOut, WriteRefused) as exc:
            raise refusal(exc, self.timeout) from exc
        return Exploration(name, rows.columns, rows.rows, rows.truncated, params)

    def _row_cap(self, limit: int | None) -> int:
        if limit is None:
            return self.max_rows
        if not 1 <= limit <= self.max_rows:
            raise InvalidInput(f"`limit` must be between 1 and {self.max_rows} "
                               "(IDGRAPH_SAVED_QUERY_MAX_ROWS).")
        return limit


def refusal(error: QueryTimedOut | WriteRefused, timeout: float) -> IdgraphError:
    """The client's error for a saved query Neo4j stopped."""
    if isinstance(error, WriteRefused):
        return IdgraphError("Saved queries run read-only: this one tries to write, and nothing "
                            "was written.", "WRITE_REFUSED")
    return IdgraphError(f"The saved query ran past its time limit ({timeout:g} s, "
                        "IDGRAPH_SAVED_QUERY_TIMEOUT) and was stopped; narrow its parameters.",
                        "QUERY_TIMEOUT")
