"""What every `idgraph` command shares: failing with a clear message, the configured Neo4j
made ready, the services on it, a job's progress bar."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import typer

from idgraph.config import Settings

if TYPE_CHECKING:  # imported where used: the command starts fast
    from idgraph.db.graph import Graph
    from idgraph.jobs.service import Job
    from idgraph.services import Services


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg="red", err=True)
    return typer.Exit(code)


def err(message: str) -> None:
    typer.echo(message, err=True)


def check_attribute_schema(settings: Settings) -> None:
    """Fail before anything starts when the attribute schema file cannot be used."""
    from idgraph.profile.attributes import AttributeSchemaError, load_attribute_schema

    try:
        load_attribute_schema(settings.attributes_file)
    except AttributeSchemaError as exc:
        raise fail(f"{exc}. Fix the file, or unset IDGRAPH_ATTRIBUTES_FILE to use the shipped "
                   "one.") from exc


def finished(job: Job) -> None:
    if job.status.value == "failed":
        raise fail(f"job {job.id} failed: {job.error}; continue it with "
                   f"`idgraph jobs resume {job.id}`")


class JobBar:
    """A rich progress bar fed with a job's progress (no total: a running count)."""

    def __init__(self, description: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        # On stderr: stdout keeps only the result line, for scripts.
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeRemainingColumn(), transient=True,
                                 console=Console(stderr=True))
        self.task = self.progress.add_task(description, total=None)

    def __enter__(self) -> JobBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def show(self, job: Job) -> None:
        self.progress.update(self.task, completed=job.done, total=job.total)


@contextlib.asynccontextmanager
async def services_for(settings: Settings) -> AsyncIterator[Services]:
    from idgraph.services import Services

    async with ready_graph(settings) as graph:
        yield Services.build(settings, graph)


@contextlib.asynccontextmanager
async def ready_graph(settings: Settings) -> AsyncIterator[Graph]:
    """The configured Neo4j, checked reachable (fast failure) and with the schema applied."""
    from idgraph.db.connect import graph_for
    from idgraph.db.schema import apply_schema

    graph = graph_for(settings, log=err)
    try:
        await graph.verify()
        await apply_schema(graph)
        yield graph
    finally:
        await graph.close()
