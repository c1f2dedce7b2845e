"""Live updates over graphql-transport-ws: `profileChanged(identity)`.

Writers publish the ids of profiles a committed change touched (`changes.ChangeFeed`); each
subscription re-reads its profile when its id is among them, following merges (the identity
then resolves to the survivor) and ending with a DELETED event when the profile is gone. The
feed is per process: run one API process per feed, or put a broker behind ChangeFeed to scale
out. Audience-membership events can ride the same feed with their own topic later.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from enum import Enum

import strawberry
from strawberry.types import Info

from idgraph.api.graphql.common import IdentityInput, to_key
from idgraph.api.graphql.context import Context
from idgraph.api.graphql.permissions import Role, allow
from idgraph.api.graphql.profile import Profile
from idgraph.errors import IdgraphError

MAX_SUBSCRIPTIONS_PER_CONNECTION = 20


@strawberry.enum
class ChangeKind(Enum):
    UPDATED = "updated"
    DELETED = "deleted"


@strawberry.type(description="A profile's new state after a change (null when deleted).")
class ProfileChange:
    kind: ChangeKind
    profile_id: strawberry.ID
    profile: Profile | None


def _claim_slot(info: Info[Context, None]) -> dict:
    """Per-connection subscription count, kept on the WebSocket's own state."""
    state = info.context.request.scope.setdefault("state", {})
    counter = state.setdefault("idgraph_subscriptions", {"open": 0})
    if counter["open"] >= MAX_SUBSCRIPTIONS_PER_CONNECTION:
        raise IdgraphError(f"At most {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per "
                           "connection; close one first.", "TOO_MANY_SUBSCRIPTIONS")
    counter["open"] += 1
    return counter


@strawberry.type
class Subscription:
    @strawberry.subscription(permission_classes=[allow(Role.APP, Role.PARTNER, Role.ANALYST)],
                             description="The profile of an identity, pushed on every change.")
    async def profile_changed(self, info: Info[Context, None],
                              identity: IdentityInput) -> AsyncGenerator[ProfileChange, None]:
        key = to_key(info, identity).key
        counter = _claim_slot(info)
        try:
            with info.context.services.changes.subscribe() as changes:
                async for event in _follow(info.context.services, key, changes):
                    info.context.fresh_loaders()  # each event's fields read afresh
                    yield event
        finally:
            counter["open"] -= 1


async def _follow(services, key: str, changes) -> AsyncGenerator[ProfileChange, None]:
    # The same read as the `profile` query, with the materialised view for `attributes`.
    read = await services.profiles.read(key=key, with_view=True)
    watched = read.view.id if read else None
    while True:
        changed_ids = await changes.get()
        if watched is not None and watched not in changed_ids:
            continue
        read = await services.profiles.read(key=key, with_view=True)
        if read is None and watched is not None:
            yield ProfileChange(kind=ChangeKind.DELETED, profile_id=strawberry.ID(watched),
                                profile=None)
            watched = None
        elif read is not None:
            watched = read.view.id
            yield ProfileChange(kind=ChangeKind.UPDATED, profile_id=strawberry.ID(watched),
                                profile=Profile.from_view(read.view, services.identity.registry,
                                                          read, key))
