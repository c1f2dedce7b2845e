"""An in-process feed of changed profile ids, for live updates (GraphQL subscriptions).

Writers publish after they commit; each subscriber has its own bounded queue so one slow
client never blocks ingestion (it misses intermediate states, never the latest one).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable


class ChangeFeed:
    def __init__(self, queue_size: int = 1000) -> None:
        self._subscribers: set[asyncio.Queue[str]] = set()
        self._queue_size = queue_size

    def publish(self, profile_ids: Iterable[str]) -> None:
        for queue in list(self._subscribers):
            for profile_id in profile_ids:
                if queue.full():
                    queue.get_nowait()  # drop the oldest: the newest state is what matters
                queue.put_nowait(profile_id)

    async def subscribe(self) -> AsyncIterator[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.discard(queue)
