"""The one module that owns the Neo4j driver: connections, transactions, timeouts, retries.

Domain code hands this module Cypher text kept as constants (values always as parameters) and
gets plain records back; nothing else in idgraph imports `neo4j`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, TypeVar

import neo4j
from neo4j import AsyncGraphDatabase, Query, RoutingControl
from neo4j.exceptions import (
    ClientError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
)

from idgraph.db.errors import DatabaseError, DatabaseUnavailable, QueryTimedOut, WriteRefused
from idgraph.errors import InvalidInput

log = logging.getLogger("idgraph.db")
MAX_IDLE_READERS = 64
T = TypeVar("T")

# Counts round trips per logical request (GraphQL request, CLI command): the N+1 tests read it.
_round_trips: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "idgraph_round_trips", default=None
)


def start_counting_round_trips() -> list[int]:
    counter = [0]
    _round_trips.set(counter)
    return counter


def _count_round_trip() -> None:
    counter = _round_trips.get()
    if counter is not None:
        counter[0] += 1


@dataclass
class Tx:
    """A transaction handed to domain code: run statements, get records as dicts."""

    _tx: neo4j.AsyncManagedTransaction
    timeout: float

    async def run(self, cypher: str, **params: Any) -> list[dict[str, Any]]:
        _count_round_trip()
        result = await self._tx.run(cypher, _quiet(params))
        return await result.data()

    async def values(self, cypher: str, **params: Any) -> list[list[Any]]:
        """Rows as plain lists: cheaper than dicts for large, hot results."""
        _count_round_trip()
        result = await self._tx.run(cypher, _quiet(params))
        return await result.values()


class _Unlogged(list[Any]):
    """A list parameter whose repr is its length. The driver formats the repr of every
    statement's parameters for a debug log line before it checks the log level: for an ingest
    batch's thousand rows about a millisecond per statement, ~5% of an ingest's Python CPU."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} items>"


def _quiet(params: dict[str, Any]) -> dict[str, Any]:
    return {name: _Unlogged(value) if type(value) is list else value
            for name, value in params.items()}


@dataclass
class Graph:
    """An async Neo4j connection pool for one database, with a timeout on every query."""

    uri: str
    auth: tuple[str, str] | None
    database: str
    timeout: float = 30.0
    # How long the driver retries transient failures (deadlocks between concurrent ingests,
    # a leader switch, a restart) before a request fails with a clear error.
    retry_time: float = 8.0
    _driver: neo4j.AsyncDriver | None = field(default=None, repr=False)
    # Read sessions between reads (they hold no connection while idle); see `_reader`.
    _idle_readers: list[neo4j.AsyncSession] = field(default_factory=list, repr=False)
    # Background work of reads (`_in_background`): ends of results whose first row was handed
    # out (`read_first_plain`), sessions closed past MAX_IDLE_READERS.
    _finishing: set[asyncio.Task[None]] = field(default_factory=set, repr=False)

    @property
    def driver(self) -> neo4j.AsyncDriver:
        if self._driver is None:
            self._driver = AsyncGraphDatabase.driver(
                self.uri, auth=self.auth, connection_timeout=5.0,
                connection_acquisition_timeout=10.0, max_transaction_retry_time=self.retry_time,
                notifications_min_severity="OFF",
                # The driver's per-write socket timeout wraps every write of the async driver in
                # a task and a timer (about 0.04 ms per read); each operation here has one
                # deadline of its own instead (`_guarded`), which also covers the reads.
                connection_write_timeout=None,  # type: ignore[arg-type]  # None: no timeout
            )
        return self._driver

    async def close(self) -> None:
        if self._finishing:
            await asyncio.gather(*self._finishing, return_exceptions=True)
        while self._idle_readers:
            await self._idle_readers.pop().close()
        if self._driver is not None:
            await self._driver.close()
            self._driver = None

    def pool_stats(self) -> tuple[int, int]:
        """(in use, idle) connections in the driver's pool, for /metrics; (0, 0) before use."""
        # The driver has no public pool API; read its pool defensively so a driver upgrade
        # degrades the metric to zeros instead of failing the scrape.
        pool = getattr(self._driver, "_pool", None)
        connections = getattr(pool, "connections", None) or {}
        try:
            every = [c for per_address in list(connections.values()) for c in list(per_address)]
        except (TypeError, RuntimeError):
            return 0, 0
        in_use = sum(1 for c in every if getattr(c, "in_use", False))
        return in_use, len(every) - in_use

    async def verify(self) -> None:
        """Fail fast (no retries) with DatabaseUnavailable when the server cannot be reached."""
        try:
            await self.driver.verify_connectivity()
        except (ServiceUnavailable, SessionExpired, OSError, DriverError, Neo4jError) as exc:
            raise DatabaseUnavailable(
                f"Neo4j at {self.uri} is unreachable ({exc}). Check NEO4J_URI, or unset it to "
                "use the managed local Neo4j (`idgraph neo4j start`).") from exc

    async def ping(self) -> None:
        """Raise DatabaseUnavailable at once (no retries) unless Neo4j answers: readiness."""
        await self.verify()

    def _guarded(self) -> _translated_errors:
        """Driver errors translated, under a deadline: a server that stops answering (a dead
        peer, a full socket) fails the operation instead of hanging it forever."""
        return _translated_errors(self.timeout + self.retry_time + 5.0)

    async def read(self, cypher: str, **params: Any) -> list[dict[str, Any]]:
        """One read statement in an auto-commit transaction: one network round trip where a
        managed transaction needs two (its COMMIT is a second one), about 0.45 ms less per
        read (bench/results/profile_read.md). A read is idempotent, so transient failures are
        retried (`_with_retries`)."""
        return await self._read(cypher, params, lambda q, p: self._run_read(q, p, _exported))

    async def read_plain(self, cypher: str, **params: Any) -> list[dict[str, Any]]:
        """`read` for statements that return only plain values (scalars, lists, maps; no nodes,
        relationships or paths, which would come back as driver objects): the rows are not
        walked to export graph types, which is a tenth of a hot read's CPU."""
        return await self._read(cypher, params, lambda q, p: self._run_read(q, p, _plain))

    async def read_first_plain(self, cypher: str, **params: Any) -> dict[str, Any] | None:
        """`read_plain` of a statement that returns one row or none, handed out as soon as it
        arrives. The end of the result (the server's summary, which the driver turns into a
        dozen objects, and the session's return) is read by a task that runs when the caller
        next yields: for a front-end's profile read, after its response is written, so that
        work (a tenth of the request's CPU) is no longer part of its latency."""
        return await self._read(cypher, params, self._run_read_first)

    async def _read(self, cypher: str, params: dict[str, Any],
                    run: Callable[[Query, dict[str, Any]], Awaitable[T]]) -> T:
        _count_round_trip()
        query = Query(cypher, timeout=self.timeout)

        async def attempt() -> T:
            async with self._guarded():
                return await run(query, params)

        return await self._with_retries(attempt)

    async def _with_retries(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """`attempt()` again after transient errors (a deadlock between concurrent writers, a
        leader switch, a restart) for up to `retry_time`: first after about 20 ms, doubling,
        jittered. The driver's own retry of managed transactions waits about a second first,
        which concurrent ingest batches that meet on a profile paid on every deadlock."""
        deadline, delay = time.monotonic() + self.retry_time, 0.02
        while True:
            try:
                return await attempt()
            except DatabaseError as exc:
                if not _retryable(exc) or time.monotonic() + delay > deadline:
                    raise
                log.info("retrying after %s", type(exc.__cause__).__name__)
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 1.0)

    async def _run_read(self, query: Query, params: dict[str, Any],
                        row: Callable[[neo4j.Record], dict[str, Any]]) -> list[dict[str, Any]]:
        session = self._reader()
        try:
            result = await session.run(query, params)
            rows = [row(record) async for record in result]
        except BaseException:
            await session.close()
            raise
        self._reuse(session, result)
        return rows

    async def _run_read_first(self, query: Query,
                              params: dict[str, Any]) -> dict[str, Any] | None:
        session = self._reader()
        try:
            result = await session.run(query, params)
            records = aiter(result)
            first = await anext(records, None)
        except BaseException:
            await session.close()
            raise
        if first is None:  # the result has ended: nothing left to read
            self._reuse(session, result)
            return None
        self._in_background(self._finish(session, result, records))
        return dict(first.items())  # type: ignore[no-untyped-call]  # neo4j: unannotated

    def _reader(self) -> neo4j.AsyncSession:
        # Read sessions are reused, as a plain driver script reuses its one session: making a
        # session per read cost CPU and left ~30 objects in reference cycles for the garbage
        # collector, whose passes then lengthened other requests (bench/results/profile_read.md).
        # A session whose read failed or was interrupted is closed, never reused.
        return self._idle_readers.pop() if self._idle_readers else self._session(
            neo4j.READ_ACCESS)

    async def _finish(self, session: neo4j.AsyncSession, result: neo4j.AsyncResult,
                      records: AsyncIterator[neo4j.Record]) -> None:
        """Read a result to its end (rows past the first are dropped), then reuse the session;
        a session whose result failed here is closed instead (its row was complete)."""
        try:
            async with self._guarded():
                async for _ in records:
                    pass
        except BaseException as exc:  # noqa: BLE001 - including a cancelled task at shutdown
            log.info("closing a read session after its result failed: %s", exc)
            with contextlib.suppress(Exception):
                await session.close()
            return
        self._reuse(session, result)

    def _reuse(self, session: neo4j.AsyncSession, result: neo4j.AsyncResult) -> None:
        """A session whose result was read to its end goes back to the idle ones."""
        _release(result)
        if len(self._idle_readers) < MAX_IDLE_READERS:
            self._idle_readers.append(session)
        else:
            self._in_background(session.close())

    def _in_background(self, work: Awaitable[None]) -> None:
        """Run `work` after the caller's turn; `close` waits for it."""
        task = asyncio.ensure_future(work)
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    def _session(self, access_mode: str = neo4j.WRITE_ACCESS) -> neo4j.AsyncSession:
        # Behind a routing URI (a cluster, Aura) sessions share the driver's bookmark manager,
        # so a read always sees the writes this process committed before it (causal
        # consistency). A direct bolt:// server is always consistent with itself: no bookmarks.
        routed = not self.uri.startswith("bolt")
        return self.driver.session(
            database=self.database, default_access_mode=access_mode,
            bookmark_manager=self.driver.execute_query_bookmark_manager if routed else None)

    async def plan(self, cypher: str, profile: bool = False, **params: Any) -> dict[str, Any]:
        """Neo4j's plan of a read statement as plain data: EXPLAIN (planned, not run) or
        PROFILE (run, with rows and database hits per operator; the rows are discarded). In
        a read session: a statement that would write fails instead."""
        _count_round_trip()
        query = Query(("PROFILE " if profile else "EXPLAIN ") + cypher,
                      timeout=self.timeout)
        async with self._guarded(), self._session(neo4j.READ_ACCESS) as session:
            result = await session.run(query, params)
            summary = await result.consume()
        found = summary.profile if profile else summary.plan
        return dict(found or {})

    async def write(self, cypher: str, **params: Any) -> list[dict[str, Any]]:
        return await self._execute(cypher, params, RoutingControl.WRITE)

    async def _execute(self, cypher: str, params: dict[str, Any],
                       routing: RoutingControl) -> list[dict[str, Any]]:
        _count_round_trip()
        query = Query(cypher, timeout=self.timeout)
        async with self._guarded():
            records, _, _ = await self.driver.execute_query(
                query, params, routing_=routing, database_=self.database
            )
        return [record.data() for record in records]

    async def write_tx(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """Run `work` in one write transaction, run again on transient errors (`_with_retries`);
        `work` must be safe to run again."""
        return await self._with_retries(lambda: self._write_once(work))

    async def _write_once(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        async with self._guarded(), self._session() as session:
            tx = await session.begin_transaction(timeout=self.timeout)
            try:
                result = await work(Tx(tx, self.timeout))  # type: ignore[arg-type]
            except BaseException:
                await tx.close()  # rolls back
                raise
            await tx.commit()
            return result

    async def rolled_back_tx(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """Run `work` in a write transaction that is always rolled back: a dry run."""
        async with self._guarded(), self._session() as session:
            tx = await session.begin_transaction(timeout=self.timeout)
            try:
                return await work(Tx(tx, self.timeout))  # type: ignore[arg-type]
            finally:
                await tx.rollback()


def _release(result: neo4j.AsyncResult) -> None:
    """Break the reference cycles a consumed result leaves behind (the result and its
    callbacks, its hydration scope and that scope's graph: ~29 objects per read), so they are
    freed at once instead of waiting for the garbage collector. Those objects were all of a
    read's cyclic garbage; the collector's passes over them, one every few reads and a longer
    one every ~80, were the API's latency tail (bench/results/profile_read.md). Best effort
    over the driver's private attributes: a driver without them just leaves the cycles, and
    tests/test_foundation.py says so by counting a read's garbage."""
    scope = getattr(result, "_hydration_scope", None)
    hydrator = getattr(scope, "_graph_hydrator", None)
    graph = getattr(hydrator, "graph", None)
    for part in (result, scope, hydrator, graph):
        state = getattr(part, "__dict__", None)
        if state is not None:
            state.clear()


def _exported(record: neo4j.Record) -> dict[str, Any]:
    return record.data()  # nodes and relationships as dicts of their properties


def _plain(record: neo4j.Record) -> dict[str, Any]:
    return dict(record.items())  # type: ignore[no-untyped-call]  # neo4j: unannotated


def _retryable(exc: DatabaseError) -> bool:
    cause = exc.__cause__
    return isinstance(cause, Neo4jError | DriverError) and cause.is_retryable()


class _translated_errors:
    """Turn driver exceptions into idgraph's, so callers never see neo4j types; with `seconds`,
    also a deadline for the whole block."""

    def __init__(self, seconds: float | None = None) -> None:
        self.seconds = seconds
        self.deadline: asyncio.Timeout | None = None

    async def __aenter__(self) -> None:
        if self.seconds is not None:
            self.deadline = asyncio.timeout(self.seconds)
            await self.deadline.__aenter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> Literal[False]:
        if self.deadline is not None:
            try:
                await self.deadline.__aexit__(exc_type, exc, tb)
            except TimeoutError as expired:
                raise DatabaseUnavailable(
                    f"Neo4j did not answer within {self.seconds:.0f} s; check that the server "
                    "is up and reachable, then retry.") from expired
        if exc is None:
            return False
        if isinstance(exc, UnicodeEncodeError):  # the driver encodes every string as UTF-8
            raise InvalidInput(
                "A text value holds a lone surrogate (such as \\ud800): it is not Unicode text, "
                "so it cannot be stored or looked up; send valid UTF-8 text.") from exc
        if isinstance(exc, ServiceUnavailable | SessionExpired | OSError):
            raise DatabaseUnavailable(f"Neo4j is unreachable: {exc}") from exc
        if isinstance(exc, ClientError) and "TransactionTimedOut" in (exc.code or ""):
            raise QueryTimedOut("The query ran past its time limit and was stopped.") from exc
        if isinstance(exc, ClientError) and (exc.code or "").endswith("Statement.AccessMode"):
            raise WriteRefused("The statement tries to write in a read-only transaction; "
                               "nothing was written.") from exc
        if isinstance(exc, Neo4jError | DriverError):
            raise DatabaseError(f"Neo4j error: {exc}") from exc
        return False
