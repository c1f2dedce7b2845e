"""The ASGI application: GraphQL at /graphql, health at /healthz and /readyz, one Neo4j driver."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from idgraph.api.http import pages
from idgraph.api.http.auth_middleware import AuthMiddleware, find_principal, presented_key
from idgraph.api.http.front_door import FrontDoor
from idgraph.api.http.graphql_app import build_graphql_app
from idgraph.api.http.hosts import HostCheck, HostCheckMiddleware
from idgraph.api.http.metrics import Metrics, metrics_endpoint
from idgraph.api.http.middleware import BodyLimitMiddleware, RequestIdMiddleware
from idgraph.api.http.ratelimit import RateLimiter
from idgraph.auth.roles import Role
from idgraph.auth.service import ApiKeyService
from idgraph.collector import bulk_collection
from idgraph.config import Settings
from idgraph.db.errors import DatabaseError
from idgraph.db.graph import Graph
from idgraph.db.schema import apply_schema, schema_is_current
from idgraph.services import Services

log = logging.getLogger("idgraph.api")


def create_app(settings: Settings | None = None, graph: Graph | None = None) -> Starlette:
    """Build the app; `graph` defaults to the configured server (never started at import)."""
    settings = settings or Settings()
    if graph is None:
        from idgraph.db.connect import graph_for

        graph = graph_for(settings, start_local=False)
    services = Services.build(settings, graph)
    api_keys = ApiKeyService(graph, settings.api_keys.get_secret_value(),
                             settings.api_key_cache_seconds, open_loopback=settings.open_loopback)
    hosts = HostCheck(settings.allowed_host_list(), api_keys)
    metrics = Metrics(graph)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await _apply_schema_if_reachable(graph)
        await announce_access_mode(api_keys, settings)
        await _recover_jobs(services)
        services.segments.scheduler.start()
        services.activation.scheduler.start()
        services.settler.start()
        with bulk_collection():  # rarer full collections of what the process holds
            yield
        await services.settler.stop()  # an entry being settled rolls back and waits
        await services.activation.scheduler.stop()
        await services.segments.scheduler.stop()
        await services.jobs.close()  # jobs still running stay resumable
        await services.changes.close()
        await graph.close()  # after uvicorn has finished in-flight requests

    # Failed authentications per client address: counted by the middleware (headers) and by
    # the GraphQL app (a WebSocket's connection_init), refused by the middleware.
    failures = RateLimiter.share(settings.auth_failures_per_minute, settings.auth_failure_burst,
                                 settings.api_processes)
    limiter = RateLimiter.share(settings.rate_limit_per_minute, settings.rate_limit_burst,
                                settings.api_processes)
    graphql = build_graphql_app(services, settings, api_keys, metrics, failures, limiter)
    app = IdgraphApp(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *pages.routes(),
        ],
        middleware=_middleware(settings, api_keys, hosts, metrics, failures, limiter),
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.metrics = metrics
    app.state.api_keys = api_keys
    app.state.failures = failures
    app.state.graphql = graphql
    if graphql.fast_reads is not None:
        app.front_door = FrontDoor(
            functools.partial(Starlette.__call__, app), reads=graphql.fast_reads, keys=api_keys,
            limiter=limiter, failures=failures, metrics=metrics, hosts=hosts,
            max_body_bytes=settings.max_body_bytes, cors=bool(settings.cors_origin_list()))
    return app


def create_worker_app() -> Starlette:
    """The app of one of `idgraph serve --workers N`'s processes (uvicorn's factory): settings
    from the environment, logging set up as in the single process."""
    from idgraph.api.http.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_format)
    return create_app(settings)


class IdgraphApp(Starlette):
    """Starlette with the front door (api/front_door.py) before all of it, Starlette's own
    error layer included: the hot profile read passes no layer it does not need."""

    front_door: FrontDoor | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front_door is None:
            return await super().__call__(scope, receive, send)
        await self.front_door(scope, receive, send)


def _middleware(settings: Settings, api_keys: ApiKeyService, hosts: HostCheck,
                metrics: Metrics, failures: RateLimiter, limiter: RateLimiter
                ) -> list[Middleware]:
    """Outermost first: ids for everything, the Host check, CORS before auth (so browsers can
    read a 401)."""
    stack = [Middleware(RequestIdMiddleware, metrics=metrics),
             Middleware(HostCheckMiddleware, check=hosts)]
    if origins := settings.cors_origin_list():
        stack.append(Middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", "x-api-key", "x-request-id"],
            expose_headers=["x-request-id", "retry-after"], max_age=600))
    stack += [Middleware(AuthMiddleware, keys=api_keys, limiter=limiter, failures=failures,
                         ide=settings.graphiql),
              Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)]
    return stack


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn treats proxy headers: trusted only from IDGRAPH_FORWARDED_ALLOW_IPS (uvicorn
    by default trusts 127.0.0.1, so a proxy on the same host would pass its clients' addresses
    on unchecked, or, without the header, make them all loopback)."""
    trusted = settings.forwarded_allow_ips.strip()
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None}


async def announce_access_mode(api_keys: ApiKeyService, settings: Settings) -> None:
    """Log at start-up who will be served: the access decision is explicit."""
    try:
        await api_keys.open_to_loopback()  # ends open mode now when a key is stored
        no_keys: bool | None = await api_keys.no_keys()
    except DatabaseError:
        no_keys = None  # unknown until Neo4j answers; each request asks again
    if api_keys.open_mode:
        names = ", ".join(sorted(HostCheck.served_in_open_mode(settings.allowed_host_list())))
        log.warning("Open loopback mode (IDGRAPH_OPEN_LOOPBACK=true, no API key): clients "
                    "connecting from this machine with Host %s are served as admins, without "
                    "rate limits; every other client gets HTTP 401. The mode ends for good once "
                    "an API key exists. Never run it behind a proxy.", names)
    elif settings.open_loopback:
        log.warning("IDGRAPH_OPEN_LOOPBACK=true is ignored: API keys are configured.")
    elif no_keys:
        log.warning("No API key configured (IDGRAPH_API_KEYS, none stored) and open loopback "
                    "mode is off: every request to /graphql and /metrics gets HTTP 401. Set "
                    "IDGRAPH_API_KEYS=<key>:admin, or IDGRAPH_OPEN_LOOPBACK=true for local "
                    "development.")


async def _apply_schema_if_reachable(graph: Graph) -> None:
    try:
        applied = await apply_schema(graph)
        if applied:
            log.info("applied schema migrations: %s", ", ".join(applied))
    except DatabaseError as exc:
        # Start anyway: /readyz reports the cause and applies the schema once Neo4j is back.
        log.warning("Neo4j not ready at start-up (%s); /readyz will retry", exc)


async def _recover_jobs(services: Services) -> None:
    """Jobs a stopped process left behind become failed, so they can be resumed."""
    try:
        interrupted = await services.jobs.mark_interrupted()
    except DatabaseError:
        return
    if interrupted:
        log.warning("jobs interrupted by the last stop (resume them): %s",
                    ", ".join(interrupted))


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready or not for anyone; why not (the Neo4j address, the error) only for operators
    (an analyst or admin key) and the logs."""
    graph: Graph = request.app.state.services.graph
    try:
        await graph.ping()
        if not await schema_is_current(graph):
            await apply_schema(graph)
    except DatabaseError as exc:
        log.warning("not ready: %s", exc)
        body = {"status": "unavailable"}
        if await _is_operator(request):
            body["reason"] = str(exc)
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ready"})


async def _is_operator(request: Request) -> bool:
    """Whether the caller's key (or open loopback mode) is an analyst's or admin's; an unknown
    key counts against the address's failed authentications, as on /graphql."""
    failures: RateLimiter = request.app.state.failures
    address = request.client.host if request.client else "-"
    if failures.wait(address) > 0:
        return False
    try:
        principal = await find_principal(request.app.state.api_keys, request.scope,
                                         request.headers)
    except DatabaseError:
        return False  # a stored key cannot be checked while Neo4j is away
    if principal is None:
        if presented_key(request.headers) is not None:
            failures.take(address)
        return False
    return principal.role in (Role.ANALYST, Role.ADMIN)
