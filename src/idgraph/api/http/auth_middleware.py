"""Authentication and per-key rate limits, before any GraphQL runs.

No key (or an unknown one): HTTP 401. Over the key's rate: HTTP 429 with Retry-After; the same
for an address past its allowance of failed authentications (its keys are then not looked up,
so guessing keys cannot load the database). With
no key configured at all, every request gets 401 saying how to configure one, unless open
loopback mode was asked for at start-up (IDGRAPH_OPEN_LOOPBACK): then keyless loopback clients
are served as admins (not rate limited) until a key exists. A WebSocket without a key header may
still send one in its connection_init payload.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

from starlette.datastructures import Headers, QueryParams
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from idgraph.api.http.ratelimit import RateLimiter
from idgraph.api.http.responses import error_response
from idgraph.auth.keys import Principal, is_loopback
from idgraph.auth.roles import Role
from idgraph.auth.service import ApiKeyService
from idgraph.db.errors import DatabaseError

log = logging.getLogger("idgraph.api.auth")
PROTECTED = frozenset({"/graphql", "/metrics"})
# Set only by the front door (server side: no client can put anything in a scope).
FRONT_DOOR_PRINCIPAL = "front_door_principal"
LOOPBACK_ADMIN = Principal("loopback", Role.ADMIN, "loopback (open loopback mode)")
UNKNOWN_KEY_MESSAGE = "Missing or unknown API key: send `Authorization: Bearer <key>`."
NO_KEYS_MESSAGE = (
    "No API key is configured on this server: start it with IDGRAPH_API_KEYS=<key>:admin and "
    "send `Authorization: Bearer <key>` (then create keys with the createApiKey mutation), "
    "or, for local development only, with IDGRAPH_OPEN_LOOPBACK=true.")


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return headers.get("x-api-key", "").strip() or None


async def find_principal(keys: ApiKeyService, scope: Scope,
                         headers: Mapping[str, str]) -> Principal | None:
    """Who sends this request: the presented key's principal, the loopback admin in open
    loopback mode (the peer address is loopback; proxy headers are trusted only when
    configured, IDGRAPH_FORWARDED_ALLOW_IPS; the Host was checked first, api/http/hosts.py),
    else None."""
    key = presented_key(headers)
    if key is not None:
        return await keys.authenticate(key)
    client = scope.get("client")
    if client and is_loopback(client[0]) and await keys.open_to_loopback():
        return LOOPBACK_ADMIN
    return None


def rate_wait(limiter: RateLimiter, principal: Principal) -> float:
    """0 when the principal may send this request (a token is spent), else seconds to wait."""
    return key_wait(limiter, principal.key_id)


def key_wait(limiter: RateLimiter, key_id: str) -> float:
    """`rate_wait` by key id (a WebSocket operation's context has the id, not the principal);
    open loopback mode is not rate limited."""
    return 0.0 if key_id == LOOPBACK_ADMIN.key_id else limiter.take(key_id)


def is_ide_page(scope: Scope, headers: Headers) -> bool:
    """A request strawberry answers with the GraphiQL page (static, no data; the page's own
    requests carry the key). Decided as strawberry decides it, on the decoded parameters:
    `?%71uery=...` is a query."""
    accept = headers.get("accept", "")
    return (scope.get("method") == "GET" and scope["path"] == "/graphql"
            and ("text/html" in accept or "*/*" in accept)
            and "query" not in QueryParams(scope.get("query_string", b"")))


def _too_many(wait: float, reason: str) -> Response:
    retry = str(min(math.ceil(wait), 86_400))
    return error_response(429, f"{reason}; retry in {retry} s.", "RATE_LIMITED",
                          {"Retry-After": retry})


class AuthMiddleware:
    def __init__(self, app: ASGIApp, keys: ApiKeyService, limiter: RateLimiter,
                 failures: RateLimiter, ide: bool = True) -> None:
        self.app = app
        self.ide = ide  # GraphiQL is served (IDGRAPH_GRAPHIQL): its page needs no key
        self.keys = keys
        self.limiter = limiter
        self.failures = failures  # failed authentications, per client address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] not in PROTECTED:
            return await self.app(scope, receive, send)
        state = scope.setdefault("state", {})
        if (checked := state.get(FRONT_DOOR_PRINCIPAL)) is not None:
            # Authenticated and charged by the front door (api/front_door.py), which passed
            # the request on: not a second key lookup or rate token.
            state["principal"] = checked
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        if scope.get("method") == "OPTIONS" or (self.ide and is_ide_page(scope, headers)):
            return await self.app(scope, receive, send)
        address = (scope.get("client") or ("-",))[0]
        if (wait := self.failures.wait(address)) > 0:
            return await self._refuse(scope, receive, send, _too_many(
                wait, "Too many failed authentications from this address"))
        try:
            principal = await find_principal(self.keys, scope, headers)
        except DatabaseError as exc:
            log.warning("cannot check API keys: %s", exc)
            return await self._refuse(scope, receive, send, error_response(
                503, "Cannot check API keys: Neo4j is unreachable; retry shortly.",
                "DATABASE_UNAVAILABLE", {"Retry-After": "5"}))
        if principal is None and scope["type"] == "websocket":
            # Browsers cannot set headers on WebSockets: the key may come in connection_init
            # instead, checked by the GraphQL app (IdgraphGraphQL.on_ws_connect).
            return await self.app(scope, receive, send)
        if principal is None:
            self.failures.take(address)
            return await self._refuse(scope, receive, send, error_response(
                401, await self._why_unauthenticated(headers), "UNAUTHENTICATED",
                {"WWW-Authenticate": 'Bearer realm="idgraph"'}))
        wait = rate_wait(self.limiter, principal)
        if wait > 0:
            return await self._refuse(scope, receive, send, _too_many(
                wait, "Rate limit exceeded for this API key"))
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _why_unauthenticated(self, headers: Headers) -> str:
        """The 401 message: what to do, including when no key exists at all."""
        try:
            none = presented_key(headers) is None and await self.keys.no_keys()
        except DatabaseError:
            none = False
        return NO_KEYS_MESSAGE if none else UNKNOWN_KEY_MESSAGE

    async def _refuse(self, scope: Scope, receive: Receive, send: Send,
                      response: Response) -> None:
        if scope["type"] == "websocket":
            # Closing before accepting makes the server answer the handshake with 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        await response(scope, receive, send)
