"""Reading ingest files: JSON Lines or CSV, streamed, one raw item per line with its number.

CSV columns: `source`, `recordId` or `eventId`, `timestamp`, `type` (events), `id.<namespace>`
(one identity; several values separated by `|`), `attr.<name>` (records) and `prop.<name>`
(events). Dotted names nest: `attr.address.city`. Empty cells are skipped. Every cell is read
as text; the cells of declared attribute paths are typed when the record is validated
(profile/attributes.py, the same rule for every way in), so a bad cell rejects its line with
the reason.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import orjson


class FileLine:
    __slots__ = ("number", "raw", "item", "error")

    def __init__(self, number: int, raw: str, item: dict | None, error: str | None) -> None:
        self.number, self.raw, self.item, self.error = number, raw, item, error

    @property
    def kind(self) -> str:
        return "event" if self.item and "eventId" in self.item else "record"


def read_items(path: Path, handle: TextIO) -> Iterator[FileLine]:
    if path.suffix.lower() == ".csv":
        yield from _csv_items(handle)
    else:
        yield from _jsonl_items(handle)


def _jsonl_items(handle: TextIO) -> Iterator[FileLine]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            item = _parse(line)
        except json.JSONDecodeError as exc:
            yield FileLine(number, line, None, f"invalid JSON: {exc.msg}")
            continue
        if not isinstance(item, dict):
            yield FileLine(number, line, None, "a line must be a JSON object")
        else:
            yield FileLine(number, line, item, None)


def _parse(line: str) -> Any:
    """orjson, about three times faster (a file is parsed twice: ingest/planning.py); what it
    refuses and the standard library reads (NaN, integers past 64 bits) still goes in, and
    errors are the standard library's."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


def _csv_items(handle: TextIO) -> Iterator[FileLine]:
    reader = csv.DictReader(handle)
    for row in reader:
        number = reader.line_num
        yield FileLine(number, json.dumps(row), _from_csv_row(row), None)


def _from_csv_row(row: dict[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = {"identities": []}
    payload_name = "properties" if row.get("eventId") else "attributes"
    payload: dict[str, Any] = {}
    for column, cell in row.items():
        if column is None or cell is None or cell == "":
            continue
        if column.startswith("id."):
            item["identities"] += [{"namespace": column[3:], "value": v}
                                   for v in cell.split("|") if v.strip()]
        elif column.startswith(("attr.", "prop.")):
            _set_nested(payload, column.split(".", 1)[1].split("."), cell)
        else:
            item[column] = cell
    item[payload_name] = payload
    return item


def _set_nested(target: dict[str, Any], path: list[str], value: str) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value
