"""Per-request DataLoaders: nested fields of many profiles cost one Neo4j round trip per
field, not one per profile (no N+1)."""

from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader

from idgraph.identity.service import links_of_profiles
from idgraph.profile.service import EventRow, EventsPage, ProfileRead, ReadShape
from idgraph.segments.transitions import CURRENT, Status
from idgraph.services import Services


class Loaders:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.history = DataLoader(load_fn=self._histories)
        self.computed = DataLoader(load_fn=self._computed)
        self.links = DataLoader(load_fn=self._links)
        self._profiles: dict[ReadShape, DataLoader[str, ProfileRead | None]] = {}
        self._events: dict[EventsPage, DataLoader[str, list[EventRow]]] = {}
        self._segments: dict[bool, DataLoader[str, list[dict[str, Any]]]] = {}

    def profiles(self, shape: ReadShape) -> DataLoader[str, ProfileRead | None]:
        """Profile reads by id; one loader per shape of read (attributes asked or not)."""
        if shape not in self._profiles:
            async def load(ids: list[str]) -> list[ProfileRead | None]:
                found = await self.services.profiles.read_many(
                    ids, shape.fragments, shape.policies, shape.view)
                return [found.get(i) for i in ids]

            self._profiles[shape] = DataLoader(load_fn=load)
        return self._profiles[shape]

    def events(self, page: EventsPage) -> DataLoader[str, list[EventRow]]:
        """Event pages by profile id; one loader per page asked for (size, cursor, filters),
        so a list of profiles asking for the same page costs one query."""
        if page not in self._events:
            async def load(ids: list[str]) -> list[list[EventRow]]:
                found = await self.services.profiles.events_many(ids, page)
                return [found.get(i, []) for i in ids]

            self._events[page] = DataLoader(load_fn=load)
        return self._events[page]

    def segments(self, include_exited: bool) -> DataLoader[str, list[dict[str, Any]]]:
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

    async def _links(self, ids: list[str]) -> list[list[dict[str, Any]]]:
        # Up to the largest page for every profile; each field takes its own `first`.
        found = await links_of_profiles(self.services.identity, ids,
                                        self.services.settings.max_page_size)
        return [found.get(i, []) for i in ids]
