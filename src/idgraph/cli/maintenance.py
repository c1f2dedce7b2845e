"""`idgraph profiles`, `idgraph secrets` and `idgraph jobs`: maintenance run here, with
progress bars, and jobs followed or resumed."""

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

profiles_app = typer.Typer(help="Profile maintenance.", no_args_is_help=True)


@profiles_app.command("rebuild-views")
def rebuild_views() -> None:
    """Recompute every profile's materialised view as a job, here, with a progress bar (after
    an upgrade, or to repair one). If it fails, `idgraph jobs resume ID` continues it."""
    try:
        job = asyncio.run(_rebuild_views(Settings()))
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    finished(job)
    typer.echo(f"rebuilt {job.done} profile views (job {job.id})")


async def _rebuild_views(settings: Settings) -> Job:
    async with services_for(settings) as services:
        with JobBar("rebuilding views") as bar:
            return await services.profiles.rebuild_views_now(on_progress=bar.show)


@profiles_app.command("flatten-event-properties")
def flatten_event_properties() -> None:
    """Write the flattened properties (`p.<path>`) of events stored before ingest wrote them,
    so segment rules on event properties match them: a job, here, with a progress bar. Safe
    to run again (flattened events are left alone); if it fails, `idgraph jobs resume ID`
    continues it."""
    try:
        job = asyncio.run(_flatten_event_properties(Settings()))
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    finished(job)
    typer.echo(f"walked {job.done} events (job {job.id})")


async def _flatten_event_properties(settings: Settings) -> Job:
    async with services_for(settings) as services:
        with JobBar("flattening event properties") as bar:
            return await services.profiles.flatten_event_properties_now(on_progress=bar.show)


secrets_app = typer.Typer(help="Keys that seal destinations' secrets at rest.",
                          no_args_is_help=True)


@secrets_app.command("new-key")
def secrets_new_key() -> None:
    """Print a new Fernet key for IDGRAPH_SECRETS_KEY (put it first to rotate: new,old)."""
    from idgraph.activation.sealing import new_key

    typer.echo(new_key())


@secrets_app.command("reseal")
def secrets_reseal() -> None:
    """Seal every destination's secret and header values again with the first key of
    IDGRAPH_SECRETS_KEY (after a new key was put in front; then the old one may go), and seal
    values an earlier version stored in clear."""
    try:
        done, skipped = asyncio.run(_reseal(Settings()))
    except (DatabaseError, IdgraphError) as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"resealed {done} destination(s)" + (
        f"; {skipped} changed meanwhile (sealed with the first key by that change)"
        if skipped else ""))


async def _reseal(settings: Settings) -> tuple[int, int]:
    async with services_for(settings) as services:
        return await services.activation.destinations.reseal()


jobs_app = typer.Typer(help="Long maintenance jobs (view rebuilds, computed backfills).",
                       no_args_is_help=True)


@jobs_app.command("list")
def jobs_list(first: int = typer.Option(20, help="How many, newest first.")) -> None:
    """The latest jobs: id, kind, status, progress, error."""
    async def run() -> list[Job]:
        async with services_for(Settings()) as services:
            return await services.jobs.recent(first)

    try:
        jobs = asyncio.run(run())
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    for job in jobs:
        total = "?" if job.total is None else str(job.total)
        error = f"  {job.error}" if job.error else ""
        typer.echo(f"{job.id}  {job.kind:<18} {job.status.value:<9} {job.done}/{total}{error}")


@jobs_app.command("watch")
def jobs_watch(job_id: str = typer.Argument(..., help="The job's id (`idgraph jobs list`)."),
               interval: float = typer.Option(0.5, help="Seconds between two looks.")) -> None:
    """Follow a job (run by the API, or another command) until it ends, with a progress bar."""
    async def run() -> Job:
        async with services_for(Settings()) as services:
            with JobBar(f"job {job_id}") as bar:
                while True:
                    job = await services.jobs.get(job_id)
                    if job is None:
                        raise fail(f"no job {job_id!r}; see `idgraph jobs list`")
                    bar.show(job)
                    if job.finished:
                        return job
                    await asyncio.sleep(interval)

    try:
        job = asyncio.run(run())
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    finished(job)
    typer.echo(f"job {job.id} {job.status.value}: {job.done} done")


@jobs_app.command("resume")
def jobs_resume(job_id: str = typer.Argument(..., help="A failed job's id.")) -> None:
    """Continue a failed job here, from where it stopped, with a progress bar."""
    async def run() -> Job:
        async with services_for(Settings()) as services:
            job = await services.jobs.resume(job_id, run=False)
            with JobBar(f"job {job.id} ({job.kind})") as bar:
                return await services.jobs.run_now(job.id, on_progress=bar.show)

    try:
        job = asyncio.run(run())
    except (DatabaseError, IdgraphError) as exc:
        raise fail(str(exc)) from exc
    finished(job)
    typer.echo(f"job {job.id} {job.status.value}: {job.done} done")
