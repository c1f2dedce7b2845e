"""GraphQL surface of segments: saved segments (create, update, delete, list, read), their
evaluation into audiences (jobs), members, preview and explain of a rule, and each profile's
segments (`Profile.segments`, resolved here through a DataLoader)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.types import Info

from idgraph.api.graphql.common import Identity
from idgraph.api.graphql.context import Context
from idgraph.api.graphql.jobs import Job
from idgraph.api.graphql.limits import DEFAULT_PAGE_SIZE, page_size
from idgraph.api.graphql.permissions import Role, allow
from idgraph.api.graphql.segment_support import (
    connection,
    encode,
    member_after,
    millis_or_now,
    moment,
    segment_after,
    segment_errors,
    text_or_none,
)
from idgraph.errors import InvalidInput
from idgraph.segments import preview as previews
from idgraph.segments.ast import Rule
from idgraph.segments.compiler import CompiledQuery
from idgraph.segments.objects import SavedSegment
from idgraph.segments.service import SegmentSpec, rule_of
from idgraph.segments.streaming import Streaming
from idgraph.segments.transitions import CURRENT

ANALYSTS = [allow(Role.ANALYST)]
MEMBER_READERS = [allow(Role.ANALYST, Role.PARTNER)]


@strawberry.enum(description="realized: entered at the last evaluation; existing: a member "
                             "at least twice running; exited: left (kept for the retention).")
class MembershipStatus(Enum):
    REALIZED = "realized"
    EXISTING = "existing"
    EXITED = "exited"


@strawberry.type(description="Memberships after an evaluation, and what it changed.")
class MembershipCounts:
    realized: int
    existing: int
    exited: int
    entered: int = strawberry.field(description="Profiles that became members (realized).")
    exited_now: int = strawberry.field(description="Members that left at this evaluation.")
    purged: int = strawberry.field(description="Exits older than the retention, deleted.")


@strawberry.type(description="The last evaluation of the segment's current version.")
class SegmentEvaluation:
    job_id: strawberry.ID | None
    at: datetime = strawberry.field(description="When it finished.")
    as_of: datetime = strawberry.field(description="The instant the rule was evaluated for.")
    version: int
    size: int
    counts: MembershipCounts

    @strawberry.field(permission_classes=ANALYSTS, description="The evaluation's job.")
    async def job(self, info: Info[Context, None]) -> Job | None:
        found = None if self.job_id is None else await info.context.services.jobs.get(
            str(self.job_id))
        return None if found is None else Job.of(found)

    @classmethod
    def of(cls, data: dict[str, Any]) -> SegmentEvaluation:
        counts = data["counts"]
        return cls(job_id=data.get("job"), at=moment(data["at"]), as_of=moment(data["as_of"]),
                   version=data["version"], size=data["size"],
                   counts=MembershipCounts(
                       realized=counts["realized"], existing=counts["existing"],
                       exited=counts["exited"], entered=counts["entered"],
                       exited_now=counts["exitedNow"], purged=counts["purged"]))


@strawberry.type(description="A member (or recent exit) of a segment.")
class SegmentMember:
    profile_id: strawberry.ID
    primary_identity: Identity | None
    status: MembershipStatus
    since: datetime = strawberry.field(description="When the profile last entered.")
    changed_at: datetime = strawberry.field(description="The status's last change.")
    cause: str | None = strawberry.field(default=None, description=(
        "Why the status last changed: 'evaluation' (batch), the write that changed it "
        "(streaming: ingest, unlink, ...), or 'merged into <profile id>'."))


@strawberry.enum(description="RULE: members are the profiles its rule selects; IMPORTED: "
                             "members come from an imported list of identities.")
class SegmentKind(Enum):
    RULE = "rule"
    IMPORTED = "imported"


@strawberry.type(description="A saved audience rule (or an imported audience), its versions and "
                             "its members.")
class Segment:
    id: strawberry.ID
    name: str
    description: str | None
    kind: SegmentKind
    definition: str | None = strawberry.field(
        description="The rule's canonical text; null for an imported audience.")
    definition_json: JSON | None = strawberry.field(
        description="The rule's AST as JSON; null for an imported audience.")
    version: int = strawberry.field(description="Bumped when the rule, includeTestProfiles "
                                                "or mergePolicy changes.")
    created_at: datetime
    updated_at: datetime
    depends_on_time: bool = strawberry.field(
        description="The rule reads the clock (now, within windows, computed attributes): "
                    "the scheduler re-evaluates it.")
    include_test_profiles: bool
    merge_policy: strawberry.ID | None
    includes: list[strawberry.ID] = strawberry.field(description="Segments named by "
                                                                 "inSegment(...).")
    size: int = strawberry.field(description="Members (realized and existing) at the last "
                                             "evaluation of this version; 0 before.")
    batch_only: bool = strawberry.field(description="Asked to be evaluated in batch only "
                                                    "(evaluateSegment, the scheduler).")
    saved: strawberry.Private[SavedSegment]

    @strawberry.field(description="Membership is re-evaluated in every write's transaction "
                                  "for the profiles it touched (docs/segments.md, Streaming).")
    async def streaming(self, info: Info[Context, None]) -> bool:
        return (await _streaming(info, self.saved.id)).streaming

    @strawberry.field(description="Why the segment is not streaming; null when it is.")
    async def streaming_reason(self, info: Info[Context, None]) -> str | None:
        return (await _streaming(info, self.saved.id)).reason

    @strawberry.field(description="The rule's canonical text (the same as definition).")
    def text(self) -> str | None:
        return self.definition

    @strawberry.field
    def last_evaluation(self) -> SegmentEvaluation | None:
        data = self.saved.evaluation
        return SegmentEvaluation.of(data) if data else None

    @strawberry.field(permission_classes=ANALYSTS,
                      description="The Cypher an evaluation at `asOf` (default now) runs.")
    async def cypher(self, info: Info[Context, None], as_of: datetime | None = None) -> str:
        return (await _compiled(info, self.saved, as_of)).cypher

    @strawberry.field(permission_classes=ANALYSTS, description="The parameters of `cypher`.")
    async def parameters(self, info: Info[Context, None],
                         as_of: datetime | None = None) -> JSON:
        return (await _compiled(info, self.saved, as_of)).params  # type: ignore[return-value]

    @strawberry.field(permission_classes=MEMBER_READERS,
                      description="Members in profile id order; by default realized and "
                                  "existing ones.")
    async def members(self, info: Info[Context, None], first: int | None = DEFAULT_PAGE_SIZE,
                      after: str | None = None, status: list[MembershipStatus] | None = None,
                      ) -> relay.Connection[SegmentMember]:  # type: ignore[type-var]
        size = page_size(first, info.context.services.settings)
        statuses = [s.value for s in status] if status else list(CURRENT)
        rows = await info.context.services.segments.service.repository.members_page(
            self.saved.id, self.saved.version, statuses, member_after(after), size + 1)
        edges = [relay.Edge(cursor=encode(r["id"]), node=_member(r)) for r in rows[:size]]  # type: ignore[type-var]
        return connection(edges, len(rows) > size, after)

    @classmethod
    def of(cls, s: SavedSegment) -> Segment:
        return cls(id=strawberry.ID(s.id), name=s.name, description=s.description,
                   kind=SegmentKind(s.kind), definition=s.text,
                   definition_json=s.ast, version=s.version,  # type: ignore[arg-type]
                   created_at=moment(s.created_at), updated_at=moment(s.updated_at),
                   depends_on_time=s.time_dependent, include_test_profiles=s.include_test,
                   merge_policy=strawberry.ID(s.merge_policy) if s.merge_policy else None,
                   includes=[strawberry.ID(r) for r in s.references], size=s.size,
                   batch_only=s.batch_only, saved=s)


@strawberry.type(description="A profile's membership of a segment.")
class ProfileSegment:
    segment: Segment
    status: MembershipStatus
    since: datetime
    changed_at: datetime


@strawberry.type(description="A profile a preview selected.")
class PreviewProfile:
    id: strawberry.ID
    primary_identity: Identity | None


@strawberry.type(description="What a rule selects now (or at asOf); nothing is saved.")
class SegmentPreview:
    count: int
    sample: list[PreviewProfile] = strawberry.field(description="The first profiles by id.")
    cypher: str
    parameters: JSON
    as_of: datetime


@strawberry.type(description="Neo4j's plan for a rule's Cypher.")
class SegmentPlan:
    cypher: str
    parameters: JSON
    plan: str = strawberry.field(description="EXPLAIN's operators, or PROFILE's with rows "
                                             "and database hits.")


@strawberry.input(description="A new segment: its rule as text (definition) or as the AST's "
                              "JSON (definitionJson).")
class SegmentInput:
    name: str
    definition: str | None = None
    definition_json: JSON | None = None
    description: str | None = None
    merge_policy: strawberry.ID | None = strawberry.field(
        default=None, description="Only the default policy (whose view rules read).")
    include_test_profiles: bool = False
    id: strawberry.ID | None = strawberry.field(
        default=None, description="Chosen id (letters, digits, _ . : -); else generated.")
    batch_only: bool = strawberry.field(default=False, description=(
        "Evaluate in batch only, never per write (streaming is the default)."))

    def spec(self) -> SegmentSpec:
        return SegmentSpec(name=self.name, definition=self.definition,
                           definition_json=self.definition_json, description=self.description,
                           merge_policy=text_or_none(self.merge_policy),
                           include_test=self.include_test_profiles, id=text_or_none(self.id),
                           batch_only=self.batch_only)


@strawberry.input(description="Changes to a segment; fields left out stay as they are.")
class SegmentUpdateInput:
    name: str | None = None
    definition: str | None = None
    definition_json: JSON | None = None
    description: str | None = None
    merge_policy: strawberry.ID | None = None
    include_test_profiles: bool | None = None
    batch_only: bool | None = None

    def spec(self) -> SegmentSpec:
        return SegmentSpec(name=self.name, definition=self.definition,
                           definition_json=self.definition_json, description=self.description,
                           merge_policy=text_or_none(self.merge_policy),
                           include_test=self.include_test_profiles,
                           batch_only=self.batch_only)


@strawberry.type(description="The segment and its memberships were deleted.")
class SegmentDeleted:
    id: strawberry.ID


@strawberry.type
class SegmentQuery:
    @strawberry.field(permission_classes=MEMBER_READERS, description="Segments, oldest first.")
    async def segments(self, info: Info[Context, None], first: int | None = DEFAULT_PAGE_SIZE,
                       after: str | None = None) -> relay.Connection[Segment]:  # type: ignore[type-var]
        size = page_size(first, info.context.services.settings)
        found = await info.context.services.segments.service.page(size + 1,
                                                                  segment_after(after))
        edges = [relay.Edge(cursor=encode(f"{s.created_at}|{s.id}"), node=Segment.of(s))  # type: ignore[type-var]
                 for s in found[:size]]
        return connection(edges, len(found) > size, after)

    @strawberry.field(permission_classes=MEMBER_READERS, description="A segment, or null.")
    async def segment(self, info: Info[Context, None], id: strawberry.ID) -> Segment | None:
        found = await info.context.services.segments.service.get_many([str(id)])
        return Segment.of(found[str(id)]) if str(id) in found else None

    @strawberry.field(permission_classes=ANALYSTS,
                      description="Count and sample what a rule selects; saves nothing.")
    async def preview_segment(self, info: Info[Context, None], definition: str | None = None,
                              definition_json: JSON | None = None,
                              as_of: datetime | None = None, sample_size: int = 10,
                              include_test_profiles: bool = False) -> SegmentPreview:
        if not 0 <= sample_size <= previews.MAX_SAMPLE:
            raise InvalidInput(f"sampleSize must be between 0 and {previews.MAX_SAMPLE}.")
        service = info.context.services.segments.service
        with segment_errors():
            rule = _required_rule(definition, definition_json)
            found = await previews.preview(service, rule, millis_or_now(as_of), sample_size,
                                           include_test_profiles)
        return SegmentPreview(
            count=found.count, cypher=found.query.cypher, parameters=found.query.params,  # type: ignore[arg-type]
            as_of=moment(found.as_of),
            sample=[PreviewProfile(id=strawberry.ID(p.id), primary_identity=_identity(
                p.primary_key)) for p in found.sample])

    @strawberry.field(permission_classes=ANALYSTS,
                      description="Neo4j's plan (EXPLAIN, or PROFILE: runs it read-only) of a "
                                  "saved segment's or a rule's Cypher.")
    async def explain_segment(self, info: Info[Context, None], id: strawberry.ID | None = None,
                              definition: str | None = None,
                              definition_json: JSON | None = None,
                              as_of: datetime | None = None,
                              profile: bool = False) -> SegmentPlan:
        service = info.context.services.segments.service
        with segment_errors():
            if (id is None) == (definition is None and definition_json is None):
                raise InvalidInput("Give a segment id or a rule (definition or "
                                   "definitionJson), one of them.")
            if id is not None:
                query = await _compiled(info, await service.get(str(id)), as_of)
            else:
                rule = _required_rule(definition, definition_json)
                query = await previews.compiled(service, rule, millis_or_now(as_of), False)
            plan = await previews.explain(service, query, profile)
        return SegmentPlan(cypher=query.cypher, parameters=query.params, plan=plan)  # type: ignore[arg-type]


@strawberry.type
class SegmentMutation:
    @strawberry.mutation(permission_classes=ANALYSTS, description="Save a new segment.")
    async def create_segment(self, info: Info[Context, None], input: SegmentInput) -> Segment:
        with segment_errors():
            return Segment.of(await info.context.services.segments.service.create(input.spec()))

    @strawberry.mutation(permission_classes=ANALYSTS,
                         description="Change a segment. A new rule (or test-profile choice) is a "
                                     "new version with no members until it is evaluated.")
    async def update_segment(self, info: Info[Context, None], id: strawberry.ID,
                             input: SegmentUpdateInput) -> Segment:
        service = info.context.services.segments.service
        with segment_errors():
            return Segment.of(await service.update(str(id), input.spec()))

    @strawberry.mutation(permission_classes=ANALYSTS,
                         description="Delete a segment no other segment includes.")
    async def delete_segment(self, info: Info[Context, None],
                             id: strawberry.ID) -> SegmentDeleted:
        services = info.context.services
        await services.segments.service.delete(str(id), services.settings.segment_write_chunk)
        return SegmentDeleted(id=id)

    @strawberry.mutation(permission_classes=ANALYSTS,
                         description="Start a job evaluating a segment at asOf (default now).")
    async def evaluate_segment(self, info: Info[Context, None], id: strawberry.ID,
                               as_of: datetime | None = None) -> Job:
        return Job.of(await info.context.services.segments.evaluate(str(id), millis_or_now(as_of)))

    @strawberry.mutation(permission_classes=ANALYSTS,
                         description="Start a job evaluating segments (default all) at one "
                                     "instant, included segments first.")
    async def evaluate_segments(self, info: Info[Context, None],
                                ids: list[strawberry.ID] | None = None,
                                as_of: datetime | None = None) -> Job:
        wanted = None if ids is None else [str(i) for i in ids]
        segments = info.context.services.segments
        return Job.of(await segments.evaluate_many(wanted, millis_or_now(as_of)))


async def profile_segments(info: Info[Context, None], profile_id: str,
                           include_exited: bool) -> list[ProfileSegment]:
    """Profile.segments through the request's DataLoader (one query for all profiles)."""
    loader = info.context.loaders.segments(include_exited)
    return [ProfileSegment(segment=Segment.of(SavedSegment.of(row["segment"])),
                           status=MembershipStatus(row["status"]), since=moment(row["since"]),
                           changed_at=moment(row["changedAt"]))
            for row in await loader.load(profile_id)]


async def _streaming(info: Info[Context, None], segment_id: str) -> Streaming:
    status = await info.context.services.segments.streaming_status()
    return status.get(segment_id) or Streaming(False, "not known yet: the segment was saved "
                                                      "by another process moments ago")


async def _compiled(info: Info[Context, None], segment: SavedSegment,
                    as_of: datetime | None) -> CompiledQuery:
    evaluator = info.context.services.segments.evaluator
    with segment_errors():
        return await evaluator.compile(segment, millis_or_now(as_of))


def _required_rule(text: str | None, data: Any) -> Rule:
    rule = rule_of(text, data)
    if rule is None:
        raise InvalidInput("Give the rule as `definition` (text) or `definitionJson`.")
    return rule


def _member(row: dict[str, Any]) -> SegmentMember:
    return SegmentMember(profile_id=strawberry.ID(row["id"]),
                         primary_identity=_identity(row["primaryKey"]),
                         status=MembershipStatus(row["status"]), since=moment(row["since"]),
                         changed_at=moment(row["changedAt"]), cause=row.get("cause"))


def _identity(key: str | None) -> Identity | None:
    return Identity.from_key(key) if key else None
