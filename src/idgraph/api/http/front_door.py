"""The front door: the front-end's hot profile read, answered before the middleware stack.

A compiled profile read (api/graphql/fast_reads.py) spends little of its time in GraphQL; what was
left around it was the stack it passed through: Starlette's error, exception and routing
layers, three middlewares each wrapping `receive` and `send`, and a Request and a Response
object. Together about a third of that request's server CPU, and every microsecond before the
response is written is latency (bench/results/profile_read.md).

The front door is the outermost ASGI app. It answers only requests it can answer exactly as the
stack would: POST /graphql with a JSON body within the size limit, no cross-origin request
when CORS is configured, a served Host, a document with a compiled plan, a caller with a
reader role within its rate. Its checks are the middlewares' own functions (request id, Host,
key lookup, rate limits, failed-authentication allowance). It writes the response first and
records the metrics and the access line after. Everything else (no key, a limited address, a
large body, another document, a read the plan cannot answer) goes to the stack untouched, with
the body already read replayed; the stack answers it, errors included. A caller it already
authenticated and charged is handed on as such, so a request never spends two rate tokens.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from idgraph.api.graphql.fast_reads import FAST_READ_DECLINED, FastPlan, FastProfileReads
from idgraph.api.http.auth_middleware import FRONT_DOOR_PRINCIPAL, find_principal, rate_wait
from idgraph.api.http.graphql_app import JSON, preferred_media_type
from idgraph.api.http.hosts import HostCheck
from idgraph.api.http.logs import request_id_var
from idgraph.api.http.metrics import Metrics
from idgraph.api.http.middleware import record_request, request_id_for
from idgraph.api.http.ratelimit import RateLimiter
from idgraph.auth.keys import Principal
from idgraph.auth.service import ApiKeyService
from idgraph.db.errors import DatabaseError


class FrontDoor:
    def __init__(self, app: ASGIApp, reads: FastProfileReads, keys: ApiKeyService,
                 limiter: RateLimiter, failures: RateLimiter, metrics: Metrics,
                 max_body_bytes: int, cors: bool, hosts: HostCheck) -> None:
        self.app = app
        self.reads = reads
        self.keys = keys
        self.limiter = limiter
        self.failures = failures
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.cors = cors  # CORS headers are the stack's (CORSMiddleware)
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] != "POST"
                or scope["path"] != "/graphql"):
            return await self.app(scope, receive, send)
        headers = _headers(scope)
        if headers.get("content-type", "").split(";")[0].strip() != JSON or (
                self.cors and "origin" in headers) or not self.hosts.allows(headers.get("host")):
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        raw, complete = await self._body(headers, receive)
        planned = self.reads.plan_of(raw) if complete else None
        if planned is None:
            if complete:  # read, parsed, no plan: the stack's fast path need not parse it again
                scope.setdefault("state", {})[FAST_READ_DECLINED] = True
            return await self.app(scope, _replaying(raw, complete, receive), send)
        principal = await self._reader(scope, headers, planned[0])
        if principal is None:
            return await self.app(scope, _replaying(raw, complete, receive), send)
        state = scope.setdefault("state", {})
        state[FRONT_DOOR_PRINCIPAL] = principal
        request_id = state["request_id"] = request_id_for(headers.get("x-request-id", ""))
        token = request_id_var.set(request_id)
        self.metrics.in_flight.inc()
        try:
            answered = await self.reads.answer(*planned, request_id)
            if answered is None:  # the plan cannot answer this read: the general path does
                state[FAST_READ_DECLINED] = True
                return await self.app(scope, _replaying(raw, complete, receive), send)
            await _respond(send, answered.body, preferred_media_type(headers.get("accept", "")),
                           request_id)
            self.reads.served_at_front_door += 1
            self.reads.record(planned[0], started, answered)
            record_request(self.metrics, scope, 200, time.perf_counter() - started)
        finally:
            self.metrics.in_flight.dec()
            request_id_var.reset(token)

    async def _body(self, headers: Mapping[str, str], receive: Receive) -> tuple[bytes, bool]:
        """The body read so far, and whether it is complete within the size limit."""
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return b"", False
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), False  # a disconnect: the stack sees it too
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if size > self.max_body_bytes:
                return b"".join(chunks), False
            if not message.get("more_body", False):
                return b"".join(chunks), True

    async def _reader(self, scope: Scope, headers: Mapping[str, str],
                      plan: FastPlan) -> Principal | None:
        """The caller when it may read what the plan selects now (a rate token is then spent),
        else None: the stack answers the rest (401, 403, 429, 503) as it always does."""
        address = (scope.get("client") or ("-",))[0]
        if self.failures.wait(address) > 0:
            return None
        try:
            principal = await find_principal(self.keys, scope, headers)
        except DatabaseError:
            return None
        if (principal is None or not self.reads.may_read(plan, principal)
                or rate_wait(self.limiter, principal) > 0):
            return None
        return principal


# The request headers the front door reads; the rest are the stack's.
READ_HEADERS = frozenset({b"host", b"content-type", b"content-length", b"authorization",
                          b"x-api-key", b"x-request-id", b"accept", b"origin"})


def _headers(scope: Scope) -> dict[str, str]:
    """Those headers in one pass (the first of repeated ones, as Starlette's Headers.get)."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name in READ_HEADERS:
            found.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return found


def _replaying(raw: bytes, complete: bool, receive: Receive) -> Receive:
    """`receive` with the body the front door read (all of it, or the part it read) put back
    in front."""
    pending = [{"type": "http.request", "body": raw, "more_body": not complete}]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


async def _respond(send: Send, body: bytes, media_type: str, request_id: str) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-length", str(len(body)).encode()),
        (b"content-type", media_type.encode()),
        (b"x-request-id", request_id.encode())]})
    await send({"type": "http.response.body", "body": body})
