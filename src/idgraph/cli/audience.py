"""`idgraph audience import FILE --name NAME`: an external audience from a file of identities
(segments/audiences.py), with progress bars and a summary."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from idgraph.cli.common import fail, services_for
from idgraph.config import Settings
from idgraph.db.errors import DatabaseError
from idgraph.errors import IdgraphError

if TYPE_CHECKING:  # imported where used: the command starts fast
    from idgraph.segments.audiences import AudienceImport
    from idgraph.segments.import_files import ImportFormat

audience_app = typer.Typer(help="Imported audiences (segments whose members come from a file).",
                           no_args_is_help=True)


@audience_app.command("import")
def import_audience(
    file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                help="CSV (namespace,value or a column per namespace) or JSON "
                                     "Lines ({\"namespace\": …, \"value\": …}) of identities."),
    name: str = typer.Option(..., help="The audience's name; an imported audience of that "
                                       "name has its list replaced."),
    format: str = typer.Option(None, "--format", help="csv or jsonl (default: by extension)."),
    description: str = typer.Option(None, help="What the audience is."),
    include_test_profiles: bool = typer.Option(False, help="Keep profiles marked as test data."),
    rejects: Path = typer.Option(None, help="Write bad rows (line, code, reason) here, as JSON "
                                            "Lines."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Import an audience from a file of identities; ends with a summary."""
    from idgraph.segments.audiences import summary_lines
    from idgraph.segments.import_files import ImportFileError, format_of

    try:
        fmt = format_of(file.name, format)
        report = asyncio.run(_import(Settings(), file, fmt, name, description,
                                     include_test_profiles, progress))
    except (ImportFileError, IdgraphError, DatabaseError) as exc:
        raise fail(f"{file}: {exc}; nothing was imported") from exc
    assert report.segment is not None
    typer.echo(f"audience {report.segment.name!r} ({report.segment.id})")
    for line in summary_lines(report):
        typer.echo(line)
    if rejects is not None:
        _write_rejects(rejects, report)
    elif report.rejected:
        for bad in report.rejected[:10]:
            typer.echo(f"  line {bad.line}: {bad.code} {bad.reason}")


async def _import(settings: Settings, file: Path, fmt: ImportFormat, name: str,
                  description: str | None, include_test: bool,
                  show: bool) -> AudienceImport:
    from idgraph.segments.import_files import open_identities, read_rows

    lines = _count_lines(file)
    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), disable=not show)
    with bars:
        reading = bars.add_task(f"resolving {file.name} (lines)", total=lines)
        writing = bars.add_task("writing members", total=None, visible=False)

        def written(done: int, total: int) -> None:
            bars.update(writing, completed=done, total=total, visible=True)

        async with services_for(settings) as services:
            importer = services.segments.importer(services.identity.normalise)
            with open_identities(str(file)) as handle:
                return await importer.import_rows(
                    name, read_rows(handle, fmt), description=description,
                    include_test=include_test,
                    progress=lambda line: bars.update(reading, completed=line),
                    written=written)


def _count_lines(file: Path) -> int:
    """Lines of the file (the reading bar's total), counted in blocks: about a second a GB."""
    count = 0
    with file.open("rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
    return count


def _write_rejects(path: Path, report: AudienceImport) -> None:
    with path.open("w") as out:
        for bad in report.rejected:
            out.write(json.dumps({"line": bad.line, "code": bad.code, "reason": bad.reason})
                      + "\n")
    typer.echo(f"bad rows with reasons: {path}")
