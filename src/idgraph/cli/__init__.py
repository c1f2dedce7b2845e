"""The `idgraph` command: serve the API, manage the local Neo4j, ingest files, demo data,
explorations, exports, imported audiences, and run and follow jobs. One module per group of
commands; this one puts them together."""

from __future__ import annotations

import sys

import typer

from idgraph.cli import data, exports, maintenance, server
from idgraph.cli.audience import audience_app
from idgraph.cli.server import serve_settings

app = typer.Typer(help="idgraph: customer identity graph service on Neo4j.", no_args_is_help=True)
app.command()(server.serve)
app.command()(data.ingest)
app.command()(data.settle)
app.command()(data.cypher)
app.command("export")(exports.export)
app.add_typer(server.neo4j_app, name="neo4j")
app.add_typer(server.schema_app, name="schema")
app.add_typer(data.demo_app, name="demo")
app.add_typer(maintenance.profiles_app, name="profiles")
app.add_typer(maintenance.secrets_app, name="secrets")
app.add_typer(maintenance.jobs_app, name="jobs")
app.add_typer(audience_app, name="audience")


def main() -> None:  # pragma: no cover - entry point convenience
    sys.exit(app())


__all__ = ["app", "main", "serve_settings"]
