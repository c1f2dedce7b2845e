"""Reading a file of identities for an imported audience (pure: text in, rows out).

One identity per row, as people export them from a CRM or an ad platform:

- CSV with a header. Either a namespace column and a value column, under any of the usual
  names, whatever their case, spaces, `_` or `-` (`namespace`/`ns`/`identity namespace`/
  `type`, `value`/`id`/`identity`/`identifier`), or one column per namespace (`email`,
  `id.email`, `phone`: each non-empty cell is an identity, `|` separates several);
- JSON Lines: `{"namespace": "email", "value": "a@x.com"}` (the same names), or
  `{"identities": [{"namespace": …, "value": …}, …]}`.

Blank lines are skipped; a UTF-8 byte order mark is skipped; a bad row is reported with its
line number and the reason (`BadRow`) and the rest go on. Namespaces and values are checked
and normalised later, by the identity rules (identity/normalise.py).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TextIO

NAMESPACE_NAMES = frozenset({"namespace", "ns", "identitynamespace", "idnamespace", "type",
                             "idtype", "identitytype"})
VALUE_NAMES = frozenset({"value", "id", "identity", "identityvalue", "idvalue", "identifier"})
# Bytes that are not UTF-8, as `open_identities` decodes them (surrogateescape).
NOT_UTF8 = re.compile(r"[\udc80-\udcff]")
UNREADABLE = "UNREADABLE_LINE"
MISSING = "MISSING_FIELD"


class ImportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


class ImportFileError(ValueError):
    """The file as a whole cannot be read as identities (no usable header): nothing imported."""


@dataclass(frozen=True)
class Row:
    line: int
    namespace: str
    value: str


@dataclass(frozen=True)
class BadRow:
    line: int
    code: str
    reason: str


def open_identities(path: str) -> TextIO:
    """The file as text: a leading BOM skipped, bytes that are not UTF-8 kept for their lines
    to be reported one by one."""
    return open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")


def format_of(name: str, given: str | None) -> ImportFormat:
    """The format named, else the file's extension (.csv; anything else JSON Lines)."""
    if given is not None:
        try:
            return ImportFormat(given.lower())
        except ValueError:
            raise ImportFileError(f"unknown format {given!r}: csv or jsonl") from None
    return ImportFormat.CSV if name.lower().endswith(".csv") else ImportFormat.JSONL


def read_rows(handle: TextIO, fmt: ImportFormat) -> Iterator[Row | BadRow]:
    """Every identity of the file, and every bad row, in file order."""
    return _csv_rows(handle) if fmt is ImportFormat.CSV else _jsonl_rows(handle)


def column_key(name: str) -> str:
    """A header as compared: lower case, without spaces, `_`, `-` and `.`."""
    return re.sub(r"[\s_\-.]", "", name.strip().lower())


# -- CSV ------------------------------------------------------------------------------------------
def _csv_rows(handle: TextIO) -> Iterator[Row | BadRow]:
    reader = csv.reader(handle)
    header = _header(reader)
    pair = _pair_columns(header)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield BadRow(reader.line_num, UNREADABLE, f"invalid CSV: {exc}")
            continue
        number = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # a blank line (or only separators)
        if problem := _not_utf8(",".join(cells)):
            yield BadRow(number, UNREADABLE, problem)
        elif pair is not None:
            yield _pair_row(number, cells, *pair)
        else:
            yield from _wide_rows(number, cells, header)


def _header(reader: Any) -> list[str]:
    """The first non-blank line's cells."""
    for cells in reader:
        if any(cell.strip() for cell in cells):
            if problem := _not_utf8(",".join(cells)):
                raise ImportFileError(f"line {reader.line_num}: the header is {problem}")
            return [cell.strip() for cell in cells]
    raise ImportFileError("the file is empty: a CSV file starts with a header, e.g. "
                          "namespace,value")


def _pair_columns(header: list[str]) -> tuple[int, int] | None:
    """Positions of the namespace and value columns, or None for one column per namespace."""
    keys = [column_key(name) for name in header]
    ns = [i for i, k in enumerate(keys) if k in NAMESPACE_NAMES]
    values = [i for i, k in enumerate(keys) if k in VALUE_NAMES]
    if ns and values:
        return ns[0], values[0]
    if ns or values:
        which = "value" if ns else "namespace"
        raise ImportFileError(f"the header {','.join(header)!r} has no {which} column")
    if not [k for k in keys if k]:
        raise ImportFileError("the header names no column")
    return None


def _pair_row(number: int, cells: list[str], ns: int, value: int) -> Row | BadRow:
    namespace = cells[ns].strip() if ns < len(cells) else ""
    text = cells[value] if value < len(cells) else ""
    if not namespace:
        return BadRow(number, MISSING, "no namespace in this row")
    return Row(number, namespace, text)


def _wide_rows(number: int, cells: list[str], header: list[str]) -> Iterator[Row | BadRow]:
    if len(cells) > len(header):
        yield BadRow(number, UNREADABLE, f"{len(cells)} cells under a header of {len(header)}")
        return
    for name, cell in zip(header, cells, strict=False):
        namespace = name.removeprefix("id.").strip()
        for value in cell.split("|"):
            if value.strip():
                yield Row(number, namespace, value)


# -- JSON Lines -----------------------------------------------------------------------------------
def _jsonl_rows(handle: TextIO) -> Iterator[Row | BadRow]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        if problem := _not_utf8(line):
            yield BadRow(number, UNREADABLE, problem)
            continue
        try:
            data = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield BadRow(number, UNREADABLE, f"invalid JSON: {_why(exc)}")
            continue
        yield from _json_rows(number, data)


def _json_rows(number: int, data: Any) -> Iterator[Row | BadRow]:
    if not isinstance(data, dict):
        yield BadRow(number, UNREADABLE, "a line must be a JSON object")
        return
    listed = data.get("identities")
    entries = listed if isinstance(listed, list) else [data]
    if not entries:
        yield BadRow(number, MISSING, "`identities` is empty")
    for entry in entries:
        yield _json_row(number, entry)


def _json_row(number: int, entry: Any) -> Row | BadRow:
    if not isinstance(entry, dict):
        return BadRow(number, UNREADABLE, "an identity must be a JSON object")
    fields = {column_key(str(k)): v for k, v in entry.items()}
    namespace = next((fields[k] for k in NAMESPACE_NAMES if k in fields), None)
    value = next((fields[k] for k in VALUE_NAMES if k in fields), None)
    if not isinstance(namespace, str) or not namespace.strip():
        return BadRow(number, MISSING, "no namespace (a `namespace` text) in this line")
    if value is None:
        return BadRow(number, MISSING, "no value (a `value`) in this line")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return BadRow(number, MISSING, f"the value must be text, not {type(value).__name__}")
    return Row(number, namespace.strip(), str(value))


def _why(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg
    return "nested too deeply to read" if isinstance(exc, RecursionError) else str(exc)


def _not_utf8(text: str) -> str | None:
    bad = None if text.isascii() else NOT_UTF8.search(text)
    if bad is None:
        return None
    return f"not UTF-8 (byte 0x{ord(bad.group()) - 0xDC00:02X}): save the file as UTF-8"
