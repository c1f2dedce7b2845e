"""An in-process feed of changed profile ids, for live updates (GraphQL subscriptions).

Writers publish after they commit; each subscriber has its own bounded queue so one slow
client never blocks ingestion (it misses intermediate states, never the latest one).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Iterator


class ChangeFeed:
    def __init__(self, queue_size: int = 1000) -> None:
        self._subscribers: set[asyncio.Queue[frozenset[str]]] = set()
        self._queue_size = queue_size

    def publish(self, profile_ids: Iterable[str]) -> None:
        """Announce one committed change touching these profiles."""
        change = frozenset(profile_ids)
        for queue in list(self._subscribers):
            if queue.full():
                queue.get_nowait()  # drop the oldest: the newest state is what matters
            queue.put_nowait(change)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[frozenset[str]]]:
        """A queue of changes, registered at once (no change slips by before the first read)."""
        queue: asyncio.Queue[frozenset[str]] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
