"""API key use cases: authenticate a presented key, create, list and revoke stored keys."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from idgraph.auth.keys import Principal, generate_key, hash_key, parse_static_keys
from idgraph.auth.repository import ApiKeyRepository
from idgraph.auth.roles import Role
from idgraph.db.graph import Graph
from idgraph.errors import InvalidInput

MAX_NAME_LENGTH = 100


class ApiKeyService:
    """Start-up keys live in memory; stored keys in the graph, looked up by hash and cached
    briefly per process (a revoke here takes effect at once; in other processes within
    `cache_seconds`).

    Open loopback mode (keyless loopback clients served as admins) is asked for at start-up
    (`open_loopback`, IDGRAPH_OPEN_LOOPBACK) and holds only while no key exists. Once a key is
    seen it ends for good in this process: revoking the last key never reopens it."""

    def __init__(self, graph: Graph, static_spec: str, cache_seconds: float = 10.0,
                 clock: Callable[[], float] = time.monotonic, open_loopback: bool = False) -> None:
        self.repository = ApiKeyRepository(graph)
        self.static = parse_static_keys(static_spec)
        self.cache_seconds = cache_seconds
        self.clock = clock
        self.open_mode = open_loopback and not self.static
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._none_seen: float | None = None  # when "no key stored" was last seen

    async def authenticate(self, key: str) -> Principal | None:
        digest = hash_key(key)
        if digest in self.static:
            return self.static[digest]
        cached = self._cache.get(digest)
        if cached and self.clock() - cached[0] < self.cache_seconds:
            return cached[1]
        row = await self.repository.find_by_hash(digest)
        if row is None:
            self._cache.pop(digest, None)
            return None
        principal = Principal(row["id"], Role(row["role"]), row["name"])
        self._cache[digest] = (self.clock(), principal)
        return principal

    async def no_keys(self) -> bool:
        """True when no key is configured at all (none at start-up, none stored).

        Only "none" is cached (like looked-up keys), so keyless local use costs no extra round
        trip per request; creating a key here is seen at once (other processes within
        `cache_seconds`)."""
        if self.static:
            return False
        if self._none_seen is not None and self.clock() - self._none_seen < self.cache_seconds:
            return True
        none = not await self.repository.any_stored()
        self._none_seen = self.clock() if none else None
        return none

    async def open_to_loopback(self) -> bool:
        """True while open loopback mode holds: asked for at start-up and still no key."""
        if not self.open_mode:
            return False
        if await self.no_keys():
            return True
        self.open_mode = False  # a key exists: the mode ends for good
        return False

    async def create(self, name: str, role: Role) -> tuple[dict[str, Any], str]:
        """Store a new key; returns its record and the plaintext key (shown this once only)."""
        name = name.strip()
        if not name or len(name) > MAX_NAME_LENGTH:
            raise InvalidInput(f"An API key name needs 1 to {MAX_NAME_LENGTH} characters.")
        key = generate_key()
        record = await self.repository.create(uuid.uuid4().hex, name, role.value, hash_key(key))
        self._none_seen = None
        self.open_mode = False
        return record, key

    async def page(self, limit: int, after: tuple[str, str] | None) -> list[dict[str, Any]]:
        return await self.repository.page(limit, after)

    async def revoke(self, key_id: str) -> bool:
        digest = await self.repository.revoke(key_id)
        if digest is None:
            return False
        self._cache.pop(digest, None)
        self._none_seen = None
        return True
