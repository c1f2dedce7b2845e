"""Profile use cases: the merged view, events, computed attributes, and the ingest hook."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from idgraph.db.graph import Graph, Tx
from idgraph.errors import InvalidInput
from idgraph.identity.clustering import ClusterReport
from idgraph.identity.items import Item
from idgraph.identity.service import ProfileView, now_ms
from idgraph.profile import computed as c
from idgraph.profile import repository as q
from idgraph.profile.merge import Fragment, MergedValue, merge
from idgraph.profile.policies import PolicyStore, pick


@dataclass
class ProfileRead:
    view: ProfileView
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
        if self.view_stitched is not True and asked_key not in (None, self.view.primary_key):
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
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.policies = PolicyStore(graph)

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
        return merge(read.fragments or [], policy, identity or read.view.primary_key)

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
        """Every computed attribute of several profiles, in one round trip."""
        rows = await self.graph.read(c.READ_STATES_MANY, ids=profile_ids)
        now = now_ms()
        out: dict[str, list[tuple[c.Definition, Any]]] = {pid: [] for pid in profile_ids}
        for row in rows:
            definition = c.Definition.from_row(row["d"])
            out[row["id"]].append((definition, c.aggregate(definition, row["states"], now)))
        return out

    async def definitions(self) -> list[c.Definition]:
        return [c.Definition.from_row(r["d"]) for r in await self.graph.read(c.LIST_DEFS)]

    async def define(self, definition: c.Definition) -> c.Definition:
        """Store a definition and backfill it from the events already in its window."""
        if reason := c.problem(definition):
            raise InvalidInput(reason)

        async def work(tx: Tx) -> c.Definition:
            if await tx.run("MATCH (d:ComputedAttribute {name: $n}) RETURN d.name",
                            n=definition.name):
                raise InvalidInput(f"A computed attribute named {definition.name!r} exists.")
            now = now_ms()
            await tx.run(c.CREATE_DEF, d=definition.params(), now=now)
            rows = await tx.run(c.EVENTS_FOR_BACKFILL, type=definition.event_type,
                                cutoff=now - definition.lookback_ms)
            facts = [c.EventFact(r["key"], definition.event_type, r["ts"],
                                 json.loads(r["properties"] or "{}"), tuple(r["keys"]))
                     for r in rows]
            await _write_states(tx, [definition], facts, now)
            return definition

        return await self.graph.write_tx(work)

    async def undefine(self, name: str) -> bool:
        rows = await self.graph.write(c.DELETE_DEF, name=name)
        return bool(rows and rows[0]["n"])

    # -- ingest hook --------------------------------------------------------------------------
    async def after_batch(self, tx: Tx, items: list[Item], report: ClusterReport) -> None:
        """Inside the ingest transaction: flag test records, fold new events into state."""
        test_keys = [it.key for it in items if it.kind == "record" and says_test(it.payload)]
        if test_keys:
            await tx.run(q.FLAG_TEST_RECORDS, keys=test_keys)
        events = [c.EventFact(it.key, it.event_type or "", it.ts, json.loads(it.payload),
                              tuple(it.identity_keys)) for it in items if it.kind == "event"]
        if events:
            definitions = [c.Definition.from_row(r["d"]) for r in await tx.run(c.LIST_DEFS)]
            await _write_states(tx, definitions, events, now_ms())


def _read_of(row: dict[str, Any], with_fragments: bool) -> ProfileRead:
    view = ProfileView(row["id"], row["primaryKey"], row["identities"], row["createdAt"],
                       row["updatedAt"])
    fragments = [Fragment.from_row(f) for f in row["fragments"]] if with_fragments else None
    return ProfileRead(view, row["isTest"], fragments, row["policies"], row.get("viewJson"),
                       row.get("viewStitched"))


def says_test(payload: str) -> bool:
    """Does a record's attributes JSON mark its profile as test data (`testProfile: true`)?"""
    # Cheap pre-check before parsing: most records never mention the flag.
    return '"testProfile"' in payload and json.loads(payload).get("testProfile") is True


async def _write_states(tx: Tx, definitions: list[c.Definition], events: list[c.EventFact],
                        now: int) -> None:
    rows = c.state_rows(definitions, events, now)
    if rows:
        await tx.run(c.WRITE_STATES, rows=rows)
