"""The GraphQL schema: the root Query, Mutation and Subscription assembled from each domain."""

from __future__ import annotations

import functools

import strawberry
from strawberry.types import Info

from idgraph.api.graphql.activation import ActivationMutation, ActivationQuery
from idgraph.api.graphql.apikeys import ApiKeyMutation, ApiKeyQuery
from idgraph.api.graphql.audiences import AudienceMutation
from idgraph.api.graphql.context import Context
from idgraph.api.graphql.explorations import ExplorationQuery
from idgraph.api.graphql.identity import IdentityMutation, IdentityQuery
from idgraph.api.graphql.jobs import JobMutation, JobQuery
from idgraph.api.graphql.limits import schema_config, schema_extensions
from idgraph.api.graphql.live import Subscription
from idgraph.api.graphql.permissions import Role, allow
from idgraph.api.graphql.privacy import PrivacyMutation, PrivacyQuery
from idgraph.api.graphql.profile import ProfileQuery
from idgraph.api.graphql.profile_admin import ProfileAdminMutation, ProfileAdminQuery
from idgraph.api.graphql.segments import SegmentMutation, SegmentQuery
from idgraph.config import Settings

EVERY_ROLE = allow(*Role)


@strawberry.type(description="Liveness of the service's dependencies.")
class Health:
    neo4j: str


@strawberry.type
class Query(IdentityQuery, ProfileQuery, ProfileAdminQuery, JobQuery, ApiKeyQuery,
            ExplorationQuery, SegmentQuery, ActivationQuery,
            PrivacyQuery):
    @strawberry.field(description="The idgraph version serving this API.",
                      permission_classes=[EVERY_ROLE])
    def version(self) -> str:
        return _installed_version()

    @strawberry.field(description="Checks that Neo4j answers; errors with DATABASE_UNAVAILABLE.",
                      permission_classes=[EVERY_ROLE])
    async def health(self, info: Info[Context, None]) -> Health:
        await info.context.services.graph.ping()
        return Health(neo4j="ok")


@strawberry.type
class Mutation(IdentityMutation, ProfileAdminMutation, JobMutation, ApiKeyMutation,
               SegmentMutation, ActivationMutation, AudienceMutation,
               PrivacyMutation):
    pass


@functools.cache
def _installed_version() -> str:
    # Reading package metadata touches the file system: once per process is enough.
    from importlib.metadata import version

    return version("idgraph")


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with the limits of `settings` (defaults when None, e.g. for export)."""
    settings = settings or Settings()
    return strawberry.Schema(query=Query, mutation=Mutation, subscription=Subscription,
                             config=schema_config(settings),
                             extensions=schema_extensions(settings))
