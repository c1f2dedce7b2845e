"""Merge policies as stored, named objects: create, read, update, delete, and the default.

(:MergePolicy {id, name, kind, sources, stitching, isDefault, createdAt, updatedAt}). When no
stored policy is the default, the built-in timestamp-ordered one (id "default") is.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from idgraph.db.graph import Graph, Tx
from idgraph.errors import InvalidInput, NotFound
from idgraph.identity.service import now_ms
from idgraph.profile.merge import BUILTIN_DEFAULT, PRECEDENCE, TIMESTAMP, Policy

LIST = "MATCH (m:MergePolicy) RETURN m {.*} AS m ORDER BY m.name"
GET = "MATCH (m:MergePolicy {id: $id}) RETURN m {.*} AS m"
NAME_TAKEN = "MATCH (m:MergePolicy {name: $name}) WHERE m.id <> $id RETURN count(m) AS n"
# Only one default: setting it on one policy clears it on every other.
CLEAR_DEFAULT = "MATCH (m:MergePolicy {isDefault: true}) WHERE m.id <> $id SET m.isDefault = false"
SAVE = """
MERGE (m:MergePolicy {id: $p.id})
  ON CREATE SET m.createdAt = $now
SET m.name = $p.name, m.kind = $p.kind, m.sources = $p.sources, m.stitching = $p.stitching,
    m.isDefault = $p.isDefault, m.updatedAt = $now
RETURN m {.*} AS m
"""
DELETE = """
MATCH (m:MergePolicy {id: $id})
WITH m, coalesce(m.isDefault, false) AS wasDefault
DELETE m
RETURN count(*) AS n, any(d IN collect(wasDefault) WHERE d) AS wasDefault
"""


def from_row(row: dict[str, Any] | None) -> Policy | None:
    if row is None:
        return None
    return Policy(id=row["id"], name=row["name"], kind=row["kind"],
                  sources=tuple(row.get("sources") or ()), stitching=bool(row["stitching"]),
                  is_default=bool(row.get("isDefault")))


def pick(rows: list[dict[str, Any]], policy_id: str | None) -> Policy:
    """The policy asked for (None: the default) out of rows read alongside a profile."""
    policies = [p for p in (from_row(r) for r in rows) if p is not None]
    if policy_id is None or policy_id == BUILTIN_DEFAULT.id:
        stored_default = next((p for p in policies if p.is_default), None)
        if policy_id is None and stored_default:
            return stored_default
        return replace(BUILTIN_DEFAULT, is_default=stored_default is None)
    found = next((p for p in policies if p.id == policy_id), None)
    if found is None:
        raise NotFound(f"No merge policy {policy_id!r}.")
    return found


def validate(policy: Policy) -> Policy:
    if not policy.name.strip():
        raise InvalidInput("A merge policy needs a name.")
    if policy.kind not in (TIMESTAMP, PRECEDENCE):
        raise InvalidInput(f"Unknown merge policy kind {policy.kind!r}.")
    if policy.kind == PRECEDENCE and not policy.sources:
        raise InvalidInput("Dataset precedence needs at least one source.")
    if len(set(policy.sources)) != len(policy.sources):
        raise InvalidInput("A source is listed twice.")
    return policy


def _params(policy: Policy) -> dict[str, Any]:
    return {"id": policy.id, "name": policy.name.strip(), "kind": policy.kind,
            "sources": list(policy.sources), "stitching": policy.stitching,
            "isDefault": policy.is_default}


class PolicyStore:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        # Called after a committed change of which policy is the default, or of its rules
        # (the materialised views follow the default policy).
        self.after_default_change: list[Callable[[], Awaitable[object]]] = []

    async def list(self) -> list[Policy]:
        stored: list[Policy] = [from_row(r["m"])  # type: ignore[misc]  # every row has one
                                for r in await self.graph.read(LIST)]
        builtin = replace(BUILTIN_DEFAULT, is_default=not any(p.is_default for p in stored))
        return [builtin, *stored]

    async def get(self, policy_id: str) -> Policy:
        rows = await self.graph.read(GET, id=policy_id)
        return pick([r["m"] for r in rows], policy_id)

    async def create(self, policy: Policy) -> Policy:
        return await self._save(replace(policy, id=uuid.uuid4().hex))

    async def update(self, policy: Policy) -> Policy:
        self._not_builtin(policy.id)
        await self.get(policy.id)  # NOT_FOUND for an unknown id
        return await self._save(policy)

    async def delete(self, policy_id: str) -> bool:
        self._not_builtin(policy_id)
        rows = await self.graph.write(DELETE, id=policy_id)
        if rows and rows[0]["wasDefault"]:
            await self._default_changed()
        return bool(rows and rows[0]["n"])

    async def _save(self, policy: Policy) -> Policy:
        validate(policy)

        async def work(tx: Tx) -> tuple[Policy, bool]:
            taken = await tx.run(NAME_TAKEN, name=policy.name.strip(), id=policy.id)
            if taken[0]["n"]:
                raise InvalidInput(f"A merge policy named {policy.name!r} exists.")
            before = await tx.run(GET, id=policy.id)
            was_default = bool(before and before[0]["m"].get("isDefault"))
            if policy.is_default:
                await tx.run(CLEAR_DEFAULT, id=policy.id)
            rows = await tx.run(SAVE, p=_params(policy), now=now_ms())
            saved = from_row(rows[0]["m"])
            assert saved is not None  # SAVE always returns the node
            return saved, was_default or policy.is_default

        saved, default_changed = await self.graph.write_tx(work)
        if default_changed:
            await self._default_changed()
        return saved

    async def _default_changed(self) -> None:
        for hook in self.after_default_change:
            await hook()

    @staticmethod
    def _not_builtin(policy_id: str) -> None:
        if policy_id == BUILTIN_DEFAULT.id:
            raise InvalidInput("The built-in default policy cannot be changed; create a policy "
                               "and make it the default instead.")
