"""Live audience membership over graphql-transport-ws: `audienceMembership(segmentId)`, and the
membership changes `profileChanged` carries.

Both read the one change feed (pipeline/feed.py): streaming evaluation (segments/streaming.py)
adds to each profile's event the segments it entered or left in that write, and batch
evaluation publishes each committed chunk's entries and exits (segments/evaluation.py). Events
of one subscription arrive in commit order; a subscriber too slow to keep up loses the oldest
changes first (the feed's bounded queue).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from idgraph.api.graphql.context import Context
from idgraph.api.graphql.profile import Profile, load_profile
from idgraph.api.graphql.segment_support import moment
from idgraph.api.graphql.segments import MembershipStatus
from idgraph.errors import NotFound
from idgraph.pipeline.changeset import MembershipChange


@strawberry.type(description="A profile entering (REALIZED) or leaving (EXITED) a segment.")
class MembershipEvent:
    segment_id: strawberry.ID
    profile_id: strawberry.ID
    status: MembershipStatus
    cause: str = strawberry.field(description=(
        "Why: the write that changed it (ingest, unlink, delete source, ...), 'evaluation' "
        "for a batch evaluation, or 'merged into <profile id>'."))
    at: datetime = strawberry.field(description="When the membership changed.")

    @strawberry.field(description=(
        "The profile, read when the event is pushed (only when asked for): the survivor for "
        "an id merged away, null when it was deleted."))
    async def profile(self, info: Info[Context, None]) -> Profile | None:
        return await load_profile(info, str(self.profile_id))

    @classmethod
    def of(cls, profile_id: str, change: MembershipChange) -> MembershipEvent:
        return cls(segment_id=strawberry.ID(change.segment),
                   profile_id=strawberry.ID(profile_id),
                   status=MembershipStatus(change.status), cause=change.cause,
                   at=moment(change.at))


async def follow_audience(info: Info[Context, None], segment_id: str, changes: Any
                          ) -> AsyncGenerator[MembershipEvent, None]:
    """The membership events of one segment, in the order the feed delivers them."""
    while True:
        change = await changes.get()
        for profile_id, event in sorted(change.items()):
            for membership in event.memberships:
                if membership.segment == segment_id:
                    info.context.fresh_loaders()  # each event's profile read afresh
                    yield MembershipEvent.of(profile_id, membership)


async def known_segment(info: Info[Context, None], segment_id: str) -> None:
    """NOT_FOUND at subscription time for a segment that does not exist."""
    if not await info.context.services.segments.service.get_many([segment_id]):
        raise NotFound(f"No segment has the id {segment_id!r}.")
