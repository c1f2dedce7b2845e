"""Plain ASGI middlewares: request ids with access logs and metrics, and the body size limit."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from idgraph.api.http.logs import request_id_var
from idgraph.api.http.metrics import Metrics
from idgraph.api.http.responses import error_response

access_log = logging.getLogger("idgraph.api.access")
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# Generated ids: a random prefix per process and a counter, unique across processes and cheap
# (a `secrets.token_hex` per request asked the kernel for randomness, 1% of a hot read's CPU).
# Request ids correlate logs; nothing relies on them being unguessable.
_ID_PREFIX = secrets.token_hex(8)
_ID_COUNTER = itertools.count(1)


def request_id_for(given: str) -> str:
    """The caller's X-Request-Id when it is sane, else a new one."""
    if given and SAFE_REQUEST_ID.fullmatch(given):
        return given
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


class RequestIdMiddleware:
    """Gives every request an id (the caller's X-Request-Id when sane), returns it in the
    X-Request-Id header, logs one access line and records the HTTP metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        state = scope.setdefault("state", {})
        # The front door may have given the request its id already (api/front_door.py).
        request_id = state.get("request_id") or request_id_for(
            Headers(scope=scope).get("x-request-id", ""))
        state["request_id"] = request_id
        token = request_id_var.set(request_id)
        status = [101 if scope["type"] == "websocket" else 500]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (b"x-request-id", request_id.encode())]
            await send(message)

        started = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.metrics.in_flight.dec()
            self._record(scope, status[0], time.perf_counter() - started)
            request_id_var.reset(token)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        record_request(self.metrics, scope, status, seconds)


def record_request(metrics: Metrics, scope: Scope, status: int, seconds: float) -> None:
    """The HTTP metrics and the access line of one request."""
    method = scope.get("method", "WS")
    metrics.observe_request(method, scope["path"], status, seconds)
    access_log.info("%s %s %s", method, scope["path"], status, extra={
        "method": method, "path": scope["path"], "status": status,
        "duration_ms": round(seconds * 1000, 2)})


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Refuses request bodies over `max_bytes` with HTTP 413, whether declared by
    Content-Length or streamed in chunks without one."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(scope, receive, send)
        received = [0]
        started = [False]

        async def counting_receive() -> Message:
            message = await receive()
            received[0] += len(message.get("body", b""))
            if received[0] > self.max_bytes:
                raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            started[0] = started[0] or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started[0]:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, f"The request body exceeds the limit of {self.max_bytes} bytes.",
            "PAYLOAD_TOO_LARGE")
        await response(scope, receive, send)
