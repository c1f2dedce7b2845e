"""GraphQL surface of profiles: look-up by identity or id, identities, history, the merged
attributes with provenance, events, computed attributes and the test-profile flag."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.types import Info

from idgraph.api.graphql.common import (
    Identity,
    IdentityInput,
    LinkEvidence,
    from_millis,
    link_evidence,
)
from idgraph.api.graphql.context import Context
from idgraph.api.graphql.limits import DEFAULT_PAGE_SIZE, page_size
from idgraph.api.graphql.permissions import Role, allow
from idgraph.errors import InvalidInput
from idgraph.identity.items import to_millis
from idgraph.identity.namespaces import NamespaceRegistry
from idgraph.identity.normalise import IdentityRejected
from idgraph.identity.service import LinkEvidence as LinkEvidenceRow
from idgraph.profile.merge import BUILTIN_DEFAULT, Candidate, MergedValue, merged_attributes
from idgraph.profile.service import EventRow, EventsPage, ProfileRead, ProfileSummary, ReadShape
from idgraph.services import Services

if TYPE_CHECKING:  # the segments' schema module imports this one
    from idgraph.api.graphql.segments import ProfileSegment

READERS = [allow(Role.APP, Role.PARTNER, Role.ANALYST)]
MERGED_FIELDS = {"attributes", "attributeProvenance"}
ProfileSegmentType = Annotated["ProfileSegment", strawberry.lazy("idgraph.api.graphql.segments")]
PolicyArg = Annotated[strawberry.ID | None, strawberry.argument(
    description="A merge policy id; the default policy when omitted.")]


@strawberry.type(description="One change of a profile cluster: created, merged, split, ...")
class ClusterChange:
    profile_id: strawberry.ID
    at: datetime
    kind: str
    related: list[str]
    reason: str | None
    cause: str | None


@strawberry.type(description="A value of one fragment: where and when it came from.")
class AttributeCandidate:
    value: JSON
    source: str
    record_id: str
    timestamp: datetime

    @classmethod
    def of(cls, c: Candidate) -> AttributeCandidate:
        return cls(value=c.value, source=c.source, record_id=c.record_id,
                   timestamp=from_millis(c.ts))


@strawberry.type(description="A merged attribute: the winning value and the values it beat.")
class AttributeValue:
    path: str = strawberry.field(description="Dotted path of a nested attribute: address.city.")
    value: JSON
    source: str
    record_id: str
    timestamp: datetime
    beaten: list[AttributeCandidate] = strawberry.field(description="Best first.")


@strawberry.type(description="A time-stamped fact about the profile's identities.")
class ExperienceEvent:
    id: strawberry.ID = strawberry.field(description="source|eventId")
    source: str
    event_id: str
    type: str
    timestamp: datetime
    properties: JSON

    @classmethod
    def of(cls, row: EventRow) -> ExperienceEvent:
        return cls(id=strawberry.ID(row.key), source=row.source, event_id=row.event_id,
                   type=row.type, timestamp=from_millis(row.ts),
                   properties=JSON(row.properties))


@strawberry.type(description="A computed attribute's current value on this profile.")
class ComputedValue:
    name: str
    function: str
    event_type: str
    property: str | None
    value: JSON | None = strawberry.field(
        description="COUNT and SUM are 0 without events, others null; SUM is null past the "
                    "float range.")


@strawberry.type(description="A customer: the cluster of identities reachable over links.")
class Profile:
    id: strawberry.ID = strawberry.field(description="Stable across merges; old ids resolve.")
    identities: list[Identity]
    primary_identity: Identity
    size: int
    created_at: datetime
    updated_at: datetime
    is_test_profile: bool = strawberry.field(
        default=False, description="Test data (a fragment with testProfile: true).")
    loaded: strawberry.Private[ProfileRead | None] = None
    asked_key: strawberry.Private[str | None] = None  # the identity asked for (stitching off)
    # Reads with fragments in flight, by merge policy: sibling fields under one policy
    # (`attributes`, `attributeProvenance`) share one read, and so fail in document order
    # (two racing reads made the reported error, and the answer, vary from run to run).
    fragment_reads: strawberry.Private[
        dict[str | None, asyncio.Future[ProfileRead | None]] | None] = None

    @strawberry.field(permission_classes=[allow(Role.ANALYST, Role.PARTNER)],
                      description="Merges, splits and refused links, newest first.")
    async def history(self, info: Info[Context, None]) -> list[ClusterChange]:
        rows = await info.context.loaders.history.load(str(self.id))
        return [ClusterChange(profile_id=strawberry.ID(r["profileId"]), at=from_millis(r["at"]),
                              kind=r["kind"], related=r["related"] or [], reason=r["reason"],
                              cause=r["cause"]) for r in rows]

    @strawberry.field(permission_classes=[allow(Role.ANALYST, Role.PARTNER)],
                      description="The links touching this profile's identities, whatever "
                                  "their status: between members, and refused or unlinked ones "
                                  "to identities kept out. Active first, then newest; batched "
                                  "across profiles.")
    async def links(self, info: Info[Context, None],
                    first: int | None = DEFAULT_PAGE_SIZE) -> list[LinkEvidence]:
        size = page_size(first, info.context.services.settings)
        rows = await info.context.loaders.links.load(str(self.id))
        return [link_evidence(LinkEvidenceRow.from_row(row)) for row in rows[:size]]

    @strawberry.field(permission_classes=READERS,
                      description="The merged attributes as a JSON object (nested).")
    async def attributes(self, info: Info[Context, None], merge_policy: PolicyArg = None) -> JSON:
        if merge_policy is None and (stored := self.stored_attributes_json()) is not None:
            return JSON(json.loads(stored))
        return JSON(merged_attributes(await self._merged(info, merge_policy)))

    @strawberry.field(permission_classes=READERS,
                      description="Per merged attribute: its value, provenance and what it beat.")
    async def attribute_provenance(self, info: Info[Context, None],
                                   merge_policy: PolicyArg = None) -> list[AttributeValue]:
        return [AttributeValue(path=v.path, value=v.winner.value, source=v.winner.source,
                               record_id=v.winner.record_id,
                               timestamp=from_millis(v.winner.ts),
                               beaten=[AttributeCandidate.of(b) for b in v.beaten])
                for v in await self._merged(info, merge_policy)]

    # The `type: ignore[type-var]`s: strawberry binds Connection's node type to relay.Node in
    # its annotations, but any type works (no global ids here).
    @strawberry.field(permission_classes=READERS,
                      description="Events about the profile's identities, newest first.")
    async def events(self, info: Info[Context, None], first: int | None = DEFAULT_PAGE_SIZE,
                     after: str | None = None, types: list[str] | None = None,
                     since: datetime | None = None,
                     until: datetime | None = None
                     ) -> relay.Connection[ExperienceEvent]:  # type: ignore[type-var]
        size = page_size(first, info.context.services.settings)
        page = EventsPage(size + 1, _after(after), tuple(types) if types is not None else None,
                          _ms(since), _ms(until))
        rows = await info.context.loaders.events(page).load(str(self.id))
        edges = [relay.Edge(cursor=_cursor(r), node=ExperienceEvent.of(r))  # type: ignore[type-var]
                 for r in rows[:size]]
        return relay.Connection(edges=edges, page_info=relay.PageInfo(  # type: ignore[type-var]
            has_next_page=len(rows) > size, has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None))

    @strawberry.field(permission_classes=READERS,
                      description="Every computed attribute's value over its lookback window.")
    async def computed(self, info: Info[Context, None]) -> list[ComputedValue]:
        values = await info.context.loaders.computed.load(str(self.id))
        return [ComputedValue(name=d.name, function=d.function, event_type=d.event_type,
                              property=d.property, value=value) for d, value in values]

    def stored_attributes_json(self) -> str | None:
        """The default policy's attributes as the materialised view stores them (JSON text),
        when this profile's read brought them and they apply to the identity asked for."""
        return None if self.loaded is None else self.loaded.default_attributes_json(
            self.asked_key)

    @strawberry.field(permission_classes=READERS,
                      description="Segments the profile is a member of at their last "
                                  "evaluations (realized, existing; recent exits too with "
                                  "includeExited), by segment name.")
    async def segments(self, info: Info[Context, None], include_exited: bool = False,
                       ) -> list[ProfileSegmentType]:
        from idgraph.api.graphql.segments import profile_segments  # segments' schema module

        return await profile_segments(info, str(self.id), include_exited)

    async def _merged(self, info: Info[Context, None],
                      policy_id: strawberry.ID | None) -> list[MergedValue]:
        service = info.context.services.profiles
        wanted = None if policy_id is None else str(policy_id)
        read = self.loaded
        if read is None or read.fragments is None or not _has_policy(read, wanted):
            if self.fragment_reads is None:
                self.fragment_reads = {}
            pending = self.fragment_reads.get(wanted)
            if pending is None:
                pending = self.fragment_reads[wanted] = asyncio.ensure_future(service.read(
                    profile_id=str(self.id), with_fragments=True,
                    policy_ids=(wanted,) if wanted else ()))
            read = await asyncio.shield(pending)  # a cancelled field leaves it to the other
            if read is None:
                return []
            self.loaded = read
        return service.merged(read, wanted, self.asked_key)

    @classmethod
    def from_summary(cls, summary: ProfileSummary, registry: NamespaceRegistry,
                     read: ProfileRead | None = None,
                     asked_key: str | None = None) -> Profile:
        identities = [Identity(namespace=i["namespace"], value=i["value"],
                               first_seen=from_millis(i["firstSeen"]),
                               last_seen=from_millis(i["lastSeen"]))
                      for i in ordered_identities(summary.identities, registry)]
        return cls(id=strawberry.ID(summary.id), identities=identities,
                   primary_identity=Identity.from_key(summary.primary_key), size=len(identities),
                   created_at=from_millis(summary.created_at),
                   updated_at=from_millis(summary.updated_at),
                   is_test_profile=bool(read and read.is_test), loaded=read, asked_key=asked_key)


def ordered_identities(rows: list[dict[str, Any]],
                       registry: NamespaceRegistry) -> list[dict[str, Any]]:
    """A profile's identity rows in the order the API lists them: namespace priority, then
    namespace, then value."""
    return sorted(rows, key=lambda i: (registry.priority(i["namespace"]), i["namespace"],
                                       i["value"]))


def _has_policy(read: ProfileRead, wanted: str | None) -> bool:
    return wanted in (None, BUILTIN_DEFAULT.id) or any(r["id"] == wanted
                                                       for r in read.policy_rows)


def _ms(value: datetime | None) -> int | None:
    return None if value is None else to_millis(value)


def _cursor(row: EventRow) -> str:
    return base64.urlsafe_b64encode(f"{row.ts}|{row.key}".encode()).decode()


def _after(cursor: str | None) -> tuple[int, str] | None:
    if cursor is None:
        return None
    try:
        ts, _, key = base64.urlsafe_b64decode(cursor).decode().partition("|")
        if key and -(2**63) <= int(ts) < 2**63:  # Neo4j's integers
            return int(ts), key
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidInput("`after` is not a cursor from this connection.")


def _walk(selections: Iterable[Any]) -> Iterable[Any]:
    for selection in selections:
        if getattr(selection, "name", None) is not None and hasattr(selection, "arguments"):
            yield selection
        else:  # a fragment spread or inline fragment: look inside
            yield from _walk(selection.selections)


def lookahead(info: Info[Context, None]) -> ReadShape:
    """What the read must fetch: only the materialised view when the query asks for default
    `attributes` alone; fragments (and the named policies) when it merges at read time."""
    merged_fields, ids = [], set()
    for field in info.selected_fields:
        for sub in _walk(field.selections):
            if sub.name in MERGED_FIELDS:
                merged_fields.append(sub)
                if sub.arguments.get("mergePolicy"):
                    ids.add(str(sub.arguments["mergePolicy"]))
    view_only = bool(merged_fields) and all(
        f.name == "attributes" and not f.arguments.get("mergePolicy") for f in merged_fields)
    return ReadShape(fragments=bool(merged_fields) and not view_only,
                     policies=tuple(sorted(ids)), view=view_only)


@strawberry.type
class ProfileQuery:
    @strawberry.field(permission_classes=READERS,
                      description="The profile of an identity (raw values are normalised).")
    async def profile(self, info: Info[Context, None], identity: IdentityInput) -> Profile | None:
        return await profile_of(info.context.services, identity, lookahead(info))

    @strawberry.field(permission_classes=READERS,
                      description="A profile by id; a merged-away id gives the surviving profile.")
    async def profile_by_id(self, info: Info[Context, None], id: strawberry.ID) -> Profile | None:
        return await load_profile(info, str(id))


async def profile_of(services: Services, identity: IdentityInput,
                     shape: ReadShape) -> Profile | None:
    """The `profile` field's answer: the profile of an identity, read in the given shape (None
    for an unknown or rejected identity). The fast path (fast_plan.py) answers with it too."""
    try:
        key = services.identity.normalise(identity.namespace, identity.value).key
    except IdentityRejected:
        return None
    read = await services.profiles.read(key=key, with_fragments=shape.fragments,
                                        policy_ids=shape.policies, with_view=shape.view)
    return Profile.from_summary(read.summary, services.identity.registry, read,
                                key) if read else None


async def load_profile(info: Info[Context, None], profile_id: str) -> Profile | None:
    """A profile by id through the request's DataLoader (batched with its siblings)."""
    read = await info.context.loaders.profiles(lookahead(info)).load(profile_id)
    registry = info.context.services.identity.registry
    return Profile.from_summary(read.summary, registry, read) if read else None
