"""Strawberry's ASGI GraphQL app, made to follow the GraphQL-over-HTTP spec.

- Responses use the media type the client accepts: application/graphql-response+json when
  asked for, else application/json.
- A request error (the document did not parse or validate, or variables did not coerce, so
  nothing executed) has no `data` entry, and is HTTP 400 under graphql-response+json (200
  under application/json, as the spec says for that legacy type).
- Mutations over GET are refused with 405; malformed requests get 400 with a JSON body, also
  when the JSON is beyond what Python reads (not UTF-8, nested past the recursion limit, an
  integer of over 4,300 digits): a POST body, GET's `variables`, and a WebSocket message
  (closed with 4400) alike.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult, SubscriptionExecutionResult
from strawberry.types.unset import UNSET

from idgraph.api.graphql.context import Context
from idgraph.api.graphql.fast_reads import FastProfileReads
from idgraph.api.graphql.limits import CachedValidation
from idgraph.api.graphql.schema import build_schema
from idgraph.api.http.auth_middleware import key_wait
from idgraph.api.http.metrics import Metrics
from idgraph.api.http.pages import page
from idgraph.api.http.ratelimit import RateLimiter
from idgraph.api.http.responses import error_response
from idgraph.api.http.websocket import RateLimitedTransportWS
from idgraph.auth.service import ApiKeyService
from idgraph.config import Settings
from idgraph.services import Services

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"


@functools.lru_cache(maxsize=256)
def preferred_media_type(accept: str) -> str:
    """graphql-response+json when the client ranks it at least as high as JSON (cached: a
    client sends the same Accept header every time)."""
    ranks: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = next((_q(p) for p in params if p.startswith("q=")), 1.0)
        ranks[media.lower()] = max(quality, ranks.get(media.lower(), 0.0))
    json_rank = max(ranks.get(JSON, 0.0), ranks.get("*/*", 0.0), ranks.get("application/*", 0.0))
    wanted = ranks.get(GRAPHQL_RESPONSE_JSON, 0.0)
    return GRAPHQL_RESPONSE_JSON if wanted > 0 and wanted >= json_rank else JSON


def _q(param: str) -> float:
    try:
        return float(param[2:])
    except ValueError:
        return 0.0


def _json_post(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return request.method == "POST" and content_type.split(";")[0].strip() == JSON


def is_request_error(result: Any) -> bool:
    # Errors raised before execution carry no path; executed ones always have one.
    return result.data is None and bool(result.errors) and all(
        error.path is None for error in result.errors)


class IdgraphGraphQL(GraphQL[Context, None]):
    # graphql-transport-ws with a rate token per operation (api/http/websocket.py)
    graphql_transport_ws_handler_class = RateLimitedTransportWS

    def __init__(self, services: Services, settings: Settings | None = None,
                 api_keys: ApiKeyService | None = None, metrics: Metrics | None = None,
                 failures: RateLimiter | None = None,
                 limiter: RateLimiter | None = None) -> None:
        settings = settings or services.settings
        super().__init__(build_schema(settings),
                         graphql_ide="graphiql" if settings.graphiql else None,
                         subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
                         allowed_origins=settings.cors_origin_list())
        self.services = services
        self.api_keys = api_keys
        self.metrics = metrics
        self.failures = failures  # failed authentications per address (api/ratelimit.py)
        self.limiter = limiter  # requests per key: a WebSocket's operations take tokens too
        self.fast_reads = FastProfileReads(
            services, self.schema, metrics, CachedValidation.validation_of, settings,
            profile_reads=settings.fast_profile_reads, bulk_resolve=settings.fast_bulk_resolve,
            ingest=settings.fast_ingest,
        ) if (settings.fast_profile_reads or settings.fast_bulk_resolve
              or settings.fast_ingest) else None

    async def get_context(self, request: Request | WebSocket,
                          response: Response | WebSocket | None = None) -> Context:
        state = request.scope.get("state", {})
        principal = state.get("principal")
        context = Context(services=self.services, request=request, response=response,
                          role=principal.role if principal else None,
                          key_id=principal.key_id if principal else None,
                          api_keys=self.api_keys, metrics=self.metrics,
                          per_connection=isinstance(request, WebSocket))
        if state.get("request_id"):
            context.request_id = state["request_id"]
        return context

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL from idgraph's own static files, not strawberry's CDN page (api/http/pages)."""
        return page("graphiql")

    async def on_ws_connect(self, context: Context) -> Any:
        """Accept a WebSocket authenticated by header, or by `apiKey` in connection_init."""
        if context.role is not None:
            return UNSET
        key = (context.connection_params or {}).get("apiKey")
        principal = await self.api_keys.authenticate(  # type: ignore[union-attr]  # the app's
            key) if isinstance(key, str) else None
        if principal is None:
            # A WebSocket's context always has its request (the `type: ignore`s).
            if self.failures is not None and context.request.client is not None:  # type: ignore[union-attr]
                self.failures.take(context.request.client.host)  # type: ignore[union-attr]
            raise ConnectionRejectionError({"message": "Missing or unknown API key.",
                                            "code": "UNAUTHENTICATED"})
        # The handshake takes a rate token, as one authenticated by header does.
        if self.limiter is not None and key_wait(self.limiter, principal.key_id) > 0:
            raise ConnectionRejectionError({"message": "Rate limit exceeded for this API key.",
                                            "code": "RATE_LIMITED"})
        context.role, context.key_id = principal.role, principal.key_id
        return UNSET

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        request = Request(scope, receive)
        if self.fast_reads is not None and _json_post(request):
            media_type = preferred_media_type(request.headers.get("accept", ""))
            response = await self.fast_reads.serve(request, media_type)
            if response is not None:
                return await response(scope, receive, send)
        try:
            response = await self.run(request)
        except HTTPException as exc:
            headers = {"Allow": "GET, POST"} if exc.status_code == 405 else None
            response = error_response(exc.status_code, exc.reason, "BAD_REQUEST", headers,
                                      preferred_media_type(request.headers.get("accept", "")))
        await response(scope, receive, send)

    async def execute_operation(
            self, request: Request, request_adapter: AsyncHTTPRequestAdapter, *args: Any,
            **kwargs: Any) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        try:
            return await super().execute_operation(request, request_adapter, *args, **kwargs)
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                raise HTTPException(405, "Only queries may be sent with GET; use POST.") from exc
            raise

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return self.decode_json(data)
        except json.JSONDecodeError as exc:
            raise HTTPException(400, f"Unable to parse request body as JSON: {exc.msg}.") from exc

    def decode_json(self, data: str | bytes) -> object:
        """json.loads, with everything it raises on bad input made a JSONDecodeError (which
        strawberry answers with 400, or on a WebSocket with close code 4400), never a 500."""
        return decode_json(data)

    async def parse_http_body(self, request_adapter: AsyncHTTPRequestAdapter
                              ) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request_adapter)
        for item in data if isinstance(data, list) else [data]:
            if not isinstance(item.operation_name, str | None):
                raise HTTPException(400, "`operationName` must be a string or null.")
        return data

    async def process_result(self, request: Request, result: Any) -> GraphQLHTTPResponse:
        body = process_result(result)
        media_type = preferred_media_type(request.headers.get("accept", ""))
        sub_response = request.scope["state"].get("graphql_sub_response")
        if sub_response is not None:
            sub_response.headers["content-type"] = media_type
        if is_request_error(result):
            body.pop("data", None)
            if media_type == GRAPHQL_RESPONSE_JSON and sub_response is not None:
                sub_response.status_code = 400
        return body

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        request.scope.setdefault("state", {})["graphql_sub_response"] = sub_response
        return sub_response

    def create_response(self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
                        sub_response: Response) -> Response:
        media_type = sub_response.headers.get("content-type", JSON)
        if "content-type" in sub_response.headers:
            del sub_response.headers["content-type"]  # else the response would carry it twice
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = media_type
        return response


def decode_json(data: str | bytes) -> object:
    try:
        return json.loads(data)
    except json.JSONDecodeError:
        raise
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("the body is not UTF-8", "", exc.start) from exc
    except RecursionError as exc:
        raise json.JSONDecodeError("nested too deeply", "", 0) from exc
    except ValueError as exc:  # an integer of over 4,300 digits (int_max_str_digits)
        raise json.JSONDecodeError("a number has too many digits", "", 0) from exc


def build_graphql_app(services: Services, settings: Settings | None = None,
                      api_keys: ApiKeyService | None = None, metrics: Metrics | None = None,
                      failures: RateLimiter | None = None,
                      limiter: RateLimiter | None = None) -> IdgraphGraphQL:
    return IdgraphGraphQL(services, settings, api_keys, metrics, failures, limiter)

