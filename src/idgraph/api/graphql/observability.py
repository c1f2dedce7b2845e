"""The schema extension that reports each GraphQL operation to the Prometheus metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from strawberry.extensions import SchemaExtension

if TYPE_CHECKING:
    from idgraph.api.http.metrics import Metrics


class GraphQLMetrics(SchemaExtension):
    """Counts each operation, its latency and its errors (after masking, so codes are final)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        metrics: Metrics | None = getattr(self.execution_context.context, "metrics", None)
        if metrics is None:
            return
        context = self.execution_context
        errors = getattr(context.result, "errors", None) or ()
        metrics.observe_operation(
            context.operation_name, _operation_type(context), time.perf_counter() - started,
            [(error.extensions or {}).get("code", "UNKNOWN") for error in errors])


def _operation_type(context: Any) -> str:
    try:
        return str(context.operation_type.value)
    except Exception:  # noqa: BLE001 - an unparsable document has no operation type
        return "invalid"
