"""The `idgraph` command: serve the API, manage the local Neo4j, ingest files, demo data, run
and follow jobs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from idgraph.cli_audience import audience_app
from idgraph.config import Settings
from idgraph.db import local_server
from idgraph.db.connect import local_server_config
from idgraph.db.errors import DatabaseError
from idgraph.db.local_auth import password_path
from idgraph.errors import IdgraphError

if TYPE_CHECKING:
    from idgraph.jobs.service import Job
    from idgraph.services import Services

if TYPE_CHECKING:
    from idgraph.explorations.service import Exploration

if TYPE_CHECKING:  # imported where used: the command starts fast
    from idgraph.db.graph import Graph
    from idgraph.ingest.runner import FileSummary

app = typer.Typer(help="idgraph: customer identity graph service on Neo4j.", no_args_is_help=True)
neo4j_app = typer.Typer(help="The managed local Neo4j (used when NEO4J_URI is unset).",
                        no_args_is_help=True)
app.add_typer(neo4j_app, name="neo4j")
schema_app = typer.Typer(help="The GraphQL schema as a file.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
app.add_typer(audience_app, name="audience")


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg="red", err=True)
    return typer.Exit(code)


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _check_attribute_schema(settings: Settings) -> None:
    """Fail before anything starts when the attribute schema file cannot be used."""
    from idgraph.profile.attributes import AttributeSchemaError, load_attribute_schema

    try:
        load_attribute_schema(settings.attributes_file)
    except AttributeSchemaError as exc:
        raise fail(f"{exc}. Fix the file, or unset IDGRAPH_ATTRIBUTES_FILE to use the shipped "
                   "one.") from exc


@neo4j_app.command("start")
def neo4j_start() -> None:
    """Start the managed Neo4j (or reuse the running one); prints the Bolt URI last."""
    cfg = local_server_config(Settings())
    try:
        uri = local_server.start(cfg, log=_err)
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    if note := local_server.browser_banner(cfg):
        _err(note)
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


@app.command()
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
    _check_attribute_schema(settings)
    host = host or settings.host
    port = port or settings.port
    try:
        graph = graph_for(settings, log=_err)
        if demo:
            from idgraph.demo import load_demo

            asyncio.run(load_demo(settings, graph, log=_err))
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    _err(f"GraphiQL: http://{host}:{port}/graphql   Profile explorer: "
         f"http://{host}:{port}/explore   (Neo4j: {graph.uri})")
    if not settings.neo4j_uri and (note := local_server.browser_banner(
            local_server_config(settings))):
        _err(note)
    _err('Try:  { profile(identity: {namespace: "email", value: "Jane.Doe@Example.com "}) '
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
    _err(f"wrote {output}")


@app.command()
def ingest(
    file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                help="JSON Lines (.jsonl/.json) or CSV (.csv) of records/events."),
    batch_size: int = typer.Option(None, help="Items per transaction (default 1000)."),
    rejects: Path = typer.Option(None, help="Write rejected lines with their reasons here."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Ingest a file of records and events; ends with a summary of what was rejected and why."""
    from idgraph.ingest.runner import ingest_file

    settings = Settings()
    _check_attribute_schema(settings)
    try:
        summary = asyncio.run(_ingest(settings, file, batch_size or settings.ingest_batch_size,
                                      rejects, progress, ingest_file))
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"accepted {summary.accepted}, duplicates {summary.duplicates}, "
               f"rejected {summary.rejected}")
    for code, count in sorted(summary.rejected_by_code.items()):
        typer.echo(f"  {code}: {count}")
    if rejects and summary.rejected:
        typer.echo(f"rejected lines with reasons: {rejects}")


async def _ingest(settings: Settings, file: Path, batch_size: int, rejects: Path | None,
                  progress: bool, ingest_file: Callable[..., Awaitable[FileSummary]]
                  ) -> FileSummary:
    from idgraph.services import Services

    async with _ready_graph(settings) as graph:
        services = Services.build(settings.model_copy(update={"ingest_batch_size": batch_size}),
                                  graph)
        return await ingest_file(services.identity, file, batch_size, rejects, progress,
                                 max_held_lines=settings.ingest_hold_lines)


demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")


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


@app.command()
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
        _err(f"(only the first {len(answer.rows)} rows: raise --limit, or narrow the parameters)")


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
    async with _ready_graph(settings) as graph:
        service = ExplorationService(graph, settings.saved_queries_dir,
                                     settings.saved_query_timeout, settings.saved_query_max_rows)
        return await service.run(name, given, limit)


profiles_app = typer.Typer(help="Profile maintenance.", no_args_is_help=True)
app.add_typer(profiles_app, name="profiles")


@profiles_app.command("rebuild-views")
def rebuild_views() -> None:
    """Recompute every profile's materialised view as a job, here, with a progress bar (after
    an upgrade, or to repair one). If it fails, `idgraph jobs resume ID` continues it."""
    try:
        job = asyncio.run(_rebuild_views(Settings()))
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    _finished(job)
    typer.echo(f"rebuilt {job.done} profile views (job {job.id})")


async def _rebuild_views(settings: Settings) -> Job:
    async with _services(settings) as services:
        with _JobBar("rebuilding views") as bar:
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
    _finished(job)
    typer.echo(f"walked {job.done} events (job {job.id})")


async def _flatten_event_properties(settings: Settings) -> Job:
    async with _services(settings) as services:
        with _JobBar("flattening event properties") as bar:
            return await services.profiles.flatten_event_properties_now(on_progress=bar.show)


secrets_app = typer.Typer(help="Keys that seal destinations' secrets at rest.",
                          no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")


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
    async with _services(settings) as services:
        return await services.activation.destinations.reseal()


jobs_app = typer.Typer(help="Long maintenance jobs (view rebuilds, computed backfills).",
                       no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")


@jobs_app.command("list")
def jobs_list(first: int = typer.Option(20, help="How many, newest first.")) -> None:
    """The latest jobs: id, kind, status, progress, error."""
    async def run() -> list[Job]:
        async with _services(Settings()) as services:
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
        async with _services(Settings()) as services:
            with _JobBar(f"job {job_id}") as bar:
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
    _finished(job)
    typer.echo(f"job {job.id} {job.status.value}: {job.done} done")


@jobs_app.command("resume")
def jobs_resume(job_id: str = typer.Argument(..., help="A failed job's id.")) -> None:
    """Continue a failed job here, from where it stopped, with a progress bar."""
    async def run() -> Job:
        async with _services(Settings()) as services:
            job = await services.jobs.resume(job_id, run=False)
            with _JobBar(f"job {job.id} ({job.kind})") as bar:
                return await services.jobs.run_now(job.id, on_progress=bar.show)

    try:
        job = asyncio.run(run())
    except (DatabaseError, IdgraphError) as exc:
        raise fail(str(exc)) from exc
    _finished(job)
    typer.echo(f"job {job.id} {job.status.value}: {job.done} done")


@app.command("export")
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
        async with _services(Settings()) as services:
            service = services.activation.service
            if activation is not None:
                job = await service.run_activation(activation, spec.mode if incremental
                                                   else None, run=False)
            elif destination is not None:
                job = await service.export_to(spec, destination, run=False)
            else:
                assert to is not None
                job = await service.export_file(spec, to, chosen)
            with _JobBar("exporting") as bar:
                job = await services.jobs.run_now(job.id, on_progress=bar.show)
            return job, (await service.runs([job.id]))[job.id]

    try:
        job, run_row = asyncio.run(run())
    except (DatabaseError, IdgraphError) as exc:
        raise fail(str(exc)) from exc
    _finished(job)
    _export_summary(job, run_row)


def _export_summary(job: Job, run_row: dict[str, object]) -> None:
    from idgraph.activation.runs import Progress

    progress = Progress.parse(job.cursor)
    c = progress.counts
    typer.echo(f"exported {c['exported']} ({c['realized']} realized, {c['existing']} existing, "
               f"{c['exited']} exited), skipped {c['skipped']} without a chosen identity, "
               f"in {progress.batch} batch(es) to {run_row['location']} (run {job.id})")


def _finished(job: Job) -> None:
    if job.status.value == "failed":
        raise fail(f"job {job.id} failed: {job.error}; continue it with "
                   f"`idgraph jobs resume {job.id}`")


class _JobBar:
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

    def __enter__(self) -> _JobBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def show(self, job: Job) -> None:
        self.progress.update(self.task, completed=job.done, total=job.total)


@contextlib.asynccontextmanager
async def _services(settings: Settings) -> AsyncIterator[Services]:
    from idgraph.services import Services

    async with _ready_graph(settings) as graph:
        yield Services.build(settings, graph)


@contextlib.asynccontextmanager
async def _ready_graph(settings: Settings) -> AsyncIterator[Graph]:
    """The configured Neo4j, checked reachable (fast failure) and with the schema applied."""
    from idgraph.db.connect import graph_for
    from idgraph.db.schema import apply_schema

    graph = graph_for(settings, log=_err)
    try:
        await graph.verify()
        await apply_schema(graph)
        yield graph
    finally:
        await graph.close()


def main() -> None:  # pragma: no cover - entry point convenience
    sys.exit(app())
