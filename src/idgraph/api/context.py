"""The typed per-request GraphQL context."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from idgraph.api.permissions import Role
from idgraph.services import Services


@dataclass
class Context:
    services: Services
    request: Any
    response: Any = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    role: Role | None = None
