"""A saved query's answer for the terminal: a table, JSON or CSV; and the catalogue as a list."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from idgraph.explorations.catalogue import SavedQuery
from idgraph.explorations.service import Exploration

FORMATS = ("table", "json", "csv")


def cell(value: Any) -> str:
    """One value as text: strings as they are, nulls empty, anything else as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def as_json(answer: Exploration) -> str:
    """`{query, parameters, columns, rows: [{column: value}], truncated}`, indented."""
    rows = [dict(zip(answer.columns, row, strict=True)) for row in answer.rows]
    return json.dumps({"query": answer.name, "parameters": answer.params,
                       "columns": answer.columns, "rows": rows, "truncated": answer.truncated},
                      ensure_ascii=False, indent=2)


def as_csv(answer: Exploration) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(answer.columns)
    writer.writerows([cell(value) for value in row] for row in answer.rows)
    return out.getvalue()


def print_table(answer: Exploration, console: Console) -> None:
    table = Table(*answer.columns, title=answer.name, title_justify="left")
    for row in answer.rows:
        table.add_row(*(cell(value) for value in row))
    console.print(table)


def print_catalogue(queries: dict[str, SavedQuery], console: Console) -> None:
    for query in queries.values():
        console.print(f"[bold]{query.name}[/bold]  {escape(query.title)}")
        console.print(f"    {query.answers}", highlight=False, markup=False)
        for name, spec in query.params.items():
            default = "required" if spec.required else f"default {cell(spec.default) or 'null'}"
            console.print(f"    --param {name}=<{spec.type}>  ({default}) {spec.doc}",
                          highlight=False, markup=False)
