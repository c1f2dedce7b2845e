"""The ASGI application: GraphQL at /graphql, health at /healthz and /readyz, one Neo4j driver."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from idgraph.api.graphql_app import build_graphql_app
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

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await _apply_schema_if_reachable(graph)
        yield
        await graph.close()  # after uvicorn has finished in-flight requests

    graphql = build_graphql_app(services)
    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
        ],
        lifespan=lifespan,
    )
    app.state.services = services
    return app


async def _apply_schema_if_reachable(graph: Graph) -> None:
    try:
        applied = await apply_schema(graph)
        if applied:
            log.info("applied schema migrations: %s", ", ".join(applied))
    except DatabaseError as exc:
        # Start anyway: /readyz reports the cause and applies the schema once Neo4j is back.
        log.warning("Neo4j not ready at start-up (%s); /readyz will retry", exc)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    graph: Graph = request.app.state.services.graph
    try:
        await graph.ping()
        if not await schema_is_current(graph):
            await apply_schema(graph)
    except DatabaseError as exc:
        return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
    return JSONResponse({"status": "ready"})
