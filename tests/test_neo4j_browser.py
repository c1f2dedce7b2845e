"""Neo4j Browser on the managed local Neo4j: off unless asked for; when asked, served on
127.0.0.1 only, advertising the Bolt address it must connect to, and announced by the CLI."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.test_local_neo4j import run_cli

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("NEO4J_URI")), reason="managed local Neo4j is used only without NEO4J_URI"
)
# 127.0.0.1 as /proc/net/tcp writes it, and as tcp6 writes ::ffff:127.0.0.1 (Java's choice).
LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F"}


def listeners(port: int) -> set[str]:
    """The local addresses (hex) listening on `port`, from /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


@pytest.fixture
def browser_server(tmp_path: Path):
    bolt, http = free_port(), free_port()
    env = {"IDGRAPH_LOCAL_NEO4J_STATE_DIR": str(tmp_path / "neo4j"),
           "IDGRAPH_LOCAL_NEO4J_PORT": str(bolt), "IDGRAPH_LOCAL_NEO4J_BROWSER_PORT": str(http),
           "IDGRAPH_LOCAL_NEO4J_HEAP": "512m", "IDGRAPH_LOCAL_NEO4J_PAGECACHE": "128m",
           "IDGRAPH_NEO4J_BROWSER": "true"}
    yield env, bolt, http
    run_cli(env, "neo4j", "stop")


def test_start_serves_neo4j_browser_on_loopback_and_says_where(browser_server):
    env, bolt, http = browser_server
    started = run_cli(env, "neo4j", "start")
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip().splitlines()[-1] == f"bolt://127.0.0.1:{bolt}"
    password = (Path(env["IDGRAPH_LOCAL_NEO4J_STATE_DIR"]) / "neo4j-password").read_text().strip()
    assert (f"Neo4j Browser: http://127.0.0.1:{http}/browser/  (connect to "
            f"bolt://127.0.0.1:{bolt}; user neo4j, password {password}") in started.stderr

    page = httpx.get(f"http://127.0.0.1:{http}/browser/", timeout=30)
    assert page.status_code == 200 and "<title>Neo4j Browser</title>" in page.text
    discovery = httpx.get(f"http://127.0.0.1:{http}/", headers={"Accept": "application/json"},
                          timeout=30).json()
    assert discovery["bolt_direct"] == f"bolt://127.0.0.1:{bolt}"
    assert listeners(http) and listeners(http) <= LOOPBACK

    status = run_cli(env, "neo4j", "status")
    assert f"Neo4j Browser: http://127.0.0.1:{http}/browser/" in status.stdout


def test_a_password_file_is_shown_with_the_browser_address(browser_server):
    env, bolt, http = browser_server
    state_dir = Path(env["IDGRAPH_LOCAL_NEO4J_STATE_DIR"])
    state_dir.mkdir(parents=True)
    (state_dir / "neo4j-password").write_text("s3cret-generated\n")
    status = run_cli(env, "neo4j", "status")  # stopped: no address printed
    assert "Neo4j Browser" not in status.stdout

    from idgraph.db import browser
    from idgraph.db.local_server import LocalServerConfig

    cfg = LocalServerConfig("5.26.30", bolt, state_dir, Path("/nonexistent"), browser=True,
                            browser_port=http)
    assert browser.banner(cfg, running_cmdline=None) == (
        f"Neo4j Browser: http://127.0.0.1:{http}/browser/  (connect to bolt://127.0.0.1:{bolt}; "
        f"user neo4j, password s3cret-generated "
        f"(from {state_dir.resolve() / 'neo4j-password'}))")
    assert browser.banner(LocalServerConfig("5.26.30", bolt, state_dir, Path("/x")),
                          running_cmdline=None) is None
