"""Merge policies as stored, named objects: create, read, update, delete, and the default.

(:MergePolicy {id, name, kind, sources, stitching, isDefault, revision, createdAt, updatedAt}).
When no stored policy is the default, the built-in timestamp-ordered one (id "default") is.
A change of the default is followed by a view rebuild job (ProfileService starts it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from idgraph.clock import now_ms
from idgraph.db.graph import Graph, Tx
from idgraph.errors import InvalidInput, NotFound
from idgraph.profile import repository as q
from idgraph.profile.merge import BUILTIN_DEFAULT, PRECEDENCE, TIMESTAMP, Policy


@dataclass(frozen=True)
class Saved:
    """A stored policy, and whether the default policy in force (or its rules) changed."""

    policy: Policy
    default_changed: bool


def from_row(row: dict[str, Any] | None) -> Policy | None:
    if row is None:
        return None
    return Policy(id=row["id"], name=row["name"], kind=row["kind"],
                  sources=tuple(row.get("sources") or ()), stitching=bool(row["stitching"]),
                  is_default=bool(row.get("isDefault")), revision=row.get("revision") or 0)


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
    """Stored merge policies: reads, and writes that say whether the default changed."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    async def list(self) -> list[Policy]:
        stored = [p for p in (from_row(r["m"]) for r in await self.graph.read(q.LIST_POLICIES))
                  if p is not None]
        builtin = replace(BUILTIN_DEFAULT, is_default=not any(p.is_default for p in stored))
        return [builtin, *stored]

    async def get(self, policy_id: str) -> Policy:
        rows = await self.graph.read(q.GET_POLICY, id=policy_id)
        return pick([r["m"] for r in rows], policy_id)

    async def create(self, policy: Policy) -> Saved:
        return await self._save(replace(policy, id=uuid.uuid4().hex))

    async def update(self, policy: Policy) -> Saved:
        self._not_builtin(policy.id)
        await self.get(policy.id)  # NOT_FOUND for an unknown id
        return await self._save(policy)

    async def delete(self, policy_id: str) -> tuple[bool, bool]:
        """(deleted, the default changed)."""
        self._not_builtin(policy_id)
        rows = await self.graph.write(q.DELETE_POLICY, id=policy_id)
        return bool(rows and rows[0]["n"]), bool(rows and rows[0]["wasDefault"])

    async def _save(self, policy: Policy) -> Saved:
        validate(policy)

        async def work(tx: Tx) -> Saved:
            taken = await tx.run(q.POLICY_NAME_TAKEN, name=policy.name.strip(), id=policy.id)
            if taken[0]["n"]:
                raise InvalidInput(f"A merge policy named {policy.name!r} exists.")
            before = await tx.run(q.GET_POLICY, id=policy.id)
            was_default = bool(before and before[0]["m"].get("isDefault"))
            if policy.is_default:
                await tx.run(q.CLEAR_DEFAULT_POLICY, id=policy.id)
            rows = await tx.run(q.SAVE_POLICY, p=_params(policy), now=now_ms())
            saved = from_row(rows[0]["m"])
            assert saved is not None  # SAVE_POLICY always returns the node
            return Saved(saved, was_default or policy.is_default)

        return await self.graph.write_tx(work)

    @staticmethod
    def _not_builtin(policy_id: str) -> None:
        if policy_id == BUILTIN_DEFAULT.id:
            raise InvalidInput("The built-in default policy cannot be changed; create a policy "
                               "and make it the default instead.")
