"""All Cypher for stored API keys: only hashes are stored, never a key."""

from __future__ import annotations

from typing import Any

from idgraph.db.graph import Graph

CREATE_KEY = """
CREATE (k:ApiKey {id: $id, name: $name, role: $role, hash: $hash, createdAt: datetime()})
RETURN k.id AS id, k.name AS name, k.role AS role, toString(k.createdAt) AS createdAt
"""
# Keyset pagination on (createdAt, id): stable while keys are added or revoked.
LIST_KEYS = """
MATCH (k:ApiKey)
WHERE $afterAt IS NULL
   OR k.createdAt > datetime($afterAt)
   OR (k.createdAt = datetime($afterAt) AND k.id > $afterId)
RETURN k.id AS id, k.name AS name, k.role AS role, toString(k.createdAt) AS createdAt
ORDER BY k.createdAt, k.id
LIMIT $limit
"""
FIND_BY_HASH = "MATCH (k:ApiKey {hash: $hash}) RETURN k.id AS id, k.name AS name, k.role AS role"
ANY_KEY = "MATCH (k:ApiKey) RETURN count(k) > 0 AS any"
REVOKE_KEY = "MATCH (k:ApiKey {id: $id}) WITH k, k.hash AS hash DETACH DELETE k RETURN hash"


class ApiKeyRepository:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    async def create(self, key_id: str, name: str, role: str, digest: str) -> dict[str, Any]:
        rows = await self.graph.write(CREATE_KEY, id=key_id, name=name, role=role, hash=digest)
        return rows[0]

    async def page(self, limit: int, after: tuple[str, str] | None) -> list[dict[str, Any]]:
        after_at, after_id = after or (None, None)
        return await self.graph.read(LIST_KEYS, limit=limit, afterAt=after_at, afterId=after_id)

    async def find_by_hash(self, digest: str) -> dict[str, Any] | None:
        rows = await self.graph.read(FIND_BY_HASH, hash=digest)
        return rows[0] if rows else None

    async def any_stored(self) -> bool:
        return bool((await self.graph.read(ANY_KEY))[0]["any"])

    async def revoke(self, key_id: str) -> str | None:
        """Delete the key; returns its hash (to drop it from caches), None when unknown."""
        rows = await self.graph.write(REVOKE_KEY, id=key_id)
        return rows[0]["hash"] if rows else None
