"""Profile use cases: the merged view, events, computed attributes, merge policies, deletion
and view rebuilds. Writes go through the pipeline; long ones start jobs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from idgraph.clock import now_ms
from idgraph.db.graph import Graph, Tx
from idgraph.errors import InvalidInput
from idgraph.jobs.service import Job, JobService
from idgraph.pipeline.pipeline import Pipeline
from idgraph.privacy.suppression import Suppressions
from idgraph.profile import computed as c
from idgraph.profile import deletion
from idgraph.profile import repository as q
from idgraph.profile.event_properties import EVENT_PROPERTIES, EventPropertiesBackfill
from idgraph.profile.facts import COMPUTED_BACKFILL, ComputedBackfill
from idgraph.profile.materialise import VIEW_REBUILD, ViewRebuild
from idgraph.profile.merge import Fragment, MergedValue, Policy, merge
from idgraph.profile.metrics import Figures, figures
from idgraph.profile.policies import PolicyStore, pick


@dataclass(frozen=True)
class ProfileSummary:
    """A profile's own fields and members, as a read returns them (not its merged view)."""

    id: str
    primary_key: str
    identities: list[dict[str, Any]]
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class PolicyChange:
    """A stored merge policy, and the view rebuild job its change started (if any)."""

    policy: Policy | None
    job: Job | None


@dataclass
class ProfileRead:
    summary: ProfileSummary
    is_test: bool
    fragments: list[Fragment] | None  # None: not read (no attributes were asked for)
    policy_rows: list[dict[str, Any]]
    view_json: str | None = None  # the materialised default-policy attributes, when read
    view_stitched: bool | None = None

    def default_attributes(self, asked_key: str | None) -> dict[str, Any] | None:
        """The default policy's attributes from the materialised view, when it applies."""
        text = self.default_attributes_json(asked_key)
        return None if text is None else json.loads(text)

    def default_attributes_json(self, asked_key: str | None) -> str | None:
        """`default_attributes` as the view stores them: JSON text."""
        if self.view_json is None:
            return None
        if self.view_stitched is not True and asked_key not in (None, self.summary.primary_key):
            return None  # stitching off: the view is the primary identity's, not this one's
        return self.view_json


@dataclass(frozen=True)
class ReadShape:
    """What a profile read must bring back, decided from the GraphQL selection."""

    fragments: bool = False  # fragments and policies, to merge at read time
    policies: tuple[str, ...] = ()
    view: bool = False  # the materialised default-policy attributes


@dataclass(frozen=True)
class EventRow:
    key: str
    source: str
    event_id: str
    type: str
    ts: int
    properties: dict[str, Any]


@dataclass(frozen=True)
class EventsPage:
    """Which events of a profile to read: the same for every profile of one batched read."""

    limit: int
    after: tuple[int, str] | None = None
    types: tuple[str, ...] | None = None
    since: int | None = None
    until: int | None = None


class ProfileService:
    def __init__(self, graph: Graph, pipeline: Pipeline, jobs: JobService,
                 suppressions: Suppressions | None = None) -> None:
        self.graph = graph
        self.suppressions = suppressions or Suppressions(graph)
        self.pipeline = pipeline
        self.jobs = jobs
        self.policies = PolicyStore(graph)
        jobs.register(ViewRebuild(pipeline))
        jobs.register(ComputedBackfill(pipeline))
        jobs.register(EventPropertiesBackfill(pipeline))

    # -- the merged view ----------------------------------------------------------------------
    async def read(self, *, key: str | None = None, profile_id: str | None = None,
                   with_fragments: bool = False, policy_ids: tuple[str, ...] = (),
                   with_view: bool = False) -> ProfileRead | None:
        """The profile of an identity key (or of a profile id), in one round trip."""
        statement, args = (q.VIEW_BY_IDENTITY, {"key": key}) if key is not None else (
            q.VIEW_BY_ID, {"id": profile_id})
        row = await self.graph.read_first_plain(
            statement, withFragments=with_fragments, policies=list(policy_ids),
            withView=with_view, **args)
        return None if row is None else _read_of(row, with_fragments)

    async def read_many(self, profile_ids: list[str], with_fragments: bool = False,
                        policy_ids: tuple[str, ...] = (), with_view: bool = False
                        ) -> dict[str, ProfileRead]:
        """Several profiles by id (merged-away ids resolve) in one round trip."""
        rows = await self.graph.read_plain(
            q.VIEW_BY_IDS, ids=profile_ids, withFragments=with_fragments,
            policies=list(policy_ids), withView=with_view)
        return {row["requested"]: _read_of(row, with_fragments) for row in rows}

    def merged(self, read: ProfileRead, policy_id: str | None,
               identity: str | None) -> list[MergedValue]:
        """Merge the fragments under a policy; `identity` is the one asked for (stitching off)."""
        policy = pick(read.policy_rows, policy_id)
        return merge(read.fragments or [], policy, identity or read.summary.primary_key)

    # -- events -------------------------------------------------------------------------------
    async def events_many(self, profile_ids: list[str], page: EventsPage,
                          ) -> dict[str, list[EventRow]]:
        """One page of events of each profile, newest first, in one round trip."""
        after = page.after
        rows = await self.graph.read_plain(
            q.EVENTS_PAGES, ids=profile_ids, limit=page.limit, types=page.types,
            since=page.since, until=page.until, afterTs=after[0] if after else None,
            afterKey=after[1] if after else None)
        return {row["id"]: [EventRow(key, source, event_id, type_, ts, json.loads(props or "{}"))
                            for key, source, event_id, type_, ts, props in row["events"]]
                for row in rows}

    # -- computed attributes ------------------------------------------------------------------
    async def computed_many(self, profile_ids: list[str]
                            ) -> dict[str, list[tuple[c.Definition, Any]]]:
        """Every ready computed attribute of several profiles, in one round trip."""
        rows = await self.graph.read(q.READ_STATES_MANY, ids=profile_ids)
        now = now_ms()
        out: dict[str, list[tuple[c.Definition, Any]]] = {pid: [] for pid in profile_ids}
        for row in rows:
            definition = c.Definition.from_row(row["d"])
            out[row["id"]].append((definition, c.aggregate(definition, row["states"], now)))
        return out

    async def definitions(self) -> list[c.Definition]:
        return [c.Definition.from_row(r["d"]) for r in await self.graph.read(q.LIST_DEFINITIONS)]

    async def define(self, definition: c.Definition, wait: bool = False
                     ) -> tuple[c.Definition, Job]:
        """Store a definition (not ready) and start the job that backfills it from the events
        already in its window; ingest keeps it current from now on. `wait`: run the job here
        and return it finished (the demo loader, the CLI)."""
        if reason := c.problem(definition):
            raise InvalidInput(reason)

        async def work(tx: Tx) -> c.Definition:
            if await tx.run(q.GET_DEFINITION, name=definition.name):
                raise InvalidInput(f"A computed attribute named {definition.name!r} exists.")
            rows = await tx.run(q.CREATE_DEFINITION, d=definition.params(), now=now_ms())
            return c.Definition.from_row(rows[0]["d"])

        stored = await self.graph.write_tx(work)
        job = await self.jobs.start(COMPUTED_BACKFILL, {"name": stored.name}, run=not wait)
        return stored, (await self.jobs.run_now(job.id) if wait else job)

    async def undefine(self, name: str) -> bool:
        rows = await self.graph.write(q.DELETE_DEFINITION, name=name)
        return bool(rows and rows[0]["n"])

    # -- merge policies -------------------------------------------------------------------------
    async def create_policy(self, policy: Policy) -> PolicyChange:
        saved = await self.policies.create(policy)
        return PolicyChange(saved.policy, await self._after_policy_change(saved.default_changed))

    async def update_policy(self, policy: Policy) -> PolicyChange:
        saved = await self.policies.update(policy)
        return PolicyChange(saved.policy, await self._after_policy_change(saved.default_changed))

    async def delete_policy(self, policy_id: str) -> PolicyChange | None:
        """None when there is no such policy."""
        deleted, default_changed = await self.policies.delete(policy_id)
        if not deleted:
            return None
        return PolicyChange(None, await self._after_policy_change(default_changed))

    async def _after_policy_change(self, default_changed: bool) -> Job | None:
        """The views follow the default policy: a change of it starts a rebuild job."""
        return await self.rebuild_views() if default_changed else None

    async def rebuild_views(self) -> Job:
        """Start the job recomputing every materialised view."""
        return await self.jobs.start(VIEW_REBUILD)

    async def rebuild_views_now(self, on_progress: Callable[[Job], None] | None = None) -> Job:
        """A view rebuild job run in the foreground (the CLI); returns it finished."""
        job = await self.jobs.start(VIEW_REBUILD, run=False)
        return await self.jobs.run_now(job.id, on_progress)

    async def flatten_event_properties_now(self, on_progress: Callable[[Job], None] | None = None
                                           ) -> Job:
        """The event-properties backfill (profile/event_properties.py) run in the foreground
        (the CLI); returns it finished."""
        job = await self.jobs.start(EVENT_PROPERTIES, run=False)
        return await self.jobs.run_now(job.id, on_progress)

    async def metrics(self, include_test: bool) -> Figures:
        """Dashboard figures, from one statement."""
        return await figures(self.graph, include_test)

    # -- privacy deletion -----------------------------------------------------------------------
    async def delete_profile(self, identity_key: str, suppress: bool = False
                             ) -> deletion.Receipt:
        """`suppress`: later records and events carrying any deleted identity are rejected."""
        suppressions = self.suppressions if suppress else None
        change = await self.pipeline.write(
            lambda tx: deletion.delete_profile(tx, identity_key, suppressions))
        return deletion.receipt(change)

    async def delete_source(self, source: str) -> deletion.Receipt:
        change = await self.pipeline.write(lambda tx: deletion.delete_source(tx, source))
        return deletion.receipt(change)


def _read_of(row: dict[str, Any], with_fragments: bool) -> ProfileRead:
    summary = ProfileSummary(row["id"], row["primaryKey"], row["identities"], row["createdAt"],
                             row["updatedAt"])
    fragments = [Fragment.from_row(f) for f in row["fragments"]] if with_fragments else None
    return ProfileRead(summary, row["isTest"], fragments, row["policies"], row.get("viewJson"),
                       row.get("viewStitched"))

