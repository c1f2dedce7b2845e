"""GraphQL types and helpers every domain's schema module uses: identities, links and times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

import strawberry
from strawberry.types import Info

from idgraph.api.graphql.context import Context
from idgraph.errors import InvalidInput
from idgraph.identity import service as identity_service
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


@strawberry.type(description="One link between two identities, with its provenance.")
class LinkEvidence:
    a: Identity
    b: Identity
    source: str
    status: str = strawberry.field(description="active, refused (by the linking rules) or "
                                               "unlinked (by a person).")
    reason: str | None
    first_seen: datetime | None
    last_seen: datetime | None
    count: int
    first_record_id: str | None
    last_record_id: str | None


def link_evidence(link: identity_service.LinkEvidence) -> LinkEvidence:
    return LinkEvidence(
        a=Identity.from_key(link.a), b=Identity.from_key(link.b), source=link.source,
        status=link.status, reason=link.reason, first_seen=from_millis(link.first_seen),
        last_seen=from_millis(link.last_seen), count=link.count,
        first_record_id=link.first_record_id, last_record_id=link.last_record_id)
