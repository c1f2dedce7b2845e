"""The `idgraph` command: serve the API, manage the local Neo4j, ingest files, demo data,
explorations, exports, imported audiences, and run and follow jobs. One module per group of
commands; this one puts them together."""

from __future__ import annotations

import contextlib
import logging
import os
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


def main() -> None:
    """The `idgraph` command: `app`, then out of the process without the interpreter's
    teardown. Freeing every imported module and object one by one took 0.13-0.3 s after each
    command had finished, about 4% of a 6 s file ingest (bench/results/scale-1000000.md,
    session 21). Everything a command opens is closed by the command itself; output and logs
    are flushed here. Errors other than an exit (a traceback) leave the normal way."""
    try:
        app()
        code: int | str | None = 0
    except SystemExit as exit_:
        code = exit_.code
    exit_now(code)


def exit_now(code: int | str | None) -> None:
    """End the process as `sys.exit(code)` would, skipping the teardown."""
    if isinstance(code, str):  # sys.exit("message"): the message on stderr, status 1
        print(code, file=sys.stderr)
    status = code if isinstance(code, int) else (0 if code is None else 1)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken pipe
            stream.flush()
    os._exit(status)


__all__ = ["app", "main", "serve_settings"]
