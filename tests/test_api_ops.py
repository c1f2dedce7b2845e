"""Operability: structured log lines with request ids, graceful shutdown."""

from __future__ import annotations

import json
import logging
import threading

import httpx

from idgraph.api.http.logs import JsonFormatter, RequestIdFilter, request_id_var
from tests.conftest import LiveServer, settings_for


def test_log_lines_are_json_with_the_request_id():
    record = logging.LogRecord("idgraph.api", logging.INFO, __file__, 1, "served %s", ("x",),
                               None)
    record.status = 200  # as passed with extra=
    token = request_id_var.set("req-0001")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "served x" and line["request_id"] == "req-0001"
    assert line["level"] == "info" and line["status"] == 200


def test_shutdown_finishes_in_flight_requests(neo4j_server, empty_graph):
    server = LiveServer(settings_for(neo4j_server)).__enter__()
    first_half_sent, send_rest = threading.Event(), threading.Event()
    answer: dict[str, httpx.Response] = {}

    def body():
        yield b'{"query": '
        first_half_sent.set()
        send_rest.wait(60)
        yield b'"{ version }"}'

    def request():
        answer["response"] = httpx.post(f"{server.url}/graphql", content=body(), timeout=60,
                                        headers={"Content-Type": "application/json"})

    client = threading.Thread(target=request)
    client.start()
    assert first_half_sent.wait(60)
    server.server.should_exit = True  # what SIGTERM does
    for _ in range(600):  # wait until the server no longer accepts new connections
        try:
            httpx.get(f"{server.url}/healthz", timeout=5)
        except httpx.TransportError:
            break
        threading.Event().wait(0.05)
    else:
        raise AssertionError("the server kept accepting connections after should_exit")
    send_rest.set()
    client.join(60)
    server.thread.join(60)
    response = answer["response"]
    assert response.status_code == 200 and response.json()["data"]["version"]
