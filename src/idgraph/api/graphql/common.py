"""GraphQL types and helpers every domain's schema module uses: identities and times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

import strawberry
from strawberry.types import Info

from idgraph.api.graphql.context import Context
from idgraph.errors import InvalidInput
from idgraph.identity.normalise import IdentityKey, IdentityRejected


@overload
def from_millis(ms: int) -> datetime: ...
@overload
def from_millis(ms: int | None) -> datetime | None: ...
def from_millis(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


@strawberry.input(description="An identity as sent by a client; normalised by the service.")
class IdentityInput:
    namespace: str
    value: str


@strawberry.type(description="A normalised identity: (namespace, value).")
class Identity:
    namespace: str
    value: str
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    @classmethod
    def from_key(cls, key: str) -> Identity:
        namespace, value = key.split(":", 1)
        return cls(namespace=namespace, value=value)


def to_key(info: Info[Context, None], identity: IdentityInput) -> IdentityKey:
    try:
        return info.context.services.identity.normalise(identity.namespace, identity.value)
    except IdentityRejected as exc:
        raise InvalidInput(str(exc), exc.code) from exc
