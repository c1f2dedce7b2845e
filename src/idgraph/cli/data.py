"""`idgraph ingest`, `idgraph settle`, `idgraph demo generate` and `idgraph cypher`: data in,
deferred ingests' profiles built, demo data, and saved read-only explorations."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from idgraph.cli.common import check_attribute_schema, err, fail, ready_graph
from idgraph.config import Settings
from idgraph.db.errors import DatabaseError

if TYPE_CHECKING:  # imported where used: the command starts fast
    from idgraph.explorations.service import Exploration
    from idgraph.ingest.runner import FileSummary
    from idgraph.pipeline.backlog import Failed

demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)


def ingest(
    file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                help="JSON Lines (.jsonl/.json) or CSV (.csv) of records/events."),
    batch_size: int = typer.Option(None, help="Items per transaction (default 1000)."),
    rejects: Path = typer.Option(None, help="Write rejected lines with their reasons here."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    defer: bool = typer.Option(False, help=(
        "Accept the records now and build their profiles later: a running API server's "
        "settler does it within seconds, or `idgraph settle`.")),
) -> None:
    """Ingest a file of records and events; ends with a summary of what was rejected and why."""
    from idgraph.ingest.runner import ingest_file

    settings = Settings()
    check_attribute_schema(settings)
    try:
        summary = asyncio.run(_ingest(settings, file, batch_size or settings.ingest_batch_size,
                                      rejects, progress, ingest_file, defer))
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"accepted {summary.accepted}, duplicates {summary.duplicates}, "
               f"rejected {summary.rejected}")
    for code, count in sorted(summary.rejected_by_code.items()):
        typer.echo(f"  {code}: {count}")
    if rejects and summary.rejected:
        typer.echo(f"rejected lines with reasons: {rejects}")
    if defer and summary.accepted:
        typer.echo("profiles follow: a running `idgraph serve` settles the backlog, or run "
                   "`idgraph settle`")


async def _ingest(settings: Settings, file: Path, batch_size: int, rejects: Path | None,
                  progress: bool, ingest_file: Callable[..., Awaitable[FileSummary]],
                  defer: bool = False) -> FileSummary:
    from idgraph.services import Services

    async with ready_graph(settings) as graph:
        services = Services.build(settings.model_copy(update={"ingest_batch_size": batch_size}),
                                  graph)
        return await ingest_file(services.identity, file, batch_size, rejects, progress,
                                 max_held_lines=settings.ingest_hold_lines, defer=defer)


def settle(
    retry_failed: bool = typer.Option(False, help=(
        "First put entries that failed back in the queue (after fixing the cause, e.g. an "
        "unlink).")),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Build the profiles of deferred ingests now: settle the ingest backlog until it is empty,
    oldest first (alongside any running server's settler); ends with what failed and why."""
    settings = Settings()
    try:
        settled, failed = asyncio.run(_settle(settings, retry_failed, progress))
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"settled {settled} items")
    if failed:
        typer.echo(f"{len(failed)} entries kept as failed (see `ingestBacklog` in the API):")
        for entry in failed:
            typer.echo(f"  {entry.seq}: {entry.code}: {entry.error}")
        raise typer.Exit(1)


async def _settle(settings: Settings, retry_failed: bool, show: bool
                  ) -> tuple[int, list[Failed]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from idgraph.pipeline.settler import drain
    from idgraph.services import Services

    async with ready_graph(settings) as graph:
        pipeline = Services.build(settings, graph).pipeline
        if retry_failed:
            await pipeline.backlog.retry_failed()
        waiting = await pipeline.backlog.status()
        bar = Progress("settling", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                       disable=not show, transient=False)
        with bar:
            task = bar.add_task("settling", total=waiting.items or None)
            done = await drain(pipeline, lambda s: bar.update(task, advance=s.items))
        return (sum(s.items for s in done if not s.failed),
                (await pipeline.backlog.status()).failed)


@demo_app.command("generate")
def demo_generate(
    profiles: int = typer.Option(1000, min=1, help="People to generate."),
    seed: int = typer.Option(0, help="Same seed, byte-identical files."),
    out: Path = typer.Option(Path("demo-data"), file_okay=False,
                             help="Directory to write (created if missing)."),
    now: str = typer.Option("2026-01-01T00:00:00Z",
                            help="Reference time: events fall in the year before it."),
    combined: bool = typer.Option(False, help="One all.jsonl instead of one file per source."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Write realistic multi-source ingest files (CRM, web, app, point of sale, e-mail) with
    traps (junk values, e-mail case variants, shared devices, conflicting attributes)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from idgraph.demo.dataset import MANIFEST_FILE, parse_now, write_dataset

    try:
        reference = parse_now(now)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    bar = Progress("generating", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   disable=not progress, transient=False)
    try:
        with bar:
            task = bar.add_task("people", total=profiles)
            manifest = write_dataset(out, profiles, seed, reference, combined,
                                     on_progress=lambda n: bar.advance(task, n))
    except OSError as exc:
        raise fail(f"cannot write to {out}: {exc.strerror or exc}") from exc
    typer.echo(f"wrote {manifest['records']} records and {manifest['events']} events of "
               f"{profiles} people to {out}/ ({', '.join(manifest['files'])}; counts in "
               f"{MANIFEST_FILE})")
    typer.echo(f"ingest: for f in {out}/*.jsonl; do idgraph ingest \"$f\"; done")


def cypher(
    name: str = typer.Argument(None, help="A saved query (cypher/queries/NAME.cypher); "
                                          "none: list them with their parameters."),
    param: list[str] = typer.Option(None, "--param", "-p", help="A parameter: NAME=VALUE "
                                    "(repeatable; lists as a,b,c; times as ISO 8601 or -7d)."),
    output: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
    limit: int = typer.Option(None, help="Most rows (default IDGRAPH_SAVED_QUERY_MAX_ROWS)."),
) -> None:
    """Run a saved Cypher exploration read-only and print its answer."""
    from rich.console import Console

    from idgraph.errors import IdgraphError
    from idgraph.explorations import render
    from idgraph.explorations.service import read_catalogue

    settings = Settings()
    if output not in render.FORMATS:
        raise fail(f"--format must be one of {', '.join(render.FORMATS)}", code=2)
    try:
        given = dict(_param_pair(text) for text in param or [])
        if name is None:
            render.print_catalogue(read_catalogue(settings.saved_queries_dir), Console())
            return
        answer = asyncio.run(_explore(settings, name, given, limit))
    except (IdgraphError, DatabaseError, ValueError) as exc:
        raise fail(str(exc)) from exc
    if output == "table":
        render.print_table(answer, Console())
    elif output == "json":
        typer.echo(render.as_json(answer))
    else:
        typer.echo(render.as_csv(answer), nl=False)
    if answer.truncated:
        err(f"(only the first {len(answer.rows)} rows: raise --limit, or narrow the parameters)")


def _param_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--param takes NAME=VALUE, not {text!r}")
    return key.strip(), value


async def _explore(settings: Settings, name: str, given: dict[str, str],
                   limit: int | None) -> Exploration:
    from idgraph.explorations.service import ExplorationService, find, read_catalogue

    # Unknown names and bad values fail before any Neo4j is started.
    find(read_catalogue(settings.saved_queries_dir), name).bind(given)
    async with ready_graph(settings) as graph:
        service = ExplorationService(graph, settings.saved_queries_dir,
                                     settings.saved_query_timeout, settings.saved_query_max_rows)
        return await service.run(name, given, limit)
