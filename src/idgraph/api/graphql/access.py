"""No operation runs without a principal: the schema's own check, behind the HTTP layer's.

The transport authenticates every request before GraphQL sees it (api/http/auth_middleware.py,
the front door, a WebSocket's connection_init). This extension refuses any operation whose
context carries no role all the same, so a request that slipped past the transport (a bug,
a new route, a new way to spell a parameter) still reads nothing, introspection included.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

UNAUTHENTICATED_MESSAGE = "Missing or unknown API key: send `Authorization: Bearer <key>`."


class RequirePrincipal(SchemaExtension):
    """Refuses the operation (UNAUTHENTICATED, nothing validated or executed) when the context
    has no role."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if getattr(context.context, "role", None) is None and context.pre_execution_errors is None:
            context.pre_execution_errors = [GraphQLError(
                UNAUTHENTICATED_MESSAGE, extensions={"code": "UNAUTHENTICATED"})]
        yield
