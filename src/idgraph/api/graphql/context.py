"""The typed per-request GraphQL context."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension

from idgraph.api.graphql.loaders import Loaders
from idgraph.auth.roles import Role
from idgraph.auth.service import ApiKeyService
from idgraph.services import Services

if TYPE_CHECKING:  # the schema never imports the HTTP transport at run time
    from idgraph.api.http.metrics import Metrics


@dataclass
class Context:
    services: Services
    request: Request | WebSocket | None  # None when a document is executed in-process
    response: Response | WebSocket | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    role: Role | None = None
    key_id: str | None = None  # the calling API key's id (never the key)
    api_keys: ApiKeyService | None = None  # None in-process: no key management
    metrics: Metrics | None = None
    connection_params: dict[str, Any] | None = None  # a WebSocket's connection_init payload
    # A WebSocket connection's context: each operation on it runs with its own copy
    # (OperationContext below), so no cache outlives an operation.
    per_connection: bool = False

    _loaders: Loaders | None = None

    @property
    def loaders(self) -> Loaders:
        """This request's DataLoaders, made on first use."""
        if self._loaders is None:
            self._loaders = Loaders(self.services)
        return self._loaders

    def for_operation(self) -> Context:
        """A copy for one operation on a connection: the same caller, its own DataLoaders."""
        return dataclasses.replace(self, per_connection=False, _loaders=None)

    def fresh_loaders(self) -> None:
        """Forget every cached load: a subscription does before each event it pushes, so an
        event never shows values cached for an earlier one."""
        self._loaders = None


class OperationContext(SchemaExtension):
    """Runs each operation on a WebSocket with its own copy of the connection's context: a
    connection lives for hours, and its DataLoader caches must not (stale values, unbounded
    memory)."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and context.per_connection:
            self.execution_context.context = context.for_operation()
        yield
