"""The segment language's expected failures: each an `InvalidInput` with its own stable code,
so the API can show the message and a rule builder can point at the place."""

from __future__ import annotations

from collections.abc import Sequence

from idgraph.errors import InvalidInput


class SegmentError(InvalidInput):
    """A rule that cannot be used (the base of the errors below)."""

    code = "SEGMENT_INVALID"


class SegmentSyntaxError(SegmentError):
    """Rule text that does not parse: where (1-based line and column) and what was expected."""

    code = "SEGMENT_SYNTAX"

    def __init__(self, line: int, column: int, expected: Sequence[str], message: str) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column
        self.expected = tuple(expected)
        self.reason = message


class SegmentTypeError(SegmentError):
    """A rule comparing something with a value of the wrong type; `path` names the attribute
    (or computed attribute, event property) when there is one."""

    code = "SEGMENT_TYPE"

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class SegmentCycleError(SegmentError):
    """Segments that include each other through inSegment(...); `cycle` is the loop of ids."""

    code = "SEGMENT_CYCLE"

    def __init__(self, cycle: Sequence[str]) -> None:
        super().__init__("segments include each other: " + " -> ".join(cycle))
        self.cycle = tuple(cycle)


class UnknownSegment(SegmentError):
    """inSegment(...) names a segment the lookup does not know."""

    code = "SEGMENT_UNKNOWN"

    def __init__(self, segment_id: str) -> None:
        super().__init__(f"inSegment({segment_id!r}): no such segment")
        self.segment_id = segment_id
