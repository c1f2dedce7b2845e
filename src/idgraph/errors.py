"""idgraph's expected failures, each with a stable code that API clients can rely on."""

from __future__ import annotations


class IdgraphError(Exception):
    """An expected failure: its message is safe to show to the client, its code is stable."""

    code = "BAD_REQUEST"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code


class NotFound(IdgraphError):
    code = "NOT_FOUND"


class InvalidInput(IdgraphError):
    code = "INVALID_INPUT"
