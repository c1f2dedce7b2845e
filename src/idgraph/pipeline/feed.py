"""The in-process change feed: what each committed change did to profiles, for live updates
(GraphQL subscriptions).

The pipeline publishes after the commit; each subscriber has its own bounded queue so one slow
client never blocks ingestion (it misses intermediate states, never the latest one).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence

from idgraph.pipeline.changeset import ProfileEvent

# One committed change as a subscriber sees it: the event of each profile it touched, by id.
Change = Mapping[str, ProfileEvent]


class ChangeFeed:
    def __init__(self, queue_size: int = 1000) -> None:
        self._subscribers: set[asyncio.Queue[Change]] = set()
        self._queue_size = queue_size

    @property
    def listeners(self) -> int:
        """How many subscribers are registered (operations, tests)."""
        return len(self._subscribers)

    def publish(self, events: Sequence[ProfileEvent] | Callable[[], Sequence[ProfileEvent]]
                ) -> None:
        """Announce one committed change (its events, or a function making them: called only
        when someone listens)."""
        if not self._subscribers:
            return
        change = {e.profile_id: e for e in (events() if callable(events) else events)}
        if not change:
            return
        for queue in list(self._subscribers):
            if queue.full():
                queue.get_nowait()  # drop the oldest: the newest state is what matters
            queue.put_nowait(change)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[Change]]:
        """A queue of changes, registered at once (no change slips by before the first read)."""
        queue: asyncio.Queue[Change] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
