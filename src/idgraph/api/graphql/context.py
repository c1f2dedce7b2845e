"""The typed per-request GraphQL context."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

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

    _loaders: Loaders | None = None

    @property
    def loaders(self) -> Loaders:
        """This request's DataLoaders, made on first use."""
        if self._loaders is None:
            self._loaders = Loaders(self.services)
        return self._loaders
