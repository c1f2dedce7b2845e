"""Suppression: `deleteProfile(identity, suppress: true)` records a salted hash of each deleted
identity key, and later records or events carrying any of them are rejected (`SUPPRESSED`)
until an admin lifts it. Only HMAC-SHA256 hashes under a per-deployment salt are stored, so the
graph never holds the deleted values, and a hash cannot be matched against a list of known
values without the salt."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from idgraph.db.graph import Graph, Tx
from idgraph.privacy import repository as q

SALT_NAME = "suppression_salt"
SUPPRESSED = "SUPPRESSED"


@dataclass(frozen=True)
class SuppressionEntry:
    hash: str
    created_at: int


def digest(salt: str, identity_key: str) -> str:
    """The stored form of one identity key: HMAC-SHA256 under the salt, hex."""
    return hmac.new(salt.encode(), identity_key.encode(), hashlib.sha256).hexdigest()


class Suppressions:
    """The checks ingest makes, and the admin's listing and lifting. The salt never changes
    once created, so it is cached after it has been read."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._salt: str | None = None

    async def suppress(self, tx: Tx, identity_keys: Iterable[str], now: int) -> int:
        """Record the keys' hashes inside a writer's transaction (the deletion); creates the
        salt on first use. Returns how many keys were suppressed."""
        keys = sorted(set(identity_keys))
        if not keys:
            return 0
        rows = await tx.run(q.ENSURE_SECRET, name=SALT_NAME, candidate=secrets.token_hex(32),
                            now=now)
        salt: str = rows[0]["value"]
        await tx.run(q.SUPPRESS, hashes=[digest(salt, k) for k in keys], now=now)
        self._salt = salt
        return len(keys)

    async def salt(self) -> str | None:
        """The deployment's salt; None while nothing was ever suppressed (one cheap query)."""
        if self._salt is None:
            rows = await self.graph.read(q.READ_SECRET, name=SALT_NAME)
            self._salt = rows[0]["value"] if rows else None
        return self._salt

    async def suppressed(self, identity_keys: Iterable[str]) -> set[str]:
        """Which of the keys are suppressed: one indexed lookup of all their hashes."""
        keys = set(identity_keys)
        salt = await self.salt() if keys else None
        if salt is None:
            return set()
        by_hash = {digest(salt, k): k for k in keys}
        rows = await self.graph.read(q.SUPPRESSED_AMONG, hashes=sorted(by_hash))
        return {by_hash[h] for h in rows[0]["hashes"]}

    async def lift(self, identity_key: str) -> bool:
        """Let the identity in again; False when it was not suppressed."""
        salt = await self.salt()
        if salt is None:
            return False
        rows = await self.graph.write(q.LIFT, hash=digest(salt, identity_key))
        return bool(rows and rows[0]["n"])

    async def list(self, first: int) -> list[SuppressionEntry]:
        """Newest first: hashes and times, never values."""
        rows = await self.graph.read(q.LIST, first=first)
        return [SuppressionEntry(r["hash"], r["createdAt"]) for r in rows]
