"""The Host header check, before anything else answers.

With IDGRAPH_ALLOWED_HOSTS set, only those names are served ("*": any). In open loopback mode
(no API key, loopback clients are admins) the loopback names and the listed ones are, never
any: a web page on another site that re-points its own name at 127.0.0.1 (DNS rebinding)
sends requests with its own name, and is refused.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from idgraph.api.http.responses import error_response
from idgraph.auth.service import ApiKeyService

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def host_name(header: str) -> str:
    """A Host header's name without its port, in lower case ("[::1]:8000" -> "[::1]")."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        return header[:end + 1] if end > 0 else header
    return header.partition(":")[0]


class HostCheck:
    """Which Host headers are served: the `allowed` names ("*" or none: any); while open
    loopback mode holds, the loopback names and the `allowed` ones."""

    def __init__(self, allowed: list[str], keys: ApiKeyService) -> None:
        self.allowed = frozenset(allowed)
        self.keys = keys

    @staticmethod
    def served_in_open_mode(allowed: list[str] | frozenset[str]) -> frozenset[str]:
        return (frozenset(allowed) - {"*"}) | LOOPBACK_HOSTS

    def allows(self, header: str | None) -> bool:
        names = self.allowed
        if self.keys.open_mode:
            names = self.served_in_open_mode(names)
        elif not names or "*" in names:
            return True
        return host_name(header or "") in names


class HostCheckMiddleware:
    """Refuses a request whose Host header is not served: HTTP 400 (a WebSocket's handshake:
    403)."""

    def __init__(self, app: ASGIApp, check: HostCheck) -> None:
        self.app = app
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        host = Headers(scope=scope).get("host")
        if self.check.allows(host):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        shown = (host or "")[:100]
        await error_response(400, f"Host {shown!r} is not served here; the operator lists the "
                             "names it answers to in IDGRAPH_ALLOWED_HOSTS.",
                             "HOST_NOT_ALLOWED")(scope, receive, send)
