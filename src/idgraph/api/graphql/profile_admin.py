"""GraphQL for profile administration: merge policies, computed attribute definitions,
privacy deletion and the dashboard metrics."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from idgraph.api.graphql.common import IdentityInput, to_key
from idgraph.api.graphql.context import Context
from idgraph.api.graphql.jobs import Job, job_or_none
from idgraph.api.graphql.permissions import Role, allow
from idgraph.profile import computed, deletion
from idgraph.profile.merge import PRECEDENCE, TIMESTAMP, Policy
from idgraph.profile.service import PolicyChange

READERS = [allow(Role.APP, Role.PARTNER, Role.ANALYST)]
ADMIN = [allow()]


@strawberry.enum(description="How a merge policy picks each attribute's value.")
class MergePolicyKind(Enum):
    TIMESTAMP_ORDERED = TIMESTAMP
    DATASET_PRECEDENCE = PRECEDENCE


@strawberry.enum
class ComputedFunction(Enum):
    SUM = "SUM"
    COUNT = "COUNT"
    MIN = "MIN"
    MAX = "MAX"
    MOST_RECENT = "MOST_RECENT"


@strawberry.type(description="A named rule for merging a profile's fragments.")
class MergePolicy:
    id: strawberry.ID
    name: str
    kind: MergePolicyKind
    sources: list[str] = strawberry.field(description="Dataset precedence: best source first.")
    stitching: bool = strawberry.field(description="Whole cluster (true) or only fragments "
                                                   "keyed by the identity asked for (false).")
    is_default: bool

    @classmethod
    def of(cls, p: Policy) -> MergePolicy:
        return cls(id=strawberry.ID(p.id), name=p.name, kind=MergePolicyKind(p.kind),
                   sources=list(p.sources), stitching=p.stitching, is_default=p.is_default)


@strawberry.type(description="A saved merge policy, and the job rebuilding the materialised "
                             "views when the default policy (or its rules) changed.")
class MergePolicyChange:
    policy: MergePolicy
    job: Job | None = strawberry.field(description="Null when the views stay as they are.")

    @classmethod
    def of(cls, change: PolicyChange) -> MergePolicyChange:
        assert change.policy is not None
        return cls(policy=MergePolicy.of(change.policy), job=job_or_none(change.job))


@strawberry.type(description="Whether a merge policy was deleted, and the view rebuild job "
                             "when it was the default.")
class MergePolicyDeletion:
    deleted: bool
    job: Job | None


@strawberry.input
class MergePolicyInput:
    name: str
    kind: MergePolicyKind = MergePolicyKind.TIMESTAMP_ORDERED
    sources: list[str] = strawberry.field(default_factory=list)
    stitching: bool = True
    is_default: bool = False

    def policy(self, policy_id: str = "") -> Policy:
        return Policy(id=policy_id, name=self.name, kind=self.kind.value,
                      sources=tuple(self.sources), stitching=self.stitching,
                      is_default=self.is_default)


@strawberry.type(description="An aggregate over events in a lookback window, per profile.")
class ComputedAttribute:
    name: str
    function: ComputedFunction
    event_type: str
    property: str | None
    lookback_days: float
    ready: bool = strawberry.field(description="False while its backfill job runs; profiles "
                                               "show it once it is ready.")

    @classmethod
    def of(cls, d: computed.Definition) -> ComputedAttribute:
        return cls(name=d.name, function=ComputedFunction(d.function), event_type=d.event_type,
                   property=d.property, lookback_days=d.lookback_ms / computed.DAY_MS,
                   ready=d.ready)


@strawberry.type(description="A new computed attribute and the job backfilling it.")
class ComputedAttributeCreation:
    computed_attribute: ComputedAttribute
    job: Job


@strawberry.input
class ComputedAttributeInput:
    name: str
    function: ComputedFunction
    event_type: str
    property: str | None = strawberry.field(default=None, description="Dotted path in the "
                                            "event's properties; optional for COUNT.")
    lookback_days: float = 30


@strawberry.type(description="What a deletion removed, in one transaction.")
class DeletionReceipt:
    profile_ids: list[strawberry.ID] = strawberry.field(
        description="The deleted profile and the ids that had been merged into it.")
    profiles: int
    identities: int
    links: int
    records: int
    events: int
    memberships: int
    computed_values: int
    aliases: int
    history_entries: int
    suppressed: int = strawberry.field(description=(
        "Identities suppressed (suppress: true): later data carrying them is rejected."))

    @classmethod
    def of(cls, r: deletion.Receipt) -> DeletionReceipt:
        n = r.counts
        return cls(profile_ids=[strawberry.ID(p) for p in r.profile_ids],
                   profiles=n.get("profiles", 0), identities=n.get("identities", 0),
                   links=n.get("links", 0), records=n.get("records", 0),
                   events=n.get("events", 0), memberships=n.get("memberships", 0),
                   computed_values=n.get("computed_values", 0), aliases=n.get("aliases", 0),
                   history_entries=n.get("history", 0), suppressed=n.get("suppressed", 0))


@strawberry.type
class NamespaceCount:
    namespace: str
    identities: int


@strawberry.type
class SizeCount:
    size: int
    profiles: int


@strawberry.type
class EventTypeCount:
    type: str
    events: int


@strawberry.type(description="Dashboard figures, read together in one statement.")
class ProfileMetrics:
    profiles: int
    identities: int
    single_identity_profiles: int
    events: int
    identities_by_namespace: list[NamespaceCount]
    cluster_sizes: list[SizeCount]
    events_by_type: list[EventTypeCount]
    test_profiles: int = strawberry.field(description="Test profiles in the graph (counted "
                                                      "above only with includeTestProfiles).")
    includes_test_profiles: bool


SourceName = Annotated[str, strawberry.argument(name="source")]


@strawberry.type
class ProfileAdminQuery:
    @strawberry.field(permission_classes=READERS, description="The default first.")
    async def merge_policies(self, info: Info[Context, None]) -> list[MergePolicy]:
        return [MergePolicy.of(p) for p in await info.context.services.profiles.policies.list()]

    @strawberry.field(permission_classes=READERS)
    async def merge_policy(self, info: Info[Context, None], id: strawberry.ID) -> MergePolicy:
        return MergePolicy.of(await info.context.services.profiles.policies.get(str(id)))

    @strawberry.field(permission_classes=READERS)
    async def computed_attributes(self, info: Info[Context, None]) -> list[ComputedAttribute]:
        defs = await info.context.services.profiles.definitions()
        return [ComputedAttribute.of(d) for d in defs]

    @strawberry.field(permission_classes=[allow(Role.ANALYST)],
                      description="Profile, identity and event counts; test profiles excluded.")
    async def metrics(self, info: Info[Context, None],
                      include_test_profiles: bool = False) -> ProfileMetrics:
        f = await info.context.services.profiles.metrics(include_test_profiles)
        return ProfileMetrics(
            profiles=f.profiles, identities=f.identities, events=f.events,
            single_identity_profiles=f.cluster_sizes.get(1, 0),
            identities_by_namespace=[NamespaceCount(namespace=k, identities=v)
                                     for k, v in sorted(f.namespaces.items())],
            cluster_sizes=[SizeCount(size=k, profiles=v)
                           for k, v in sorted(f.cluster_sizes.items())],
            events_by_type=[EventTypeCount(type=k, events=v)
                            for k, v in sorted(f.event_types.items())],
            test_profiles=f.test_profiles, includes_test_profiles=include_test_profiles)


@strawberry.type
class ProfileAdminMutation:
    @strawberry.mutation(permission_classes=ADMIN)
    async def create_merge_policy(self, info: Info[Context, None],
                                  input: MergePolicyInput) -> MergePolicyChange:
        profiles = info.context.services.profiles
        return MergePolicyChange.of(await profiles.create_policy(input.policy()))

    @strawberry.mutation(permission_classes=ADMIN)
    async def update_merge_policy(self, info: Info[Context, None], id: strawberry.ID,
                                  input: MergePolicyInput) -> MergePolicyChange:
        profiles = info.context.services.profiles
        return MergePolicyChange.of(await profiles.update_policy(input.policy(str(id))))

    @strawberry.mutation(permission_classes=ADMIN, description="deleted: false when no such "
                                                               "policy.")
    async def delete_merge_policy(self, info: Info[Context, None],
                                  id: strawberry.ID) -> MergePolicyDeletion:
        change = await info.context.services.profiles.delete_policy(str(id))
        return MergePolicyDeletion(deleted=change is not None,
                                   job=job_or_none(change.job if change else None))

    @strawberry.mutation(permission_classes=ADMIN,
                         description="Define one; a job fills it from the events in its window.")
    async def create_computed_attribute(self, info: Info[Context, None],
                                        input: ComputedAttributeInput
                                        ) -> ComputedAttributeCreation:
        definition = computed.Definition(input.name.strip(), input.function.value,
                                         input.event_type, input.property,
                                         int(input.lookback_days * computed.DAY_MS))
        stored, job = await info.context.services.profiles.define(definition)
        return ComputedAttributeCreation(computed_attribute=ComputedAttribute.of(stored),
                                         job=Job.of(job))

    @strawberry.mutation(permission_classes=ADMIN, description="False when no such name.")
    async def delete_computed_attribute(self, info: Info[Context, None], name: str) -> bool:
        return await info.context.services.profiles.undefine(name)

    @strawberry.mutation(permission_classes=ADMIN,
                         description="Privacy deletion of the whole profile of an identity.")
    async def delete_profile(
            self, info: Info[Context, None], identity: IdentityInput,
            suppress: Annotated[bool, strawberry.argument(description=(
                "Also suppress every deleted identity (the one given, when unknown): later "
                "records and events carrying one are rejected with SUPPRESSED until "
                "liftSuppression."))] = False) -> DeletionReceipt:
        key = to_key(info, identity).key
        profiles = info.context.services.profiles
        return DeletionReceipt.of(await profiles.delete_profile(key, suppress))

    @strawberry.mutation(permission_classes=ADMIN,
                         description="Delete everything one source contributed; re-cluster.")
    async def delete_source(self, info: Info[Context, None],
                            source_name: SourceName) -> DeletionReceipt:
        return DeletionReceipt.of(await info.context.services.profiles.delete_source(source_name))
