"""graphql-transport-ws with the HTTP path's rate limit: each operation takes a token.

The handshake of a WebSocket authenticated by header is charged like an HTTP request (one
token, api/http/auth_middleware.py); after that, every `subscribe` message (a subscription, a
query or a mutation) takes one more from the same per-key bucket. An operation over the limit
is answered with an `error` message for its id (code RATE_LIMITED, `retryAfter` seconds); the
connection stays open.
"""

from __future__ import annotations

import math
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from idgraph.api.http.auth_middleware import key_wait
from idgraph.api.http.ratelimit import RateLimiter


class RateLimitedTransportWS(BaseGraphQLTransportWSHandler[Any, Any]):
    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limiter: RateLimiter | None = getattr(self.view, "limiter", None)
        key_id = getattr(self.context, "key_id", None)
        if (self.connection_acknowledged and limiter is not None and key_id is not None
                and message["id"] not in self.operations):
            wait = key_wait(limiter, key_id)
            if wait > 0:
                return await self._refuse(message["id"], wait)
        await super().handle_subscribe(message)

    async def _refuse(self, operation_id: str, wait: float) -> None:
        retry = min(math.ceil(wait), 86_400)
        await self.send_message({"id": operation_id, "type": "error", "payload": [{
            "message": f"Rate limit exceeded for this API key; retry in {retry} s.",
            "extensions": {"code": "RATE_LIMITED", "retryAfter": retry}}]})
