"""The change feed: what each committed change did to profiles, for live updates (GraphQL
subscriptions), shared by every API process through an outbox in Neo4j (pipeline/outbox.py).

Publishing: the pipeline records a write's events inside its transaction (`record`), and tells
the feed after the commit (`committed`); a writer outside the pipeline calls `publish(events)`
after its commit (its entry is then written in a transaction of its own, just after).
Subscribing: a process with subscribers tails the outbox (a read every `poll_seconds`, at once
after a commit of its own) and hands each change to every subscriber's bounded queue, so one
slow client never blocks anyone (it misses intermediate states, never the latest one). Without
an outbox (unit tests) changes go straight to this process's subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from types import TracebackType

from idgraph.db.errors import DatabaseError
from idgraph.db.graph import Tx
from idgraph.pipeline.changeset import ProfileEvent
from idgraph.pipeline.outbox import Events, Outbox, Position, made

log = logging.getLogger("idgraph.feed")

# One committed change as a subscriber sees it: the event of each profile it touched, by id.
Change = Mapping[str, ProfileEvent]
PRUNE_EVERY = 60.0  # seconds between prunes of old entries, by a tailing process


class ChangeFeed:
    def __init__(self, outbox: Outbox | None = None, queue_size: int = 1000,
                 poll_seconds: float = 0.1) -> None:
        self.outbox = outbox
        self.poll_seconds = poll_seconds
        self._subscribers: set[asyncio.Queue[Change]] = set()
        self._queue_size = queue_size
        self._tail: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._at = Position(None, 0)  # the last entry handed to subscribers
        self._publishing: set[asyncio.Task[None]] = set()

    @property
    def listeners(self) -> int:
        """How many subscribers are registered (operations, tests)."""
        return len(self._subscribers)

    # -- publishing -------------------------------------------------------------------------
    async def record(self, tx: Tx, events: Events) -> None:
        """Inside the writer's transaction: its change, for every process's subscribers."""
        if self.outbox is not None:
            await self.outbox.record(tx, events)

    def committed(self, events: Events) -> None:
        """After the commit of a change given to `record`."""
        if self.outbox is None:
            self._deliver(events)
        else:
            self._wake.set()  # this process's subscribers hear it without waiting for a poll

    def publish(self, events: Events) -> None:
        """Announce one committed change (its events, or a function making them: called only
        when someone listens), from a writer outside the pipeline, after its commit."""
        if self.outbox is None:
            self._deliver(events)
            return
        task = asyncio.ensure_future(self._append(events))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _append(self, events: Events) -> None:
        assert self.outbox is not None
        try:
            await self.outbox.append(events)
        except DatabaseError as exc:  # committed already: say so, the write stands
            log.warning("a committed change was not published to the feed: %s", exc)
        self._wake.set()

    def _deliver(self, events: Events) -> None:
        if self._subscribers:
            self._hand_out({e.profile_id: e for e in made(events)})

    def _hand_out(self, change: Change) -> None:
        if not change:
            return
        for queue in list(self._subscribers):
            if queue.full():
                queue.get_nowait()  # drop the oldest: the newest state is what matters
            queue.put_nowait(change)

    # -- subscribing ------------------------------------------------------------------------
    def subscribe(self) -> Subscription:
        """A queue of changes. `async with` (preferred) returns once every process's writes
        are known to reach it, so a read made next misses no later change; `with` registers
        at once and is caught up within a poll."""
        return Subscription(self)

    async def listen(self) -> None:
        """Register this process as listening, every write in flight committed."""
        if self.outbox is None:
            return
        self._moved_to(await self.outbox.listen())

    def _moved_to(self, position: Position) -> None:
        """Follow the feed from `position` unless already following it (same epoch)."""
        if self._tail is None or position.epoch != self._at.epoch:
            self._at = position

    def _add(self) -> asyncio.Queue[Change]:
        queue: asyncio.Queue[Change] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        if self.outbox is not None and self._tail is None:
            self._tail = asyncio.get_running_loop().create_task(self._tailing(), name="feed")
        return queue

    def _remove(self, queue: asyncio.Queue[Change]) -> None:
        self._subscribers.discard(queue)

    async def close(self) -> None:
        for task in [self._tail, *self._publishing]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._tail = None

    # -- tailing ----------------------------------------------------------------------------
    async def _tailing(self) -> None:
        """While this process has subscribers: renew the registration, read new entries, hand
        them out, prune old ones now and then."""
        loop = asyncio.get_running_loop()
        renew_at = prune_at = loop.time()
        try:
            while self._subscribers:
                try:
                    if loop.time() >= renew_at:
                        self._moved_to(await self._renewed())
                        renew_at = loop.time() + self._renew_every()
                    if loop.time() >= prune_at:
                        prune_at = loop.time() + PRUNE_EVERY
                        await self._pruned()
                    if await self._read_new():
                        continue  # a full page: read on at once
                except DatabaseError as exc:
                    log.warning("change feed: %s; retrying", exc)
                    await asyncio.sleep(1.0)
                    renew_at = loop.time()  # the registration may have lapsed meanwhile
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
        finally:
            self._tail = None
            self._at = Position(None, 0)  # a later tail starts from where the feed is then

    def _renew_every(self) -> float:
        assert self.outbox is not None
        return self.outbox.listen_ms / 4000

    async def _renewed(self) -> Position:
        assert self.outbox is not None
        return await self.outbox.listen()

    async def _pruned(self) -> None:
        assert self.outbox is not None
        if pruned := await self.outbox.prune():
            log.debug("change feed: pruned %d entries", pruned)

    async def _read_new(self) -> bool:
        """Hand out the entries after the last one; True if there may be more."""
        assert self.outbox is not None
        position, entries = await self.outbox.poll(self._at.seq)
        if position.epoch != self._at.epoch:  # emptied and begun again: from its start
            self._at = Position(position.epoch, 0)
            position, entries = await self.outbox.poll(0)
            if position.epoch is None:  # gone: registering again makes it
                self._at = await self._renewed()
                return False
        for seq, events in entries:
            self._hand_out({e.profile_id: e for e in events})
            self._at = Position(position.epoch, seq)
        return len(entries) >= 200


class Subscription:
    """`feed.subscribe()`: a context manager (plain or async) giving a queue of changes."""

    def __init__(self, feed: ChangeFeed) -> None:
        self.feed = feed
        self.queue: asyncio.Queue[Change] | None = None

    def __enter__(self) -> asyncio.Queue[Change]:
        self.queue = self.feed._add()
        return self.queue

    def __exit__(self, *exc: object) -> None:
        if self.queue is not None:
            self.feed._remove(self.queue)

    async def __aenter__(self) -> asyncio.Queue[Change]:
        await self.feed.listen()
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.__exit__()
