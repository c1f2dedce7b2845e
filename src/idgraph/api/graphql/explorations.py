"""GraphQL surface of the saved Cypher explorations (cypher/queries/): list them, run one."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from idgraph.api.graphql.context import Context
from idgraph.api.graphql.permissions import Role, allow
from idgraph.errors import InvalidInput
from idgraph.explorations.catalogue import SavedQuery as SavedQueryFile

ANALYSTS = [allow(Role.ANALYST)]


@strawberry.type(description="A parameter of a saved query.")
class SavedQueryParameter:
    name: str
    type: str = strawberry.field(description="int, float, string, bool, strings or datetime.")
    required: bool
    default: JSON | None = strawberry.field(description="Used when the parameter is not given.")
    description: str


@strawberry.type(description="A saved Cypher exploration: a question and the query answering it.")
class SavedQuery:
    name: str
    title: str
    answers: str = strawberry.field(description="What the query answers.")
    parameters: list[SavedQueryParameter]
    cypher: str

    @classmethod
    def of(cls, query: SavedQueryFile) -> SavedQuery:
        return cls(name=query.name, title=query.title, answers=query.answers, cypher=query.cypher,
                   parameters=[SavedQueryParameter(name=name, type=spec.type,
                                                   required=spec.required, default=spec.default,
                                                   description=spec.doc)
                               for name, spec in query.params.items()])


@strawberry.type(description="The rows a saved query returned, read-only.")
class SavedQueryResult:
    name: str
    columns: list[str]
    rows: list[list[JSON | None]] = strawberry.field(description="Values in column order.")
    truncated: bool = strawberry.field(description="More rows existed past the row limit.")
    parameters: JSON = strawberry.field(
        description="The values the query ran with (defaults filled in; times as epoch ms).")


LimitArg = Annotated[int | None, strawberry.argument(
    description="Most rows to return; at most (and by default) IDGRAPH_SAVED_QUERY_MAX_ROWS.")]
ParamsArg = Annotated[JSON | None, strawberry.argument(
    description='Parameter values by name, e.g. {"limit": 5}; defaults fill the rest.')]


@strawberry.type
class ExplorationQuery:
    @strawberry.field(permission_classes=ANALYSTS,
                      description="The saved Cypher explorations (cypher/queries/).")
    def saved_queries(self, info: Info[Context, None]) -> list[SavedQuery]:
        catalogue = info.context.services.explorations.catalogue()
        return [SavedQuery.of(query) for query in catalogue.values()]

    @strawberry.field(permission_classes=ANALYSTS,
                      description="Run a saved query in a read-only transaction, under a time "
                                  "limit and a row limit.")
    async def run_saved_query(self, info: Info[Context, None], name: str,
                              params: ParamsArg = None, limit: LimitArg = None,
                              ) -> SavedQueryResult:
        answer = await info.context.services.explorations.run(name, _params(params), limit)
        return SavedQueryResult(name=answer.name, columns=answer.columns, rows=answer.rows,
                                truncated=answer.truncated, parameters=JSON(answer.params))


def _params(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("`params` must be an object of parameter values by name.")
    return value
