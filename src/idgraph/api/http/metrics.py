"""Prometheus metrics: HTTP requests and latencies, GraphQL operations and errors by operation
name, and the Neo4j connection pool; served at /metrics (analyst and admin roles)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase
from starlette.requests import Request
from starlette.responses import Response

from idgraph.auth.roles import Role
from idgraph.db.graph import Graph

M = TypeVar("M", bound=MetricWrapperBase)
ROUTES = frozenset({"/graphql", "/metrics", "/healthz", "/readyz"})
OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_OPERATION_NAMES = 200  # operation names come from clients: bound the label values


class PoolCollector:
    """Reads the driver's pool when Prometheus scrapes, so the numbers are never stale."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    def collect(self) -> Iterator[Metric]:
        in_use, idle = self.graph.pool_stats()
        family = GaugeMetricFamily("idgraph_neo4j_pool_connections",
                                   "Neo4j driver connections by state", labels=["state"])
        family.add_metric(["in_use"], in_use)
        family.add_metric(["idle"], idle)
        yield family


class Metrics:
    """One registry per app, so several apps (tests) can live in one process."""

    def __init__(self, graph: Graph) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("idgraph_http_requests", "HTTP requests",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("idgraph_http_request_duration_seconds",
                                 "HTTP request latency", ["method", "route"], registry=r)
        self.in_flight = Gauge("idgraph_http_requests_in_flight", "HTTP requests being served",
                               registry=r)
        self.operations = Counter("idgraph_graphql_operations", "GraphQL operations",
                                  ["operation", "type"], registry=r)
        self.operation_latency = Histogram("idgraph_graphql_operation_duration_seconds",
                                           "GraphQL operation latency", ["operation"], registry=r)
        self.errors = Counter("idgraph_graphql_errors", "GraphQL errors by code",
                              ["operation", "code"], registry=r)
        r.register(PoolCollector(graph))
        self._names: set[str] = set()
        self._children: dict[tuple[int, tuple[str, ...]], MetricWrapperBase] = {}

    def operation_label(self, name: str | None) -> str:
        if not name or not OPERATION_NAME.fullmatch(name):
            return "anonymous"
        if name not in self._names and len(self._names) >= MAX_OPERATION_NAMES:
            return "other"
        self._names.add(name)
        return name

    def observe_operation(self, name: str | None, kind: str, seconds: float,
                          codes: Iterable[str]) -> None:
        label = self.operation_label(name)
        self._child(self.operations, label, kind).inc()
        self._child(self.operation_latency, label).observe(seconds)
        for code in codes:
            self._child(self.errors, label, code).inc()

    def observe_request(self, method: str, path: str, status: int, seconds: float) -> None:
        route = path if path in ROUTES else "other"
        self._child(self.requests, method, route, str(status)).inc()
        self._child(self.latency, method, route).observe(seconds)

    def _child(self, metric: M, *labels: str) -> M:
        # `labels()` validates and locks on every call (~10 us); every request observes four
        # series, and the label sets are few (bounded operation names, routes, statuses).
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child  # type: ignore[return-value]  # the child of `metric`, keyed by its id


async def metrics_endpoint(request: Request) -> Response:
    principal = getattr(request.state, "principal", None)
    if principal is None or principal.role not in (Role.ANALYST, Role.ADMIN):
        return Response("Forbidden: /metrics needs the analyst or admin role.\n", 403)
    metrics: Metrics = request.app.state.metrics
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
