"""GraphQL surface of profiles: look-up by identity or id, identities, primary, history."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from idgraph.api.identity_types import Identity, IdentityInput, from_millis
from idgraph.api.permissions import Role, allow
from idgraph.identity.service import ProfileView

READERS = [allow(Role.APP, Role.PARTNER, Role.ANALYST)]


@strawberry.type(description="One change of a profile cluster: created, merged, split, ...")
class ClusterChange:
    profile_id: strawberry.ID
    at: datetime
    kind: str
    related: list[str]
    reason: str | None
    cause: str | None


@strawberry.type(description="A customer: the cluster of identities reachable over links.")
class Profile:
    id: strawberry.ID = strawberry.field(description="Stable across merges; old ids resolve.")
    identities: list[Identity]
    primary_identity: Identity
    size: int
    created_at: datetime
    updated_at: datetime

    @strawberry.field(permission_classes=[allow(Role.ANALYST, Role.PARTNER)],
                      description="Merges, splits and refused links, newest first.")
    async def history(self, info: Info) -> list[ClusterChange]:
        rows = await info.context.services.identity.history(str(self.id))
        return [ClusterChange(profile_id=strawberry.ID(r["profileId"]), at=from_millis(r["at"]),
                              kind=r["kind"], related=r["related"] or [], reason=r["reason"],
                              cause=r["cause"]) for r in rows]

    @classmethod
    def from_view(cls, view: ProfileView, registry) -> Profile:
        identities = sorted(
            (Identity(namespace=i["namespace"], value=i["value"],
                      first_seen=from_millis(i["firstSeen"]), last_seen=from_millis(i["lastSeen"]))
             for i in view.identities),
            key=lambda i: (registry.priority(i.namespace), i.namespace, i.value))
        return cls(id=strawberry.ID(view.id), identities=identities,
                   primary_identity=Identity.from_key(view.primary_key), size=len(identities),
                   created_at=from_millis(view.created_at), updated_at=from_millis(view.updated_at))


@strawberry.type
class ProfileQuery:
    @strawberry.field(permission_classes=READERS,
                      description="The profile of an identity (raw values are normalised).")
    async def profile(self, info: Info, identity: IdentityInput) -> Profile | None:
        service = info.context.services.identity
        view = await service.profile(identity.namespace, identity.value)
        return Profile.from_view(view, service.registry) if view else None

    @strawberry.field(permission_classes=READERS,
                      description="A profile by id; a merged-away id gives the surviving profile.")
    async def profile_by_id(self, info: Info, id: strawberry.ID) -> Profile | None:
        service = info.context.services.identity
        view = await service.profile_by_id(str(id))
        return Profile.from_view(view, service.registry) if view else None
