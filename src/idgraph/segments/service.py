"""Segments as saved objects: create, update (a new version), delete, read; rules checked,
canonicalised and their inSegment references kept free of cycles."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from idgraph.clock import now_ms
from idgraph.db.graph import Graph, Tx
from idgraph.errors import IdgraphError, InvalidInput, NotFound
from idgraph.profile.attributes import AttributeSchema
from idgraph.profile.service import ProfileService
from idgraph.segments.ast import SEGMENT_ID, Rule, rule_from_json
from idgraph.segments.composition import READ_STORED, Stored, referenced_segments
from idgraph.segments.errors import SegmentCycleError, UnknownSegment
from idgraph.segments.objects import IMPORTED, SavedSegment, depends_on_time
from idgraph.segments.parser import parse
from idgraph.segments.printer import to_text
from idgraph.segments.repository import SegmentRepository
from idgraph.segments.typecheck import check_rule

ID_PATTERN = re.compile(SEGMENT_ID)
MAX_NAME = 200
MAX_DESCRIPTION = 2000


class SegmentInUse(IdgraphError):
    """A segment other segments include through inSegment(...) cannot be deleted."""

    code = "SEGMENT_IN_USE"


@dataclass(frozen=True)
class SegmentSpec:
    """What a client sends to create or update a segment (None: unchanged on update)."""

    name: str | None = None
    definition: str | None = None  # rule text
    definition_json: Any = None  # or the rule's JSON form
    description: str | None = None
    merge_policy: str | None = None
    include_test: bool | None = None
    id: str | None = None  # chosen at creation, else generated
    batch_only: bool | None = None  # never evaluated per write (segments/streaming.py)


def rule_of(text: str | None, data: Any) -> Rule | None:
    """The rule given as text or as JSON (exactly one of them), or None when neither."""
    if text is not None and data is not None:
        raise InvalidInput("Give the rule as `definition` (text) or `definitionJson`, not both.")
    if text is not None:
        return parse(text)
    if data is not None:
        return rule_from_json(json.loads(data) if isinstance(data, str) else data)
    return None


class SegmentService:
    """Segment definitions: every change takes the catalog lock, checks, then writes."""

    def __init__(self, graph: Graph, attribute_schema: AttributeSchema,
                 profiles: ProfileService) -> None:
        self.graph = graph
        self.repository = SegmentRepository(graph)
        self.attribute_schema = attribute_schema
        self.profiles = profiles
        # Called after a definition changed (the streaming list of this process is re-read).
        self.on_change: list[Callable[[], None]] = []

    def _changed(self) -> None:
        for listener in self.on_change:
            listener()

    async def checked(self, rule: Rule) -> Rule:
        """The rule, after declared attribute types and computed attributes are checked."""
        computed = {d.name: d.function for d in await self.profiles.definitions()}
        check_rule(rule, self.attribute_schema, computed=computed)
        return rule

    async def _check_policy(self, policy_id: str | None) -> None:
        """Rules read the materialised view of the default merge policy, so a segment may
        name that policy (or none); another one would silently not apply."""
        if policy_id is None:
            return
        default = next(p for p in await self.profiles.policies.list() if p.is_default)
        if policy_id != default.id:
            raise InvalidInput(
                f"Segments are evaluated over the default merge policy ({default.id!r}); "
                f"{policy_id!r} is not it. Leave mergePolicy out to use the default.")

    async def get(self, segment_id: str) -> SavedSegment:
        row = await self.repository.get(segment_id)
        if row is None:
            raise NotFound(f"No segment has the id {segment_id!r}.")
        return SavedSegment.of(row)

    async def get_many(self, ids: Sequence[str]) -> dict[str, SavedSegment]:
        return {i: SavedSegment.of(r) for i, r in (await self.repository.get_many(ids)).items()}

    async def page(self, limit: int, after: tuple[int, str] | None) -> list[SavedSegment]:
        return [SavedSegment.of(row) for row in await self.repository.page(limit, after)]

    async def rules_for(self, ids: Sequence[str]) -> dict[str, Rule | Stored]:
        """The rules of segments `ids` and of every segment they include, by id; an imported
        audience (no rule) as READ_STORED, so its stored members are read."""
        rules: dict[str, Rule | Stored] = {}
        wanted = set(ids)
        while wanted:
            found = await self.get_many(sorted(wanted))
            for segment_id in wanted - found.keys():
                raise UnknownSegment(segment_id)
            rules.update((i, READ_STORED if s.imported else s.rule) for i, s in found.items())
            wanted = {r for s in found.values() for r in s.references} - rules.keys()
        return rules

    async def create(self, spec: SegmentSpec) -> SavedSegment:
        if not spec.name:
            raise InvalidInput("A segment needs a name.")
        rule = rule_of(spec.definition, spec.definition_json)
        if rule is None:
            raise InvalidInput("A segment needs a rule: `definition` or `definitionJson`.")
        segment_id = _new_id(spec.id)
        await self._check_policy(spec.merge_policy)
        props = {"id": segment_id, **_rule_props(await self.checked(rule)), **_plain_props(spec),
                 "includeTest": bool(spec.include_test), "batchOnly": bool(spec.batch_only)}

        async def work(tx: Tx) -> dict[str, Any]:
            catalog = await self.repository.lock_catalog(tx, now_ms())
            if any(row["id"] == segment_id for row in catalog):
                raise InvalidInput(f"A segment with the id {segment_id!r} exists already.")
            _check_catalog(catalog, segment_id, props)
            return await self.repository.create(tx, props, now_ms())

        created = SavedSegment.of(await self.graph.write_tx(work))
        self._changed()
        return created

    async def update(self, segment_id: str, spec: SegmentSpec) -> SavedSegment:
        rule = rule_of(spec.definition, spec.definition_json)
        await self._check_policy(spec.merge_policy)
        props = {**_plain_props(spec)}
        if rule is not None:
            props.update(_rule_props(await self.checked(rule)))
        if spec.include_test is not None:
            props["includeTest"] = spec.include_test
        if spec.batch_only is not None:
            props["batchOnly"] = spec.batch_only

        async def work(tx: Tx) -> dict[str, Any]:
            catalog = await self.repository.lock_catalog(tx, now_ms())
            current = await self.repository.get_in(tx, segment_id)
            if current is None:
                raise NotFound(f"No segment has the id {segment_id!r}.")
            if current.get("kind") == IMPORTED and set(props) & {"ast", "includeTest"}:
                raise InvalidInput(f"Segment {segment_id!r} is an imported audience: it has no "
                                   "rule; import its list again to change its members.")
            _check_catalog(catalog, segment_id, props)
            return await self.repository.update(tx, segment_id, props, now_ms(),
                                                _changes_members(current, props))

        updated = SavedSegment.of(await self.graph.write_tx(work))
        self._changed()
        return updated

    async def ensure_imported(self, name: str, description: str | None,
                              include_test: bool) -> SavedSegment:
        """The imported audience named `name`, created when there is none; a segment of that
        name with a rule is refused (its members come from its rule)."""
        props = {"kind": IMPORTED, "includeTest": include_test, "references": [],
                 "timeDependent": False,
                 **_plain_props(SegmentSpec(name=name, description=description))}
        if "name" not in props:
            raise InvalidInput("An imported audience needs a name.")

        async def work(tx: Tx) -> dict[str, Any]:
            await self.repository.lock_catalog(tx, now_ms())
            current = await self.repository.by_name(tx, props["name"])
            if current is None:
                return await self.repository.create(tx, {"id": uuid.uuid4().hex, **props},
                                                    now_ms())
            if current.get("kind") != IMPORTED:
                raise InvalidInput(f"The segment named {props['name']!r} has a rule: an "
                                   "import needs a new name (or an imported audience's).")
            changes = {**_plain_props(SegmentSpec(description=description)),
                       "includeTest": include_test}
            return await self.repository.update(tx, current["id"], changes, now_ms(), False)

        return SavedSegment.of(await self.graph.write_tx(work))

    async def delete(self, segment_id: str, chunk: int) -> None:
        """Delete a segment no other segment includes, its memberships in chunks first."""
        await self.graph.write_tx(lambda tx: self._deletable(tx, segment_id))
        await self.repository.drop_memberships(segment_id, chunk)

        async def work(tx: Tx) -> None:  # checked again: a rule may include it by now
            await self._deletable(tx, segment_id)
            await self.repository.delete(tx, segment_id)

        await self.graph.write_tx(work)  # DETACH: what streaming wrote meanwhile goes too
        self._changed()

    async def _deletable(self, tx: Tx, segment_id: str) -> None:
        await self.repository.lock_catalog(tx, now_ms())
        if await self.repository.get_in(tx, segment_id) is None:
            raise NotFound(f"No segment has the id {segment_id!r}.")
        if users := await self.repository.referred_by(tx, segment_id):
            names = ", ".join(f"{u['name']!r} ({u['id']})" for u in users)
            raise SegmentInUse(f"Segment {segment_id!r} is included by {names}: change or "
                               "delete those first.")


def _new_id(chosen: str | None) -> str:
    if chosen is None:
        return uuid.uuid4().hex
    if not ID_PATTERN.fullmatch(chosen):
        raise InvalidInput("A segment id is 1-128 letters, digits and _ . : - (starting with "
                           f"a letter or digit); {chosen!r} is not.")
    return chosen


def _rule_props(rule: Rule) -> dict[str, Any]:
    return {"text": to_text(rule), "ast": json.dumps(rule.model_dump(mode="json")),
            "references": referenced_segments(rule), "timeDependent": depends_on_time(rule)}


def _plain_props(spec: SegmentSpec) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if spec.name is not None:
        name = spec.name.strip()
        if not name or len(name) > MAX_NAME:
            raise InvalidInput(f"A segment name is 1-{MAX_NAME} characters.")
        props["name"] = name
    if spec.description is not None:
        if len(spec.description) > MAX_DESCRIPTION:
            raise InvalidInput(f"A description is at most {MAX_DESCRIPTION} characters.")
        props["description"] = spec.description
    if spec.merge_policy is not None:
        props["mergePolicy"] = spec.merge_policy
    return props


MEMBERSHIP_PROPS = ("ast", "includeTest", "mergePolicy")


def _changes_members(current: Mapping[str, Any], props: Mapping[str, Any]) -> bool:
    """Does the update change which profiles are members (the rule, test profiles, policy)?"""
    return any(key in props and props[key] != current.get(key) for key in MEMBERSHIP_PROPS)


def _check_catalog(catalog: list[dict[str, Any]], segment_id: str,
                   props: Mapping[str, Any]) -> None:
    """Refuse a name another segment has, an inSegment of an unknown segment, and cycles."""
    others = [row for row in catalog if row["id"] != segment_id]
    if "name" in props and any(row["name"] == props["name"] for row in others):
        raise InvalidInput(f"Another segment is named {props['name']!r}; names are unique.")
    if "references" not in props:
        return
    graph = {row["id"]: list(row["references"] or ()) for row in others}
    graph[segment_id] = list(props["references"])
    for ref in props["references"]:
        if ref not in graph:
            raise UnknownSegment(ref)
    if cycle := find_cycle(graph, segment_id):
        raise SegmentCycleError(cycle)


def find_cycle(graph: Mapping[str, Sequence[str]], start: str) -> list[str] | None:
    """A path start -> ... -> start through `graph`'s edges, if one exists."""
    path: list[str] = [start]
    seen: set[str] = set()

    def visit(node: str) -> bool:
        for nxt in graph.get(node, ()):
            if nxt == start:
                path.append(start)
                return True
            if nxt not in seen:
                seen.add(nxt)
                path.append(nxt)
                if visit(nxt):
                    return True
                path.pop()
        return False

    return path if visit(start) else None
