"""The GraphQL schema: the root Query, Mutation and Subscription assembled from each domain."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from idgraph.api.errors import IdgraphMaskErrors


@strawberry.type(description="Liveness of the service's dependencies.")
class Health:
    neo4j: str


@strawberry.type
class Query:
    @strawberry.field(description="The idgraph version serving this API.")
    def version(self) -> str:
        from importlib.metadata import version

        return version("idgraph")

    @strawberry.field(description="Checks that Neo4j answers; errors with DATABASE_UNAVAILABLE.")
    async def health(self, info: Info) -> Health:
        await info.context.services.graph.ping()
        return Health(neo4j="ok")


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(query=Query, extensions=[IdgraphMaskErrors])
