"""Reading ingest files: JSON Lines or CSV, streamed, one raw item per line with its number.

CSV columns: `source`, `recordId` or `eventId`, `timestamp`, `type` (events), `id.<namespace>`
(one identity; several values separated by `|`), `attr.<name>` (records) and `prop.<name>`
(events). Dotted names nest: `attr.address.city`. Empty cells are skipped. Every cell is read
as text; the cells of declared attribute paths are typed when the record is validated
(profile/attributes.py, the same rule for every way in), so a bad cell rejects its line with
the reason.

A bad line is one rejection (a FileLine with an error and its code), never the end of the file:
bytes that are not UTF-8, JSON nested past Python's recursion limit or holding an integer of
over 4,300 digits, a CSV row over the field size limit, or one with values in both `attr.a`
and `attr.a.b`. A UTF-8 byte order mark (spreadsheet programs write one) is skipped.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import orjson

UNREADABLE = "UNREADABLE_LINE"
# Bytes that are not UTF-8, as `open_text` decodes them (surrogateescape: U+DC80..U+DCFF).
NOT_UTF8 = re.compile(r"[\udc80-\udcff]")


class FileLine:
    __slots__ = ("number", "raw", "item", "error", "code")

    def __init__(self, number: int, raw: str, item: dict[str, Any] | None, error: str | None,
                 code: str = UNREADABLE) -> None:
        self.number, self.raw, self.item, self.error = number, raw, item, error
        self.code = code  # the rejection code when `item` is None

    @property
    def kind(self) -> str:
        return "event" if self.item and "eventId" in self.item else "record"


def open_text(path: Path) -> TextIO:
    """The file as text for `read_items`: a leading UTF-8 BOM skipped, and bytes that are not
    UTF-8 kept (as lone surrogates) for the lines holding them to be rejected one by one."""
    return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")


def read_items(path: Path, handle: TextIO) -> Iterator[FileLine]:
    if path.suffix.lower() == ".csv":
        yield from _csv_items(handle)
    else:
        yield from _jsonl_items(handle)


def _jsonl_items(handle: TextIO) -> Iterator[FileLine]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        if problem := _not_utf8(line):
            yield FileLine(number, line, None, problem)
            continue
        try:
            item = _parse(line)
        except (ValueError, RecursionError) as exc:
            yield FileLine(number, line, None, _unreadable(exc))
            continue
        if not isinstance(item, dict):
            yield FileLine(number, line, None, "a line must be a JSON object")
        else:
            yield FileLine(number, line, item, None)


def _not_utf8(text: str) -> str | None:
    """Why `text` (as `open_text` decoded it) is not UTF-8, or None."""
    bad = None if text.isascii() else NOT_UTF8.search(text)
    if bad is None:
        return None
    return (f"not UTF-8: byte 0x{ord(bad.group()) - 0xDC00:02X} at character {bad.start() + 1}; "
            "save the file as UTF-8")


def _unreadable(exc: Exception) -> str:
    """Why a line is not JSON Python can read."""
    if isinstance(exc, RecursionError):
        return "invalid JSON: nested too deeply to read"
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg}"
    if "digits" in str(exc):
        return "invalid JSON: a number has over 4,300 digits"
    return f"invalid JSON: {exc}"


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
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # the reader goes on with the next line
            yield FileLine(reader.line_num + 1, "", None, f"invalid CSV: {exc}")
            continue
        yield _csv_line(reader.line_num, row)


def _csv_line(number: int, row: dict[str, str]) -> FileLine:
    raw = json.dumps(row)
    for text in (*row, *row.values()):
        if isinstance(text, str) and (problem := _not_utf8(text)):
            return FileLine(number, raw, None, problem)
    try:
        return FileLine(number, raw, _from_csv_row(row), None)
    except ColumnClash as exc:
        return FileLine(number, raw, None, str(exc), "INVALID_PAYLOAD")


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


class ColumnClash(ValueError):
    """Two columns of a row give a name both a value and nested values (attr.a, attr.a.b)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name!r} is given both a value and nested values by this row (as by "
                         "columns attr.a and attr.a.b): fill in only one of them")


def _set_nested(target: dict[str, Any], path: list[str], value: str) -> None:
    for depth, part in enumerate(path[:-1]):
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise ColumnClash(".".join(path[:depth + 1]))
    if isinstance(target.get(path[-1]), dict):
        raise ColumnClash(".".join(path))
    target[path[-1]] = value
