"""Destinations: where exports go. A file location (local path or fsspec URL) with a format, or
an HTTP endpoint (URL, headers, HMAC secret). Checked here, before anything is stored.

Secrets (the HMAC secret, header values) are stored in Neo4j sealed (activation/sealing.py)
and opened only to deliver; reads return only that they are set (`hasSecret`, header names).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from idgraph.activation.locations import AllowList
from idgraph.errors import InvalidInput


class Kind(StrEnum):
    FILE = "file"
    HTTP = "http"


class Format(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"


EXTENSIONS = {Format.CSV: "csv", Format.JSONL: "jsonl", Format.PARQUET: "parquet"}
# RFC 9110 token characters.
HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")
HEADER_VALUE = re.compile(r"[\x20-\x7e]{0,4096}")
# Set by delivery itself: a destination may not override or duplicate them.
RESERVED_HEADERS = frozenset({
    "host", "content-length", "content-type", "content-encoding", "transfer-encoding",
    "connection", "te", "trailer", "upgrade", "expect", "idempotency-key",
    "x-idgraph-signature", "x-idgraph-timestamp", "x-idgraph-run", "x-idgraph-batch"})
MAX_HEADERS = 20
MIN_SECRET, MAX_SECRET = 16, 512
NAME = re.compile(r"[^\x00-\x1f\x7f]{1,100}")
# Placeholders a file location may use; each run fills them (values reduced to [A-Za-z0-9_-]).
PLACEHOLDERS = ("segment", "run", "time", "mode")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Destination:
    id: str
    name: str
    kind: Kind
    location: str
    format: Format | None = None
    headers: dict[str, str] = field(default_factory=dict)
    secret: str | None = None
    batch_size: int = 500
    created_at: int = 0
    updated_at: int = 0
    # Whether `secret` and the header values are sealed (as stored), or in clear (as checked,
    # as opened for delivery, or as an earlier version stored them).
    sealed: bool = False

    def props(self) -> dict[str, Any]:
        """As stored on the (:Destination) node."""
        return {"id": self.id, "name": self.name, "kind": self.kind.value,
                "location": self.location, "format": self.format.value if self.format else None,
                "headers": json.dumps(self.headers), "secret": self.secret,
                "batchSize": self.batch_size, "secretsSealed": self.sealed}

    @classmethod
    def of(cls, row: dict[str, Any]) -> Destination:
        return cls(row["id"], row["name"], Kind(row["kind"]), row["location"],
                   Format(row["format"]) if row.get("format") else None,
                   json.loads(row.get("headers") or "{}"), row.get("secret"),
                   int(row.get("batchSize") or 500), row.get("createdAt") or 0,
                   row.get("updatedAt") or 0, bool(row.get("secretsSealed")))


@dataclass(frozen=True)
class DestinationSpec:
    """A destination as asked for (GraphQL input, CLI), not yet checked."""

    name: str
    location: str
    kind: Kind | None = None  # None: HTTP for http(s) URLs, else file
    format: Format | None = None
    headers: dict[str, str] | None = None
    secret: str | None = None
    batch_size: int | None = None


def checked(spec: DestinationSpec, allow: AllowList, max_batch: int, id: str
            ) -> Destination:
    """The destination `spec` describes, or INVALID_INPUT / DESTINATION_NOT_ALLOWED."""
    if not NAME.fullmatch(spec.name):
        raise InvalidInput("A destination's name is 1 to 100 characters, no control "
                           "characters.")
    kind = spec.kind or (Kind.HTTP if spec.location.lower().startswith(("http://", "https://"))
                         else Kind.FILE)
    batch = spec.batch_size if spec.batch_size is not None else 500
    if not 1 <= batch <= max_batch:
        raise InvalidInput(f"batchSize must be between 1 and {max_batch}.")
    if kind is Kind.FILE:
        return _file(spec, allow, batch, id)
    return _http(spec, allow, batch, id)


def _file(spec: DestinationSpec, allow: AllowList, batch: int, id: str) -> Destination:
    if spec.headers or spec.secret:
        raise InvalidInput("Headers and a secret belong to HTTP destinations only.")
    check_placeholders(spec.location)
    location = allow.check_file(spec.location)
    fmt = spec.format or guess_format(location)
    return Destination(id, spec.name, Kind.FILE, location, fmt, batch_size=batch)


def _http(spec: DestinationSpec, allow: AllowList, batch: int, id: str) -> Destination:
    if spec.format not in (None, Format.JSONL):
        raise InvalidInput("An HTTP destination receives JSON; leave format out.")
    if _PLACEHOLDER.search(spec.location):
        raise InvalidInput("An HTTP destination's URL takes no placeholders.")
    location = allow.check_http(spec.location)
    headers = check_headers(spec.headers or {})
    if spec.secret is not None and not MIN_SECRET <= len(spec.secret) <= MAX_SECRET:
        raise InvalidInput(f"A signature secret is {MIN_SECRET} to {MAX_SECRET} characters.")
    return Destination(id, spec.name, Kind.HTTP, location, None, headers, spec.secret, batch)


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    """Header names are tokens, values printable ASCII without CR/LF (no header injection);
    the ones delivery sets itself are refused."""
    if len(headers) > MAX_HEADERS:
        raise InvalidInput(f"At most {MAX_HEADERS} headers.")
    seen: set[str] = set()
    for name, value in headers.items():
        if not HEADER_NAME.fullmatch(name) or not isinstance(value, str) \
                or not HEADER_VALUE.fullmatch(value):
            raise InvalidInput(f"Header {name[:64]!r}: names are tokens (letters, digits, "
                               "!#$%&'*+.^_`|~-), values printable ASCII up to 4096 "
                               "characters, no line breaks.", "INVALID_HEADER")
        if name.lower() in RESERVED_HEADERS or name.lower() in seen:
            raise InvalidInput(f"Header {name!r} is set by idgraph or given twice.",
                               "INVALID_HEADER")
        seen.add(name.lower())
    return dict(headers)


def check_placeholders(location: str) -> None:
    for found in _PLACEHOLDER.findall(location):
        if found not in PLACEHOLDERS:
            raise InvalidInput(f"Unknown placeholder {{{found[:40]}}} in the location; "
                               f"known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}.")


def fill(location: str, values: dict[str, str]) -> str:
    """The location with its placeholders filled; values are reduced to letters, digits, `_`
    and `-`, so a value can never add a directory or climb out of one."""
    safe = {k: re.sub(r"[^A-Za-z0-9_-]", "_", v)[:100] for k, v in values.items()}
    return _PLACEHOLDER.sub(lambda m: safe.get(m.group(1), m.group(0)), location)


def guess_format(location: str) -> Format:
    """The format a location's extension names (.csv, .jsonl/.ndjson, .parquet)."""
    lowered = location.lower().removesuffix(".gz")
    for suffix, fmt in ((".csv", Format.CSV), (".jsonl", Format.JSONL),
                        (".ndjson", Format.JSONL), (".parquet", Format.PARQUET)):
        if lowered.endswith(suffix):
            return fmt
    raise InvalidInput("Give a format (CSV, JSONL, PARQUET): the location's extension does "
                       "not name one.")
