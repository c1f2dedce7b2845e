"""Live updates over graphql-transport-ws: `profileChanged(identity)`.

The pipeline publishes, after each commit, what the change did to each profile it touched
(`pipeline/feed.py`): created, merged into another, absorbing others, split, updated, deleted.
Each subscription re-reads its profile when the profile it watches is among them, following
merges and splits (the identity then resolves to its new profile), and ends its stream of a
profile with a DELETED event when the profile is gone. The feed is shared by every API process (an
outbox in Neo4j that each process with subscribers tails): a change committed through one
process reaches subscribers connected to any other. A subscription registers with `async with`
before its first read, so no change committed after that read can slip by. Each event also
carries the profile's segment entries and exits (`memberships`); `audienceMembership(segmentId)`
(live_audiences.py) follows one segment's.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.types import Info

from idgraph.api.graphql.common import IdentityInput, to_key
from idgraph.api.graphql.context import Context
from idgraph.api.graphql.live_audiences import MembershipEvent, follow_audience, known_segment
from idgraph.api.graphql.permissions import Role, allow
from idgraph.api.graphql.profile import Profile
from idgraph.errors import IdgraphError
from idgraph.pipeline import changeset
from idgraph.pipeline.changeset import ProfileEvent
from idgraph.pipeline.feed import Change
from idgraph.services import Services

MAX_SUBSCRIPTIONS_PER_CONNECTION = 20


# The domain's kinds, exposed as they are (one meaning, one name).
strawberry.enum(changeset.ChangeKind, name="ChangeKind", description=(
    "What a committed change did to the watched profile: UPDATED (its data or members), "
    "ABSORBED (others were merged into it), CREATED, SPLIT (split off from others, or lost "
    "members to new ones), MERGED (merged into another), DELETED, MEMBERSHIP (only its segment "
    "memberships changed, by a batch evaluation)."))


@strawberry.type(description="A profile's new state after a change (null when deleted).")
class ProfileChange:
    kind: changeset.ChangeKind
    profile_id: strawberry.ID = strawberry.field(description=(
        "The profile now holding the identity (the deleted one for DELETED)."))
    related_profile_ids: list[strawberry.ID] = strawberry.field(description=(
        "The other profiles of the change, seen from profileId: MERGED and ABSORBED, the ids "
        "merged into it (the watched one among them for MERGED); SPLIT, the other side of the "
        "split; otherwise empty."))
    profile: Profile | None
    memberships: list[MembershipEvent] = strawberry.field(default_factory=list, description=(
        "Segments the profile entered or left in this change (streaming or batch "
        "evaluation)."))


def _claim_slot(info: Info[Context, None]) -> dict[str, int]:
    """Per-connection subscription count, kept on the WebSocket's own state."""
    state = info.context.request.scope.setdefault("state", {})  # type: ignore[union-attr]  # a WebSocket's
    counter: dict[str, int] = state.setdefault("idgraph_subscriptions", {"open": 0})
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
            async with info.context.services.changes.subscribe() as changes:
                async for event in _follow(info.context.services, key, changes):
                    info.context.fresh_loaders()  # each event's fields read afresh
                    yield event
        finally:
            counter["open"] -= 1

    @strawberry.subscription(permission_classes=[allow(Role.ANALYST, Role.PARTNER)],
                             description="Profiles entering and leaving a segment, as streaming "
                                         "and batch evaluation change its members.")
    async def audience_membership(self, info: Info[Context, None], segment_id: strawberry.ID
                                  ) -> AsyncGenerator[MembershipEvent, None]:
        counter = _claim_slot(info)
        try:
            # Registered before the check, with every process's writes known to reach it: no
            # change slips by while it reads.
            async with info.context.services.changes.subscribe() as changes:
                await known_segment(info, str(segment_id))
                async for event in follow_audience(info, str(segment_id), changes):
                    yield event
        finally:
            counter["open"] -= 1


async def _follow(services: Services, key: str, changes: Any
                  ) -> AsyncGenerator[ProfileChange, None]:
    """Events of the profile holding `key`: the kind is the one of the profile it was in before
    the change (for an identity that had none, of the profile it is in now); the related ids
    are the ones of the profile it is in now."""
    # The same read as the `profile` query, with the materialised view for `attributes`.
    read = await services.profiles.read(key=key, with_view=True)
    watched = read.summary.id if read else None
    while True:
        change: Change = await changes.get()
        event = change.get(watched) if watched is not None else None
        if watched is not None and event is None:
            continue
        read = await services.profiles.read(key=key, with_view=True)
        if read is None:
            if watched is not None:
                yield ProfileChange(kind=changeset.ChangeKind.DELETED,
                                    profile_id=strawberry.ID(watched), related_profile_ids=[],
                                    profile=None, memberships=[])
            watched = None
            continue
        watched = read.summary.id
        now = change.get(watched) or ProfileEvent(watched, changeset.ChangeKind.UPDATED)
        yield ProfileChange(kind=(event or now).kind, profile_id=strawberry.ID(watched),
                            related_profile_ids=[strawberry.ID(r) for r in now.related],
                            profile=Profile.from_summary(read.summary,
                                                         services.identity.registry, read, key),
                            memberships=_memberships(event, now))


def _memberships(before: ProfileEvent | None, now: ProfileEvent) -> list[MembershipEvent]:
    """The membership changes of the profile watched before the change (a merged-away one
    exits its segments) and of the one holding the identity now."""
    events = [before] if before is not None and before is not now else []
    return [MembershipEvent.of(e.profile_id, m) for e in [*events, now] for m in e.memberships]
