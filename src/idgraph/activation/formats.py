"""File writers: CSV, JSON Lines and Parquet, written page by page to any fsspec location.

Each page of records is written as it comes (Parquet: one row group per page through
pyarrow's ParquetWriter), so memory holds one page, whatever the export's size. A file is
written under `<location>.partial` and moved to its name when complete: a reader never sees
half a file, and a failed run leaves no file that looks finished.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import IO, Any, Protocol

import fsspec
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from idgraph.activation.destinations import Format
from idgraph.activation.records import Columns, flat
from idgraph.profile.attributes import AttributeType

PARTIAL = ".partial"
LIST_SEPARATOR = "|"  # a CSV cell holding several identities of one namespace


class Writer(Protocol):
    def write(self, records: Sequence[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


class FileSink:
    """One export file: opened at `<location>.partial`, moved into place by `commit`."""

    def __init__(self, location: str, fmt: Format, cols: Columns,
                 options: dict[str, Any]) -> None:
        self.location = location
        self.fs, self.path = fsspec.core.url_to_fs(location, **options)
        self.partial = self.path + PARTIAL
        parent = self.fs._parent(self.path)
        if parent:
            self.fs.makedirs(parent, exist_ok=True)
        # `.gz` compresses text formats (Parquet compresses its own pages).
        gzip = location.endswith(".gz") and fmt is not Format.PARQUET
        self.raw: IO[bytes] = self.fs.open(self.partial, "wb",
                                           compression="gzip" if gzip else None)
        self.writer = writer_for(fmt, self.raw, cols)

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        if records:
            self.writer.write(records)

    def commit(self) -> None:
        self.writer.close()
        self.raw.close()
        if self.fs.exists(self.path):
            self.fs.rm(self.path)
        self.fs.mv(self.partial, self.path)

    def abandon(self) -> None:
        """Close and remove the partial file (a failed run starts the file again)."""
        try:
            self.raw.close()
        finally:
            if self.fs.exists(self.partial):
                self.fs.rm(self.partial)


def writer_for(fmt: Format, raw: IO[bytes], cols: Columns) -> Writer:
    if fmt is Format.CSV:
        return CsvWriter(raw, cols)
    if fmt is Format.JSONL:
        return JsonLinesWriter(raw)
    return ParquetFileWriter(raw, cols)


class JsonLinesWriter:
    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        self.raw.write(b"".join(orjson.dumps(r) + b"\n" for r in records))

    def close(self) -> None:
        self.raw.flush()


class CsvWriter:
    """A header row, then one row per record; several values of a namespace joined by `|`,
    attribute values that are lists or objects as JSON."""

    def __init__(self, raw: IO[bytes], cols: Columns) -> None:
        self.text = io.TextIOWrapper(raw, encoding="utf-8", newline="", write_through=True)
        self.cols = cols
        self.out = csv.DictWriter(self.text, fieldnames=cols.flat_names())
        self.out.writeheader()

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        self.out.writerows({k: _cell(v) for k, v in flat(r, self.cols).items()}
                           for r in records)

    def close(self) -> None:
        self.text.flush()
        self.text.detach()  # the sink closes the file itself


class ParquetFileWriter:
    """Typed columns: identities as lists of strings, declared attributes by their type
    (number: double, boolean: bool, others: string), changed_at as a UTC timestamp."""

    def __init__(self, raw: IO[bytes], cols: Columns) -> None:
        self.cols = cols
        self.schema = parquet_schema(cols)
        self.out = pq.ParquetWriter(raw, self.schema, compression="zstd")

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        rows = [flat(r, self.cols) for r in records]
        arrays = [pa.array([_typed(row[f.name], f.type) for row in rows], type=f.type)
                  for f in self.schema]
        self.out.write_table(pa.Table.from_arrays(arrays, schema=self.schema))

    def close(self) -> None:
        self.out.close()


def parquet_schema(cols: Columns) -> pa.Schema:
    fields = [pa.field("profile_id", pa.string(), nullable=False)]
    if cols.membership:
        fields += [pa.field("status", pa.string()),
                   pa.field("changed_at", pa.timestamp("ms", tz="UTC"))]
    fields += [pa.field(f"identity.{ns}", pa.list_(pa.string())) for ns in cols.namespaces]
    fields += [pa.field(f"attribute.{a}", _arrow_type(t))
               for a, t in zip(cols.attributes, cols.types, strict=True)]
    if cols.segments:
        fields.append(pa.field("segments", pa.list_(pa.string())))
    return pa.schema(fields)


def _arrow_type(kind: AttributeType | None) -> pa.DataType:
    if kind is AttributeType.NUMBER:
        return pa.float64()
    if kind is AttributeType.BOOLEAN:
        return pa.bool_()
    return pa.string()


def _typed(value: Any, kind: pa.DataType) -> Any:
    """A value the column's type takes; one that does not fit is null, never a failed run."""
    if value is None:
        return None
    if pa.types.is_timestamp(kind):
        return _instant(value)
    if pa.types.is_floating(kind):
        return float(value) if isinstance(value, int | float) and \
            not isinstance(value, bool) else None
    if pa.types.is_boolean(kind):
        return value if isinstance(value, bool) else None
    if pa.types.is_list(kind):
        return value
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


@functools.lru_cache(maxsize=4096)
def _instant(text: str) -> datetime:
    """A record's ISO time as a datetime; cached as records.iso is (few distinct times)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _cell(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return LIST_SEPARATOR.join(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value
