"""`idgraph serve` through the CLI: it serves GraphQL and writes one JSON access line per
request, carrying the request id the client got back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx

from tests.conftest import free_port


def test_serve_logs_one_json_access_line_per_request(neo4j_server, empty_graph):
    port = free_port()
    env = {**os.environ, "NEO4J_URI": neo4j_server.uri, "IDGRAPH_OPEN_LOOPBACK": "true",
           "NEO4J_PASSWORD": neo4j_server.auth[1] if neo4j_server.auth else ""}
    server = subprocess.Popen([sys.executable, "-m", "idgraph", "serve", "--port", str(port)],
                              env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/healthz")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "serve did not start"
                time.sleep(0.2)
        answer = httpx.post(f"{url}/graphql", json={"query": "{ version }"},
                            headers={"x-request-id": "serve-test-0001"})
        assert answer.status_code == 200 and answer.json()["data"]["version"]
        assert answer.headers["x-request-id"] == "serve-test-0001"
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("request_id") == "serve-test-0001"]
    assert [(a["logger"], a["path"], a["status"]) for a in access] == [
        ("idgraph.api.access", "/graphql", 200)]
    assert access[0]["duration_ms"] >= 0


def test_demo_implies_open_loopback_mode_unless_the_setting_says_otherwise(monkeypatch):
    from idgraph.cli import serve_settings

    monkeypatch.delenv("IDGRAPH_OPEN_LOOPBACK", raising=False)
    assert serve_settings(demo=False).open_loopback is False
    assert serve_settings(demo=True).open_loopback is True
    monkeypatch.setenv("IDGRAPH_OPEN_LOOPBACK", "false")
    assert serve_settings(demo=True).open_loopback is False
