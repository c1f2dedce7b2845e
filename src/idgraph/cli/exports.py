"""`idgraph export`: a segment's members (or every profile) to a file, a URL or a stored
destination, as a job with a progress bar and a summary."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import typer

from idgraph.cli.common import JobBar, fail, finished, services_for
from idgraph.config import Settings
from idgraph.db.errors import DatabaseError
from idgraph.errors import IdgraphError

if TYPE_CHECKING:  # imported where used: the command starts fast
    from idgraph.jobs.service import Job


def export(
    to: str | None = typer.Option(None, "--to", help="A path or fsspec URL (s3://, gs://, "
                                  "az://, memory://); may hold {segment} {run} {time} {mode}."),
    segment: str | None = typer.Option(None, help="A segment's id; left out: every profile, "
                                       "with its segments (reporting/BI)."),
    fmt: str | None = typer.Option(None, "--format", help="csv, jsonl or parquet (default: "
                                   "from the extension)."),
    incremental: bool = typer.Option(False, "--incremental/--full", help="Only realized and "
                                     "exited since the last successful export to this place."),
    namespace: list[str] = typer.Option([], "--namespace", "-n", help="An identity namespace "
                                        "to send (repeat; default: all)."),
    attribute: list[str] = typer.Option([], "--attribute", "-a", help="An attribute path to "
                                        "send (repeat)."),
    destination: str | None = typer.Option(None, help="A stored destination's id instead of "
                                           "--to (e.g. an HTTP endpoint)."),
    activation: str | None = typer.Option(None, help="Run a stored activation (its segment, "
                                          "destination, identities and attributes)."),
) -> None:
    """Export a segment's members (or every profile) to a file or URL, with a progress bar
    and a summary. A failed export continues with `idgraph jobs resume ID`."""
    from idgraph.activation.destinations import Format
    from idgraph.activation.service import ExportSpec, Mode

    if sum(x is not None for x in (to, destination, activation)) != 1:
        raise fail("give one of --to, --destination or --activation")
    try:
        chosen = Format(fmt.lower()) if fmt else None
    except ValueError as exc:
        raise fail(f"unknown format {fmt!r}: csv, jsonl or parquet") from exc
    spec = ExportSpec(segment, namespace, attribute,
                      Mode.INCREMENTAL if incremental else Mode.FULL)

    async def run() -> tuple[Job, dict[str, object]]:
        async with services_for(Settings()) as services:
            service = services.activation.service
            if activation is not None:
                job = await service.run_activation(activation, spec.mode if incremental
                                                   else None, run=False)
            elif destination is not None:
                job = await service.export_to(spec, destination, run=False)
            else:
                assert to is not None
                job = await service.export_file(spec, to, chosen)
            with JobBar("exporting") as bar:
                job = await services.jobs.run_now(job.id, on_progress=bar.show)
            return job, (await service.runs([job.id]))[job.id]

    try:
        job, run_row = asyncio.run(run())
    except (DatabaseError, IdgraphError) as exc:
        raise fail(str(exc)) from exc
    finished(job)
    _export_summary(job, run_row)


def _export_summary(job: Job, run_row: dict[str, object]) -> None:
    from idgraph.activation.runs import Progress

    progress = Progress.parse(job.cursor)
    c = progress.counts
    typer.echo(f"exported {c['exported']} ({c['realized']} realized, {c['existing']} existing, "
               f"{c['exited']} exited), skipped {c['skipped']} without a chosen identity, "
               f"in {progress.batch} batch(es) to {run_row['location']} (run {job.id})")
