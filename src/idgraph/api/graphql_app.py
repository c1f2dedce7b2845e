"""Strawberry's ASGI GraphQL app with idgraph's per-request context."""

from __future__ import annotations

from typing import Any

from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from idgraph.api.context import Context
from idgraph.api.permissions import Role
from idgraph.api.schema import build_schema
from idgraph.services import Services


class IdgraphGraphQL(GraphQL):
    def __init__(self, services: Services) -> None:
        super().__init__(build_schema(), subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL])
        self.services = services

    async def get_context(self, request: Any, response: Any = None) -> Context:
        # Until authentication lands (API issue), every caller is treated as an admin.
        role = getattr(getattr(request, "state", None), "role", Role.ADMIN)
        return Context(services=self.services, request=request, response=response, role=role)


def build_graphql_app(services: Services) -> IdgraphGraphQL:
    return IdgraphGraphQL(services)
