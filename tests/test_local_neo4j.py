"""The managed local Neo4j through the CLI: idempotent start, truthful status, clean stop,
clear failures; and the API's readiness when that Neo4j dies and comes back."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from idgraph.config import Settings
from tests.conftest import LiveServer, Neo4jServer, free_port, settings_for

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("NEO4J_URI")), reason="managed local Neo4j is used only without NEO4J_URI"
)
IDGRAPH = [sys.executable, "-m", "idgraph"]


def run_cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*IDGRAPH, *args], env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=timeout)


def java_processes(state_dir: Path) -> list[int]:
    out = subprocess.run(["pgrep", "-f", "--", f"--home-dir={state_dir.resolve()}"],
                         capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def login(state_dir: Path) -> tuple[str, str]:
    """The private server's user and generated password."""
    from idgraph.db.local_auth import USER, read_password

    password = read_password(state_dir.resolve())
    assert password, "no generated password"
    return USER, password


@pytest.fixture
def own_server(tmp_path: Path):
    """CLI environment for a private managed server on free ports; stopped afterwards."""
    bolt = free_port()
    env = {"IDGRAPH_LOCAL_NEO4J_STATE_DIR": str(tmp_path / "neo4j"),
           "IDGRAPH_LOCAL_NEO4J_PORT": str(bolt),
           "IDGRAPH_LOCAL_NEO4J_HEAP": "512m", "IDGRAPH_LOCAL_NEO4J_PAGECACHE": "128m"}
    yield env, tmp_path / "neo4j", bolt
    run_cli(env, "neo4j", "stop")


def test_start_is_idempotent_status_is_truthful_and_stop_leaves_nothing(own_server):
    env, state_dir, bolt = own_server
    assert run_cli(env, "neo4j", "status").returncode == 3  # stopped before the first start

    first = run_cli(env, "neo4j", "start")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == f"bolt://127.0.0.1:{bolt}"
    pids = java_processes(state_dir)
    assert len(pids) == 1

    second = run_cli(env, "neo4j", "start")
    assert second.returncode == 0
    assert java_processes(state_dir) == pids  # reused, not a second server
    status = run_cli(env, "neo4j", "status")
    assert status.returncode == 0 and status.stdout.startswith("running")

    assert run_cli(env, "neo4j", "stop").stdout.strip() == "stopped"
    assert java_processes(state_dir) == []
    assert run_cli(env, "neo4j", "status").stdout.startswith("stopped")


def test_status_reports_a_crash_and_start_recovers(own_server):
    env, state_dir, _ = own_server
    assert run_cli(env, "neo4j", "start").returncode == 0
    os.kill(java_processes(state_dir)[0], signal.SIGKILL)
    time.sleep(1)
    status = run_cli(env, "neo4j", "status")
    assert status.returncode == 3 and status.stdout.startswith("crashed")
    restarted = run_cli(env, "neo4j", "start")
    assert restarted.returncode == 0, restarted.stderr
    assert len(java_processes(state_dir)) == 1


def test_port_taken_is_a_clear_error(own_server):
    env, state_dir, bolt = own_server
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", bolt))
        squatter.listen()
        result = run_cli(env, "neo4j", "start", timeout=60)
    assert result.returncode != 0
    assert f"Port {bolt}" in result.stderr and "taken" in result.stderr
    assert java_processes(state_dir) == []


def test_missing_java_is_a_clear_error(own_server, tmp_path):
    env, state_dir, _ = own_server
    result = run_cli({**env, "JAVA_HOME": str(tmp_path / "no-jdk")}, "neo4j", "start", timeout=60)
    assert result.returncode != 0
    assert "Java not found" in result.stderr and "JAVA_HOME" in result.stderr
    assert java_processes(state_dir) == []


def test_api_reports_neo4j_down_and_recovers_when_it_returns(own_server, empty_graph):
    env, state_dir, bolt = own_server
    assert run_cli(env, "neo4j", "start").returncode == 0
    server = Neo4jServer(f"bolt://127.0.0.1:{bolt}", login(state_dir), "private")
    with LiveServer(settings_for(server, neo4j_query_timeout=5)) as api:
        client = httpx.Client(base_url=api.url, timeout=30)
        assert client.get("/readyz").status_code == 200

        os.kill(java_processes(state_dir)[0], signal.SIGKILL)
        time.sleep(1)
        down = client.get("/readyz")
        assert down.status_code == 503
        assert "unreachable" in down.json()["reason"]
        body = client.post("/graphql", json={"query": "{ health { neo4j } }"}).json()
        assert body["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
        assert "Traceback" not in str(body)

        assert run_cli(env, "neo4j", "start").returncode == 0
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert client.get("/readyz").status_code == 200
        assert client.post("/graphql", json={"query": "{ health { neo4j } }"}).json() == {
            "data": {"health": {"neo4j": "ok"}}}


def test_a_neo4j_that_stops_answering_fails_reads_at_the_deadline_then_recovers(own_server,
                                                                               empty_graph):
    # SIGSTOP keeps the sockets open and silent: without idgraph's own deadline per operation
    # (the driver has no receive timeout here) the read would wait forever.
    env, state_dir, bolt = own_server
    assert run_cli(env, "neo4j", "start").returncode == 0
    server = Neo4jServer(f"bolt://127.0.0.1:{bolt}", login(state_dir), "private")
    query = ("query($i: IdentityInput!) { profile(identity: $i) { id } }",
             {"i": {"namespace": "crm", "value": "C1"}})
    with LiveServer(settings_for(server, neo4j_query_timeout=1, neo4j_retry_seconds=0)) as api:
        client = httpx.Client(base_url=api.url, timeout=60)

        def read() -> httpx.Response:
            return client.post("/graphql", json={"query": query[0], "variables": query[1]})

        warm = time.monotonic() + 60  # a fresh JVM may need more than 1 s for the first plan
        while read().json() != {"data": {"profile": None}} and time.monotonic() < warm:
            time.sleep(0.5)
        assert read().json() == {"data": {"profile": None}}
        java = java_processes(state_dir)[0]
        os.kill(java, signal.SIGSTOP)
        try:
            started = time.monotonic()
            stuck = read().json()
            waited = time.monotonic() - started
        finally:
            os.kill(java, signal.SIGCONT)
        assert stuck["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE", stuck
        assert 5 <= waited < 30  # the deadline: query timeout + retry time + 5 s
        assert read().json() == {"data": {"profile": None}}  # the pool is not poisoned


def test_missing_maven_on_first_start_is_a_clear_error(own_server, tmp_path):
    env, state_dir, _ = own_server
    java_home = str(Path(os.path.realpath(shutil.which("java"))).parents[1])
    result = run_cli({**env, "JAVA_HOME": java_home, "PATH": str(tmp_path),
                      "IDGRAPH_LOCAL_NEO4J_CACHE_DIR": str(tmp_path / "empty-cache")},
                     "neo4j", "start", timeout=60)
    assert result.returncode != 0
    assert "Maven (`mvn`) not found" in result.stderr and "NEO4J_URI" in result.stderr


def test_neo4j_that_does_not_come_up_is_a_clear_error(own_server):
    env, state_dir, _ = own_server
    result = run_cli({**env, "IDGRAPH_LOCAL_NEO4J_HEAP": "4096g"}, "neo4j", "start",
                     timeout=120)
    assert result.returncode != 0
    assert "Neo4j exited during start-up" in result.stderr and "console.log" in result.stderr
    assert java_processes(state_dir) == []


def _login_refused(uri: str, auth: tuple[str, str] | None) -> bool:
    import neo4j
    from neo4j.exceptions import AuthError

    try:
        with neo4j.GraphDatabase.driver(uri, auth=auth, connection_timeout=5) as driver:
            driver.verify_connectivity()
    except AuthError:
        return True
    return False


async def _idgraph_reaches(env: dict[str, str]) -> bool:
    """What idgraph itself does without NEO4J_URI: the managed server, its stored login."""
    from idgraph.config import Settings
    from idgraph.db.connect import graph_for

    settings = Settings(local_neo4j_state_dir=Path(env["IDGRAPH_LOCAL_NEO4J_STATE_DIR"]),
                        local_neo4j_port=int(env["IDGRAPH_LOCAL_NEO4J_PORT"]), neo4j_uri=None)
    graph = graph_for(settings, start_local=False)
    try:
        rows = await graph.read("SHOW SETTINGS YIELD name, value "
                                "WHERE name IN ['dbms.security.auth_enabled', "
                                "'server.http.enabled'] RETURN name, value")
        return {r["name"]: r["value"] for r in rows} == {
            "dbms.security.auth_enabled": "true", "server.http.enabled": "false"}
    finally:
        await graph.close()


async def test_the_managed_server_needs_its_generated_password(own_server):
    env, state_dir, bolt = own_server
    assert run_cli(env, "neo4j", "start").returncode == 0
    uri = f"bolt://127.0.0.1:{bolt}"
    password_file = state_dir / "neo4j-password"
    assert password_file.stat().st_mode & 0o777 == 0o600
    assert _login_refused(uri, None) and _login_refused(uri, ("neo4j", "neo4j"))
    assert _login_refused(uri, ("neo4j", "not-the-password"))
    assert not _login_refused(uri, login(state_dir))
    assert _setting(uri, login(state_dir), "db.tx_log.rotation.retention_policy") == "2 files"
    assert await _idgraph_reaches(env)
    status = run_cli(env, "neo4j", "status").stdout
    assert f"password {login(state_dir)[1]}" in status and str(password_file) in status


def _setting(uri: str, auth: tuple[str, str], name: str) -> str:
    """A setting's value as the running server applies it."""
    import neo4j

    with neo4j.GraphDatabase.driver(uri, auth=auth) as drv:
        rows = drv.execute_query("SHOW SETTINGS YIELD name, value WHERE name = $name "
                                 "RETURN value", name=name).records
    return str(rows[0]["value"])


def test_a_store_made_without_authentication_is_upgraded(own_server, monkeypatch):
    # A store and a running server from before authentication: the conf said auth off, and
    # no password file exists. `start` restarts the server with auth on, changes the default
    # password to a generated one, and idgraph then logs in with it.
    import asyncio

    from idgraph.db import local_auth, local_server

    env, state_dir, bolt = own_server
    cfg = local_server.LocalServerConfig(
        version=Settings().local_neo4j_version, bolt_port=bolt, state_dir=state_dir,
        cache_dir=Settings().local_neo4j_cache_dir, heap="512m", pagecache="128m")
    with monkeypatch.context() as legacy:
        conf = local_server._conf_text
        legacy.setattr(local_server, "_conf_text", lambda c: conf(c).replace(
            "dbms.security.auth_enabled=true", "dbms.security.auth_enabled=false"))
        legacy.setattr(local_auth, "set_initial_password", lambda *args: None)
        legacy.setattr(local_auth, "upgrade", lambda *args: None)
        local_server.start(cfg)
    (state_dir / "neo4j-password").unlink()
    uri = f"bolt://127.0.0.1:{bolt}"
    assert not _login_refused(uri, None)  # the old server: no authentication at all

    started = run_cli(env, "neo4j", "start")
    assert started.returncode == 0, started.stderr
    assert "authentication on" in started.stderr
    assert len(java_processes(state_dir)) == 1
    assert _login_refused(uri, None) and _login_refused(uri, ("neo4j", "neo4j"))
    assert not _login_refused(uri, login(state_dir))
    assert asyncio.run(_idgraph_reaches(env))


def test_generated_passwords_are_never_taken_for_an_option():
    """neo4j-admin (picocli) reads an argument starting with "-" as an option: a password of
    token_urlsafe made 1 new store in 64 fail to start."""
    from idgraph.db.local_auth import generate_password

    passwords = [generate_password() for _ in range(3000)]
    assert all(p.isalnum() and len(p) >= 32 for p in passwords)
    assert len(set(passwords)) == len(passwords)
