"""`idgraph neo4j start|stop|status`, `idgraph serve` and `idgraph schema export`: the managed
local Neo4j, the API, and its schema as a file."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import typer

from idgraph.cli.common import check_attribute_schema, err, fail
from idgraph.config import Settings
from idgraph.db import local_server
from idgraph.db.connect import local_server_config
from idgraph.db.errors import DatabaseError
from idgraph.db.local_auth import password_path

neo4j_app = typer.Typer(help="The managed local Neo4j (used when NEO4J_URI is unset).",
                        no_args_is_help=True)
schema_app = typer.Typer(help="The GraphQL schema as a file.", no_args_is_help=True)


@neo4j_app.command("start")
def neo4j_start() -> None:
    """Start the managed Neo4j (or reuse the running one); prints the Bolt URI last."""
    cfg = local_server_config(Settings())
    try:
        uri = local_server.start(cfg, log=err)
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    if note := local_server.browser_banner(cfg):
        err(note)
    typer.echo(uri)


@neo4j_app.command("stop")
def neo4j_stop() -> None:
    """Stop the managed Neo4j; no Java process is left behind."""
    stopped = local_server.stop(local_server_config(Settings()))
    typer.echo("stopped" if stopped else "not running")


@neo4j_app.command("status")
def neo4j_status() -> None:
    """Report running / stopped / crashed (exit code 0 only when running), and the login."""
    cfg = local_server_config(Settings())
    state = local_server.status(cfg)
    pid = f" (pid {state.pid})" if state.pid else ""
    detail = f": {state.detail}" if state.detail else ""
    typer.echo(f"{state.state}{pid} {state.uri}{detail}")
    if cfg.auth is not None:
        user, password = cfg.auth
        typer.echo(f"user {user} password {password} (kept in {password_path(cfg.home)})")
    if state.state == "running" and (note := local_server.browser_banner(cfg)):
        typer.echo(note)
    raise typer.Exit(0 if state.state == "running" else 3)


def serve(
    host: str = typer.Option(None, help="Interface to bind (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port to bind (default 8000)."),
    demo: bool = typer.Option(False, help="Load the small demo dataset before serving; turns "
                              "open loopback mode on unless IDGRAPH_OPEN_LOOPBACK is set."),
    workers: int = typer.Option(1, min=1, help="API processes sharing the port (about one per "
                                "core; docs/scaling.md). Each takes its share of the rate "
                                "limits; subscriptions, jobs and schedules are shared."),
) -> None:
    """Serve the GraphQL API (starting the managed Neo4j when NEO4J_URI is unset)."""
    import uvicorn

    from idgraph.api.http.app import create_app, uvicorn_options
    from idgraph.api.http.logs import configure_logging
    from idgraph.db.connect import graph_for

    settings = serve_settings(demo)
    check_attribute_schema(settings)
    host = host or settings.host
    port = port or settings.port
    try:
        graph = graph_for(settings, log=err)
        if demo:
            from idgraph.demo import load_demo

            asyncio.run(load_demo(settings, graph, log=err))
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    err(f"GraphiQL: http://{host}:{port}/graphql   Profile explorer: "
         f"http://{host}:{port}/explore   (Neo4j: {graph.uri})")
    if not settings.neo4j_uri and (note := local_server.browser_banner(
            local_server_config(settings))):
        err(note)
    err('Try:  { profile(identity: {namespace: "email", value: "Jane.Doe@Example.com "}) '
         "{ id primaryIdentity { namespace value } identities { namespace value } attributes "
         "computed { name value } } }")
    configure_logging(settings.log_format)
    # Our handlers, not uvicorn's: log_config=None, and no uvicorn access line (ours has the
    # request id, status and duration). On SIGTERM uvicorn stops accepting, lets in-flight
    # requests finish (up to the grace period), then runs the lifespan shutdown. WebSocket
    # messages get the same size limit as request bodies.
    options = {"host": host, "port": port, "log_config": None, "access_log": False,
               "timeout_graceful_shutdown": 20, "ws_max_size": settings.max_body_bytes,
               **uvicorn_options(settings)}
    if workers == 1:
        uvicorn.run(create_app(settings, graph), **options)
        return
    # Several processes: each builds its app from the environment (uvicorn imports the
    # factory in each), so what this command decided travels there.
    _export_for_workers(settings, workers)
    uvicorn.run("idgraph.api.http.app:create_worker_app", factory=True, workers=workers, **options)


def _export_for_workers(settings: Settings, workers: int) -> None:
    """Settings `serve` derived (open loopback for --demo, the rate limits' share) as the
    variables each worker process reads."""
    os.environ["IDGRAPH_OPEN_LOOPBACK"] = "true" if settings.open_loopback else "false"
    if "api_processes" not in settings.model_fields_set:
        os.environ["IDGRAPH_API_PROCESSES"] = str(workers)


def serve_settings(demo: bool) -> Settings:
    """The settings `serve` runs with: `--demo` turns open loopback mode on unless
    IDGRAPH_OPEN_LOOPBACK says otherwise."""
    settings = Settings()
    if demo and "open_loopback" not in settings.model_fields_set:
        settings = settings.model_copy(update={"open_loopback": True})
    return settings


@schema_app.command("export")
def schema_export(
    output: str = typer.Option("schema.graphql", help="File to write ('-' for stdout)."),
) -> None:
    """Write the GraphQL schema (SDL) generated from the code; tests compare it to the file."""
    from idgraph.api.graphql.schema import build_schema

    text = build_schema().as_str() + "\n"
    if output == "-":
        typer.echo(text, nl=False)
        return
    Path(output).write_text(text)
    err(f"wrote {output}")
