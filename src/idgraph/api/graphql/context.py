"""The typed per-request GraphQL context."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from idgraph.api.graphql.loaders import Loaders
from idgraph.auth.roles import Role
from idgraph.services import Services


@dataclass
class Context:
    services: Services
    request: Any
    response: Any = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    role: Role | None = None
    key_id: str | None = None  # the calling API key's id (never the key)
    api_keys: Any = None  # idgraph.auth.service.ApiKeyService
    metrics: Any = None  # idgraph.api.http.metrics.Metrics
    connection_params: dict | None = None  # a WebSocket's connection_init payload

    _loaders: Any = None

    @property
    def loaders(self) -> Loaders:
        """This request's DataLoaders, made on first use."""
        if self._loaders is None:
            self._loaders = Loaders(self.services)
        return self._loaders
