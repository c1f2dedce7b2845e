"""`idgraph serve` through the CLI: it serves GraphQL and writes one access line per request,
carrying the request id the client got back: JSON when stderr is not a terminal (or when
asked), readable text on a terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import select
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


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _serve_on_a_terminal(neo4j_server, **env_extra: str) -> list[str]:
    """Run `idgraph serve` with stderr on a pseudo-terminal, send one request, return the
    lines it printed (colours removed)."""
    port = free_port()
    env = {**os.environ, "NEO4J_URI": neo4j_server.uri,
           "NEO4J_PASSWORD": neo4j_server.auth[1] if neo4j_server.auth else "",
           "IDGRAPH_OPEN_LOOPBACK": "true", **env_extra}
    env.pop("NO_COLOR", None)
    controller, terminal = pty.openpty()
    server = subprocess.Popen([sys.executable, "-m", "idgraph", "serve", "--port", str(port)],
                              env=env, stderr=terminal, stdout=subprocess.DEVNULL)
    os.close(terminal)
    output = b""
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            output += _read_available(controller)
            try:
                httpx.get(f"{url}/healthz")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, output.decode()
                time.sleep(0.2)
        httpx.post(f"{url}/graphql", json={"query": "{ version }"},
                   headers={"x-request-id": "tty-test-0001"})
        time.sleep(0.5)
        output += _read_available(controller)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        output += _read_available(controller)
        os.close(controller)
    return [ANSI.sub("", line) for line in output.decode(errors="replace").splitlines()]


def _read_available(fd: int) -> bytes:
    data = b""
    while select.select([fd], [], [], 0.05)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the terminal closed with the server
            break
        if not chunk:
            break
        data += chunk
    return data


def test_serve_prints_readable_lines_on_a_terminal(neo4j_server, empty_graph):
    lines = _serve_on_a_terminal(neo4j_server)
    access = [line for line in lines if "tty-test-0001" in line]
    assert len(access) == 1, lines
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}  INFO     idgraph\.api\.access  POST /graphql "
                        r"200  [\d.]+ ms  \[tty-test-0001\]", access[0].strip()), access
    assert not any(line.startswith("{") for line in lines)


def test_serve_prints_json_on_a_terminal_when_asked(neo4j_server, empty_graph):
    lines = _serve_on_a_terminal(neo4j_server, IDGRAPH_LOG_FORMAT="json")
    access = [json.loads(line) for line in lines if "tty-test-0001" in line]
    assert [(a["logger"], a["path"], a["status"]) for a in access] == [
        ("idgraph.api.access", "/graphql", 200)]


def test_demo_implies_open_loopback_mode_unless_the_setting_says_otherwise(monkeypatch):
    from idgraph.cli import serve_settings

    monkeypatch.delenv("IDGRAPH_OPEN_LOOPBACK", raising=False)
    assert serve_settings(demo=False).open_loopback is False
    assert serve_settings(demo=True).open_loopback is True
    monkeypatch.setenv("IDGRAPH_OPEN_LOOPBACK", "false")
    assert serve_settings(demo=True).open_loopback is False
