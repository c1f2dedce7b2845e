"""Helpers of the segments' GraphQL module: rule errors with their place, cursors, times."""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from graphql import GraphQLError
from strawberry import relay

from idgraph.api.graphql.common import from_millis
from idgraph.clock import now_ms
from idgraph.errors import InvalidInput
from idgraph.identity.items import to_millis
from idgraph.segments.errors import (
    SegmentCycleError,
    SegmentError,
    SegmentSyntaxError,
    SegmentTypeError,
    UnknownSegment,
)


@contextlib.contextmanager
def segment_errors() -> Iterator[None]:
    """Rule errors as GraphQL errors whose extensions say where and what (line, column,
    expected; path; cycle; segmentId), beside their code."""
    try:
        yield
    except SegmentError as exc:
        raise GraphQLError(str(exc), extensions={"code": exc.code, **_details(exc)}) from exc


def _details(exc: SegmentError) -> dict[str, Any]:
    if isinstance(exc, SegmentSyntaxError):
        return {"line": exc.line, "column": exc.column, "expected": list(exc.expected)}
    if isinstance(exc, SegmentTypeError):
        return {"path": exc.path} if exc.path else {}
    if isinstance(exc, SegmentCycleError):
        return {"cycle": list(exc.cycle)}
    if isinstance(exc, UnknownSegment):
        return {"segmentId": exc.segment_id}
    return {}


def connection(edges: list[Any], more: bool, after: str | None) -> relay.Connection[Any]:
    return relay.Connection(edges=edges, page_info=relay.PageInfo(
        has_next_page=more, has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None))


def encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def _decode(cursor: str) -> str:
    try:
        return base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("`after` is not a cursor from this connection.") from None


def member_after(cursor: str | None) -> str:
    return "" if cursor is None else _decode(cursor)


def segment_after(cursor: str | None) -> tuple[int, str] | None:
    if cursor is None:
        return None
    at, _, segment_id = _decode(cursor).partition("|")
    if not at.isdigit() or not segment_id:
        raise InvalidInput("`after` is not a cursor from this connection.")
    return int(at), segment_id


def millis_or_now(value: datetime | None) -> int:
    """`asOf` in epoch milliseconds; now when not given."""
    return now_ms() if value is None else to_millis(value)


def moment(ms: int) -> datetime:
    """Epoch milliseconds (never null here) as a datetime."""
    found = from_millis(ms)
    assert found is not None
    return found


def text_or_none(value: object | None) -> str | None:
    return None if value is None else str(value)
