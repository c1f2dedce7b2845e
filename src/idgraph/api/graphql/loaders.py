"""Per-request DataLoaders: nested fields of many profiles cost one Neo4j round trip per
field, not one per profile (no N+1)."""

from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader

from idgraph.profile.service import ProfileRead, ReadShape
from idgraph.segments.transitions import CURRENT, Status
from idgraph.services import Services


class Loaders:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.history = DataLoader(load_fn=self._histories)
        self.computed = DataLoader(load_fn=self._computed)
        self._profiles: dict[ReadShape, DataLoader] = {}
        self._segments: dict[bool, DataLoader] = {}

    def profiles(self, shape: ReadShape) -> DataLoader:
        """Profile reads by id; one loader per shape of read (attributes asked or not)."""
        if shape not in self._profiles:
            async def load(ids: list[str]) -> list[ProfileRead | None]:
                found = await self.services.profiles.read_many(
                    ids, shape.fragments, shape.policies, shape.view)
                return [found.get(i) for i in ids]

            self._profiles[shape] = DataLoader(load_fn=load)
        return self._profiles[shape]

    def segments(self, include_exited: bool) -> DataLoader:
        """Profile.segments by profile id; one loader per choice of statuses."""
        if include_exited not in self._segments:
            statuses = [*CURRENT, Status.EXITED] if include_exited else list(CURRENT)

            async def load(ids: list[str]) -> list[list[dict[str, Any]]]:
                repository = self.services.segments.service.repository
                found = await repository.profile_segments(ids, statuses)
                return [found.get(i, []) for i in ids]

            self._segments[include_exited] = DataLoader(load_fn=load)
        return self._segments[include_exited]

    async def _histories(self, ids: list[str]) -> list[list[dict[str, Any]]]:
        found = await self.services.identity.histories(ids)
        return [found.get(i, []) for i in ids]

    async def _computed(self, ids: list[str]) -> list[list[Any]]:
        found = await self.services.profiles.computed_many(ids)
        return [found.get(i, []) for i in ids]
