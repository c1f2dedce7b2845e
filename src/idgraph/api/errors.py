"""Error masking: expected errors keep their message and get `extensions.code`; anything else is
masked for the client, logged with a request id, and the client gets that id too."""

from __future__ import annotations

import logging

from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from idgraph.db.errors import DatabaseError, DatabaseUnavailable
from idgraph.errors import IdgraphError

log = logging.getLogger("idgraph.api.errors")

DATABASE_UNAVAILABLE = "Neo4j is unreachable right now; retry shortly (see /readyz)."
DATABASE_FAILED = "The graph database could not complete this request; retry, or narrow it."


def _with_code(error: GraphQLError, message: str, code: str, **extra) -> GraphQLError:
    return GraphQLError(message, nodes=error.nodes, source=error.source,
                        positions=error.positions, path=error.path,
                        extensions={**(error.extensions or {}), "code": code, **extra})


class IdgraphMaskErrors(MaskErrors):
    """Keeps GraphQL validation errors and IdgraphErrors; masks and logs the rest."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: error.original_error is not None)

    def _request_id(self) -> str:
        context = getattr(self.execution_context, "context", None)
        return getattr(context, "request_id", "-")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        request_id = self._request_id()
        if isinstance(original, IdgraphError):
            return _with_code(error, str(original), original.code)
        if isinstance(original, DatabaseUnavailable):
            log.warning("request %s: %s", request_id, original)
            return _with_code(error, DATABASE_UNAVAILABLE, "DATABASE_UNAVAILABLE",
                              requestId=request_id)
        if isinstance(original, DatabaseError):
            log.error("request %s: %s", request_id, original)
            return _with_code(error, DATABASE_FAILED, "DATABASE_ERROR", requestId=request_id)
        log.error("request %s: unexpected error", request_id, exc_info=original)
        return _with_code(error, f"Unexpected error (request id {request_id}).",
                          "INTERNAL_ERROR", requestId=request_id)
