"""Error masking: expected errors keep their message and get `extensions.code`; anything else is
masked for the client, logged with a request id, and the client gets that id too.

Every error a client sees carries a stable `extensions.code` (docs/api.md lists them)."""

from __future__ import annotations

import logging
import re
from typing import Any

from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from idgraph.db.errors import DatabaseError, DatabaseUnavailable
from idgraph.errors import IdgraphError

log = logging.getLogger("idgraph.api.graphql.errors")

DATABASE_UNAVAILABLE = "Neo4j is unreachable right now; retry shortly (see /readyz)."
DATABASE_FAILED = "The graph database could not complete this request; retry, or narrow it."

# Errors raised by graphql-core and strawberry's limiters carry no code: they are recognised
# by their (stable) message text, first match wins.
_MESSAGE_CODES = (
    ("Document contains more than", "TOO_MANY_TOKENS"),
    ("Syntax Error", "GRAPHQL_PARSE_FAILED"),
    ("exceeds maximum operation depth", "QUERY_TOO_DEEP"),
    ("aliases found. Allowed", "TOO_MANY_ALIASES"),
    ("introspection has been disabled", "INTROSPECTION_DISABLED"),
    ("Variable '$", "BAD_USER_INPUT"),
)
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def code_for(error: GraphQLError) -> str:
    for fragment, code in _MESSAGE_CODES:
        if fragment in error.message:
            return code
    # Without a path the error came before execution: the document did not validate.
    return "GRAPHQL_VALIDATION_FAILED" if error.path is None else "INTERNAL_ERROR"


def _with_code(error: GraphQLError, message: str, code: str, **extra: Any) -> GraphQLError:
    return GraphQLError(message, nodes=error.nodes, source=error.source,
                        positions=error.positions, path=error.path,
                        extensions={**(error.extensions or {}), "code": code, **extra})


def database_failure(error: DatabaseError, request_id: str) -> tuple[str, str]:
    """Log a database failure and say what the client is told: (message, code)."""
    if isinstance(error, DatabaseUnavailable):
        log.warning("request %s: %s", request_id, error)
        return DATABASE_UNAVAILABLE, "DATABASE_UNAVAILABLE"
    log.error("request %s: %s", request_id, error)
    return DATABASE_FAILED, "DATABASE_ERROR"


def unexpected_failure(error: BaseException | None, request_id: str) -> tuple[str, str]:
    """Log an unexpected failure and say what the client is told: (message, code)."""
    log.error("request %s: unexpected error", request_id, exc_info=error)
    return f"Unexpected error (request id {request_id}).", "INTERNAL_ERROR"


def failure_of(error: Exception, request_id: str) -> tuple[str, dict[str, Any]]:
    """What the masking below tells the client of an exception a resolver raised: (message,
    extensions). The compiled ingest (fast_ingest.py) words its failures by it too."""
    if isinstance(error, IdgraphError):
        return str(error), {"code": error.code}
    if isinstance(error, DatabaseError):
        message, code = database_failure(error, request_id)
    else:
        message, code = unexpected_failure(error, request_id)
    return message, {"code": code, "requestId": request_id}


def _should_mask(error: GraphQLError) -> bool:
    # A GraphQLError raised on purpose (a permission check) is meant for the client.
    return error.original_error is not None and not isinstance(
        error.original_error, GraphQLError)


class IdgraphMaskErrors(MaskErrors):
    """Keeps GraphQL validation errors and IdgraphErrors; masks and logs the rest."""

    def __init__(self, hide_suggestions: bool = False) -> None:
        super().__init__(should_mask_error=_should_mask)
        self.hide_suggestions = hide_suggestions

    def _request_id(self) -> str:
        context = getattr(self.execution_context, "context", None)
        return getattr(context, "request_id", "-")

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [self._coded(error) for error in super()._process_errors(errors)]

    def _coded(self, error: GraphQLError) -> GraphQLError:
        message = error.message
        if self.hide_suggestions:
            message = _SUGGESTION.sub("", message)
        if (error.extensions or {}).get("code") and message == error.message:
            return error
        code = (error.extensions or {}).get("code") or code_for(error)
        return _with_code(error, message, code)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        request_id = self._request_id()
        if isinstance(original, Exception):
            message, extensions = failure_of(original, request_id)
            return _with_code(error, message, **extensions)
        message, code = unexpected_failure(original, request_id)
        return _with_code(error, message, code, requestId=request_id)
