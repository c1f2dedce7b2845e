"""GraphQL for suppression: identities deleted with `deleteProfile(suppress: true)` are
listed (hashes and times, never values) and lifted by admins."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from idgraph.api.graphql.common import IdentityInput, from_millis, to_key
from idgraph.api.graphql.context import Context
from idgraph.api.graphql.limits import DEFAULT_PAGE_SIZE, page_size
from idgraph.api.graphql.permissions import allow

ADMIN = [allow()]


@strawberry.type(description="One suppressed identity: its salted hash (HMAC-SHA256 under the "
                             "deployment's salt), never its value.")
class Suppression:
    hash: str
    created_at: datetime


@strawberry.type
class PrivacyQuery:
    @strawberry.field(permission_classes=ADMIN, description="Suppressions, newest first.")
    async def suppressions(self, info: Info[Context, None],
                           first: int | None = DEFAULT_PAGE_SIZE) -> list[Suppression]:
        size = page_size(first, info.context.services.settings)
        entries = await info.context.services.profiles.suppressions.list(size)
        return [Suppression(hash=e.hash, created_at=from_millis(e.created_at)) for e in entries]


@strawberry.type
class PrivacyMutation:
    @strawberry.mutation(permission_classes=ADMIN, description=(
        "Let a suppressed identity in again; false when it was not suppressed."))
    async def lift_suppression(self, info: Info[Context, None], identity: IdentityInput) -> bool:
        key = to_key(info, identity).key
        return await info.context.services.profiles.suppressions.lift(key)
