"""GraphQL surface of the identity graph: ingest, dry run, resolve, unlink, explain, history."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from idgraph.api.graphql.common import (
    Identity,
    IdentityInput,
    LinkEvidence,
    from_millis,
    link_evidence,
    to_key,
)
from idgraph.api.graphql.context import Context
from idgraph.api.graphql.permissions import Role, allow
from idgraph.api.graphql.profile import Profile, load_profile
from idgraph.identity import service as identity_service
from idgraph.identity.clustering import ClusterReport
from idgraph.pipeline.backlog import Status


@strawberry.input(description="What one source says about a set of identities, at a time.")
class RecordInput:
    source: str
    record_id: str
    timestamp: datetime
    identities: list[IdentityInput]
    attributes: JSON | None = None


@strawberry.input(description="A time-stamped fact about one or more identities.")
class EventInput:
    source: str
    event_id: str
    timestamp: datetime
    type: str
    identities: list[IdentityInput]
    properties: JSON | None = None


@strawberry.enum(description="Which list of the ingest call an error refers to.")
class ItemKind(Enum):
    RECORD = "record"
    EVENT = "event"


@strawberry.type(description="Why one item of an ingest was rejected; nothing of it was stored.")
class IngestError:
    kind: ItemKind
    index: int = strawberry.field(description="Position in its own list (records or events).")
    code: str
    message: str


@strawberry.type
class ProfileMerge:
    merged_profile_id: strawberry.ID
    into_profile_id: strawberry.ID


@strawberry.type
class ProfileSplit:
    profile_id: strawberry.ID = strawberry.field(description="The new profile.")
    from_profile_ids: list[strawberry.ID]


@strawberry.type(description="A link refused by the linking rules; kept in the graph as history.")
class RefusedLink:
    a: Identity
    b: Identity
    reason: str


@strawberry.type(description="What an ingest did (or, for a dry run, would do) to the graph.")
class IngestSummary:
    dry_run: bool
    deferred: bool = strawberry.field(description=(
        "Accepted into the ingest backlog (ingestDeferred): the profiles follow when it is "
        "settled, and the cluster changes below are empty."))
    accepted: int
    duplicates: int = strawberry.field(description="Items already ingested; changed nothing.")
    rejected: int
    errors: list[IngestError]
    profiles_created: list[strawberry.ID]
    merges: list[ProfileMerge]
    splits: list[ProfileSplit]
    refused_links: list[RefusedLink]

    @classmethod
    def of(cls, result: identity_service.IngestResult, n_records: int,
           dry_run: bool, deferred: bool = False) -> IngestSummary:
        return cls(
            dry_run=dry_run, deferred=deferred, accepted=result.accepted,
            duplicates=result.duplicates,
            rejected=len(result.rejected),
            errors=[_error(r.index, r.code, r.message, n_records) for r in result.rejected],
            **_changes(result.report),
        )


def _error(index: int, code: str, message: str, n_records: int) -> IngestError:
    if index < n_records:
        return IngestError(kind=ItemKind.RECORD, index=index, code=code, message=message)
    return IngestError(kind=ItemKind.EVENT, index=index - n_records, code=code, message=message)


def _changes(report: ClusterReport) -> dict[str, Any]:
    return {
        "profiles_created": [strawberry.ID(p) for p in report.created],
        "merges": [ProfileMerge(merged_profile_id=strawberry.ID(a),
                                into_profile_id=strawberry.ID(b)) for a, b in report.merged],
        "splits": [ProfileSplit(profile_id=strawberry.ID(p),
                                from_profile_ids=[strawberry.ID(x) for x in src])
                   for p, src in report.split],
        "refused_links": [RefusedLink(a=Identity.from_key(a), b=Identity.from_key(b), reason=r)
                          for a, b, r in report.refused],
    }


@strawberry.type(description="An identity mapped to its profile (null when unknown).")
class Resolution:
    identity: Identity
    profile_id: strawberry.ID | None
    error: str | None = None

    @classmethod
    def of(cls, resolved: identity_service.Resolved) -> Resolution:
        return cls(identity=Identity(namespace=resolved.namespace, value=resolved.value),
                   profile_id=resolved.profile_id,  # type: ignore[arg-type]  # an ID is a str
                   error=resolved.error)

    @strawberry.field(permission_classes=[allow(Role.PARTNER)],
                      description="The whole profile; batched across the list (no N+1).")
    async def profile(self, info: Info[Context, None]) -> Profile | None:
        return await load_profile(info, str(self.profile_id)) if self.profile_id else None


@strawberry.type(description="Why two identities are, or are not, in one profile.")
class Explanation:
    same_profile: bool
    links: list[LinkEvidence]
    message: str

    @classmethod
    def of(cls, found: identity_service.Explanation) -> Explanation:
        return cls(same_profile=found.same_profile, message=found.message,
                   links=[link_evidence(link) for link in found.links])


@strawberry.type(description="What an unlink removed and how the clusters changed.")
class UnlinkSummary:
    unlinked: int
    profiles_created: list[strawberry.ID]
    merges: list[ProfileMerge]
    splits: list[ProfileSplit]
    refused_links: list[RefusedLink]

    @classmethod
    def of(cls, result: identity_service.UnlinkResult) -> UnlinkSummary:
        return cls(unlinked=result.unlinked, **_changes(result.report))


def _raw_identities(identities: list[IdentityInput]) -> list[dict[str, Any]]:
    return [{"namespace": i.namespace, "value": i.value} for i in identities]


def record_dict(r: RecordInput) -> dict[str, Any]:
    return {"source": r.source, "recordId": r.record_id, "timestamp": r.timestamp,
            "identities": _raw_identities(r.identities), "attributes": r.attributes}


def event_dict(e: EventInput) -> dict[str, Any]:
    return {"source": e.source, "eventId": e.event_id, "timestamp": e.timestamp, "type": e.type,
            "identities": _raw_identities(e.identities), "properties": e.properties}


# Python names differ from the GraphQL name `source`: strawberry's permission check takes a
# keyword argument called `source` of its own.
SourceArg = Annotated[str | None, strawberry.argument(name="source",
                                                      description="Only this source's links.")]
RequiredSourceArg = Annotated[str, strawberry.argument(name="source")]
Records = Annotated[list[RecordInput] | None, strawberry.argument(description="Records.")]
Events = Annotated[list[EventInput] | None, strawberry.argument(description="Events.")]


async def _ingest(info: Info[Context, None], records: list[RecordInput] | None,
                  events: list[EventInput] | None, dry_run: bool, defer: bool = False
                  ) -> IngestSummary:
    recs = [record_dict(r) for r in records or []]
    evs = [event_dict(e) for e in events or []]
    result = await info.context.services.identity.ingest(recs, evs, dry_run=dry_run,
                                                         defer=defer)
    return IngestSummary.of(result, len(recs), dry_run, defer)


@strawberry.type(description="A batch of a deferred ingest the settler could not settle.")
class FailedBacklogEntry:
    seq: str = strawberry.field(description="The entry's place in the backlog.")
    accepted_at: datetime
    failed_at: datetime
    items: int
    code: str
    error: str = strawberry.field(description="Why, and what to do (then settle it again: "
                                              "`idgraph settle --retry-failed`).")


@strawberry.type(description="Deferred ingests waiting for their profiles.")
class IngestBacklog:
    entries: int = strawberry.field(description="Batches waiting (failed ones left out).")
    items: int = strawberry.field(description="Records and events in them.")
    oldest_accepted_at: datetime | None = strawberry.field(
        description="When the oldest waiting batch was accepted: how far profiles lag.")
    failed: list[FailedBacklogEntry] = strawberry.field(description="The first 100.")

    @classmethod
    def of(cls, status: Status) -> IngestBacklog:
        return cls(entries=status.entries, items=status.items,
                   oldest_accepted_at=from_millis(status.oldest_accepted_at),
                   failed=[FailedBacklogEntry(seq=str(f.seq),
                                              accepted_at=from_millis(f.accepted_at),
                                              failed_at=from_millis(f.failed_at),
                                              items=f.items, code=f.code, error=f.error)
                           for f in status.failed])


@strawberry.type
class IdentityQuery:
    @strawberry.field(permission_classes=[allow(Role.PARTNER)],
                      description="Map identities to profile ids, in input order.")
    async def resolve(self, info: Info[Context, None],
                      identities: list[IdentityInput]) -> list[Resolution]:
        resolved = await info.context.services.identity.resolve_each(
            [(i.namespace, i.value) for i in identities])
        return [Resolution.of(r) for r in resolved]

    @strawberry.field(permission_classes=[allow(Role.PARTNER, Role.ANALYST)],
                      description="Why two identities are, or are not, one profile.")
    async def explain(self, info: Info[Context, None], identity: IdentityInput,
                      other_identity: IdentityInput) -> Explanation:
        return Explanation.of(await identity_service.explain(
            info.context.services.identity, to_key(info, identity),
            to_key(info, other_identity)))

    @strawberry.field(permission_classes=[allow(Role.PARTNER)],
                      description="Deferred ingests whose profiles are not built yet.")
    async def ingest_backlog(self, info: Info[Context, None]) -> IngestBacklog:
        return IngestBacklog.of(await info.context.services.pipeline.backlog.status())

    @strawberry.field(permission_classes=[allow(Role.PARTNER)],
                      description="Dry run: what an ingest would do, writing nothing.")
    async def simulate_ingest(self, info: Info[Context, None], records: Records = None,
                              events: Events = None) -> IngestSummary:
        return await _ingest(info, records, events, dry_run=True)


@strawberry.type
class IdentityMutation:
    @strawberry.mutation(permission_classes=[allow(Role.PARTNER)],
                         description="Ingest records and events; bad items are reported.")
    async def ingest(self, info: Info[Context, None], records: Records = None,
                     events: Events = None) -> IngestSummary:
        return await _ingest(info, records, events, dry_run=False)

    @strawberry.mutation(permission_classes=[allow(Role.PARTNER)], description=(
        "Ingest records and events now, build their profiles later: bad items are reported "
        "and nothing of them is stored, as by `ingest`; the good ones are stored with their "
        "identities and links when this answers, and their profiles, views, segment "
        "memberships and change events follow when the settler takes them from the ingest "
        "backlog (within seconds; see ingestBacklog)."))
    async def ingest_deferred(self, info: Info[Context, None], records: Records = None,
                              events: Events = None) -> IngestSummary:
        return await _ingest(info, records, events, dry_run=False, defer=True)

    @strawberry.mutation(permission_classes=[allow()],
                         description="Remove the link between two identities (all sources, or "
                                     "one) and re-split the cluster.")
    async def unlink(self, info: Info[Context, None], identity: IdentityInput,
                     other_identity: IdentityInput, only_source: SourceArg = None,
                     reason: str = "manual unlink") -> UnlinkSummary:
        pair = (to_key(info, identity), to_key(info, other_identity))
        return UnlinkSummary.of(await info.context.services.identity.unlink(
            pair=pair, source=only_source, reason=reason))

    @strawberry.mutation(permission_classes=[allow()],
                         description="Remove every link one source contributed; re-split.")
    async def unlink_source(self, info: Info[Context, None], source_name: RequiredSourceArg,
                            reason: str = "source unlinked") -> UnlinkSummary:
        return UnlinkSummary.of(await info.context.services.identity.unlink(
            source=source_name, reason=reason))
