"""The `idgraph` command: serve the API, manage the local Neo4j, ingest files."""

from __future__ import annotations

import asyncio
import sys

import typer

from idgraph.config import Settings
from idgraph.db import local_server
from idgraph.db.connect import local_server_config
from idgraph.db.errors import DatabaseError

app = typer.Typer(help="idgraph: customer identity graph service on Neo4j.", no_args_is_help=True)
neo4j_app = typer.Typer(help="The managed local Neo4j (used when NEO4J_URI is unset).",
                        no_args_is_help=True)
app.add_typer(neo4j_app, name="neo4j")


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg="red", err=True)
    return typer.Exit(code)


def _err(message: str) -> None:
    typer.echo(message, err=True)


@neo4j_app.command("start")
def neo4j_start() -> None:
    """Start the managed Neo4j (or reuse the running one); prints the Bolt URI last."""
    cfg = local_server_config(Settings())
    try:
        uri = local_server.start(cfg, log=_err)
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    typer.echo(uri)


@neo4j_app.command("stop")
def neo4j_stop() -> None:
    """Stop the managed Neo4j; no Java process is left behind."""
    stopped = local_server.stop(local_server_config(Settings()))
    typer.echo("stopped" if stopped else "not running")


@neo4j_app.command("status")
def neo4j_status() -> None:
    """Report running / stopped / crashed (exit code 0 only when running)."""
    state = local_server.status(local_server_config(Settings()))
    pid = f" (pid {state.pid})" if state.pid else ""
    detail = f": {state.detail}" if state.detail else ""
    typer.echo(f"{state.state}{pid} {state.uri}{detail}")
    raise typer.Exit(0 if state.state == "running" else 3)


@app.command()
def serve(
    host: str = typer.Option(None, help="Interface to bind (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port to bind (default 8000)."),
    demo: bool = typer.Option(False, help="Load the small demo dataset before serving."),
) -> None:
    """Serve the GraphQL API (starting the managed Neo4j when NEO4J_URI is unset)."""
    import uvicorn

    from idgraph.api.app import create_app
    from idgraph.db.connect import graph_for

    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    try:
        graph = graph_for(settings, log=_err)
        if demo:
            from idgraph.demo import load_demo

            asyncio.run(load_demo(settings, graph, log=_err))
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    _err(f"GraphiQL: http://{host}:{port}/graphql   (Neo4j: {graph.uri})")
    _err('Try:  { profile(identity: {namespace: "email", value: "Jane.Doe@Example.com "}) '
         "{ id primaryIdentity { namespace value } identities { namespace value } } }")
    uvicorn.run(create_app(settings, graph), host=host, port=port, log_level="info",
                timeout_graceful_shutdown=20)


def main() -> None:  # pragma: no cover - entry point convenience
    sys.exit(app())
