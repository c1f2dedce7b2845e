"""Test fixtures: one real Neo4j per session, an empty graph per test, the API over real HTTP.

Neo4j comes from NEO4J_URI when set, else a testcontainers container when a Docker engine
answers, else the managed local server on its own port and state directory (never the demo's).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import neo4j
import pytest
import uvicorn

from idgraph.config import Settings

REPO = Path(__file__).resolve().parents[1]
TEST_BOLT_PORT_ENV = os.environ.get("IDGRAPH_TEST_NEO4J_PORT", "17688")
TEST_BOLT_PORT = int(TEST_BOLT_PORT_ENV)
TEST_STATE_DIR = REPO / ".idgraph" / f"neo4j-test-{TEST_BOLT_PORT}"


@dataclass(frozen=True)
class Neo4jServer:
    uri: str
    # (user, password); the managed server's generated one (db/local_auth.py)
    auth: tuple[str, str] | None
    how: str


def _docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (subprocess.TimeoutExpired, OSError):
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def managed_test_config(bolt_port: int = TEST_BOLT_PORT, state_dir: Path = TEST_STATE_DIR):
    from idgraph.db.local_server import LocalServerConfig

    return LocalServerConfig(
        version=Settings().local_neo4j_version, bolt_port=bolt_port,
        state_dir=state_dir, cache_dir=Settings().local_neo4j_cache_dir,
        heap="1g", pagecache="256m",
    )


@pytest.fixture(scope="session")
def neo4j_server() -> Iterator[Neo4jServer]:
    if os.environ.get("NEO4J_URI"):
        password = os.environ.get("NEO4J_PASSWORD")
        auth = (os.environ.get("NEO4J_USER", "neo4j"), password) if password else None
        yield Neo4jServer(os.environ["NEO4J_URI"], auth, "NEO4J_URI")
    elif _docker_answers():
        from testcontainers.neo4j import Neo4jContainer

        with Neo4jContainer("neo4j:5.26-community") as container:
            yield Neo4jServer(container.get_connection_url(),
                              ("neo4j", container.password), "testcontainers")
    else:
        from idgraph.db import local_server

        cfg = managed_test_config()
        was_running = local_server.status(cfg).state == "running"
        uri = local_server.start(cfg, log=lambda msg: print(msg, flush=True))
        yield Neo4jServer(uri, cfg.auth, "managed local")  # its generated password
        if not was_running:
            local_server.stop(cfg)


@pytest.fixture(scope="session")
def driver(neo4j_server: Neo4jServer) -> Iterator[neo4j.Driver]:
    with neo4j.GraphDatabase.driver(neo4j_server.uri, auth=neo4j_server.auth) as drv:
        yield drv


def wipe(drv: neo4j.Driver) -> None:
    """Empty the graph but keep the applied schema (its migrations are tracked nodes)."""
    with drv.session() as session:
        session.run("MATCH (n) WHERE NOT n:SchemaMigration DETACH DELETE n").consume()


@pytest.fixture
def cypher(driver: neo4j.Driver):
    """Run Cypher directly against the test database; returns rows as dicts."""

    def run(query: str, **params):
        with driver.session() as session:
            return [record.data() for record in session.run(query, params)]

    return run


@pytest.fixture
def empty_graph(driver: neo4j.Driver) -> neo4j.Driver:
    wipe(driver)
    return driver


def settings_for(server: Neo4jServer, **overrides) -> Settings:
    """Test settings: this server, open loopback mode (keyless test clients are admins while
    no key is configured; tests of the refusals turn it off), no settler of deferred ingests."""
    values = {"neo4j_uri": server.uri, "neo4j_user": "neo4j",
              "neo4j_password": server.auth[1] if server.auth else "", "open_loopback": True,
              # No settler: one running in a shared server would settle other tests' deferred
              # ingests behind their backs (tests/test_ingest_deferred.py starts its own).
              "settle_poll_seconds": 0}
    values.update(overrides)
    return Settings(**values)


class LiveServer:
    """uvicorn serving create_app() on a free loopback port, in a background thread."""

    def __init__(self, settings: Settings) -> None:
        from idgraph.api.http.app import create_app, uvicorn_options

        self.port = free_port()
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", **uvicorn_options(settings))  # as `idgraph serve`
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        # Generous: on a loaded machine (2 cores, load average 20+) the app's imports and
        # lifespan took over 30 s; a start-up deadline must not be what a test measures.
        deadline = time.monotonic() + 180
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("API server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="session")
def live_api(neo4j_server: Neo4jServer) -> Iterator[LiveServer]:
    with LiveServer(settings_for(neo4j_server)) as server:
        yield server


class GraphQLClient:
    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60, headers=headers or {})

    def post(self, query: str, variables: dict | None = None, **kwargs) -> httpx.Response:
        return self.http.post("/graphql", json={"query": query, "variables": variables or {}},
                              **kwargs)

    def __call__(self, query: str, variables: dict | None = None) -> dict:
        """Execute and return `data`, failing the test on any GraphQL error."""
        response = self.post(query, variables)
        body = response.json()
        assert response.status_code == 200 and not body.get("errors"), body
        return body["data"]


@pytest.fixture
def gql(live_api: LiveServer, empty_graph) -> Iterator[GraphQLClient]:
    assert live_api.app.state.api_keys.open_mode, (
        "a test closed open loopback mode on the shared live_api (a key existed while it "
        "served): create keys on a server of the test's own (api_server)")
    client = GraphQLClient(live_api.url)
    yield client
    client.http.close()


@pytest.fixture
async def services(neo4j_server: Neo4jServer, empty_graph):
    """The app's services in-process (for schema.execute tests), on an empty graph."""
    from idgraph.db.connect import graph_for
    from idgraph.db.schema import apply_schema
    from idgraph.services import Services

    settings = settings_for(neo4j_server)
    graph = graph_for(settings, start_local=False)
    await apply_schema(graph)
    yield Services.build(settings, graph)
    await graph.close()


async def execute_counting_round_trips(services, query: str, variables: dict, role):
    """Run a GraphQL document in-process; returns (result, Neo4j round trips it cost)."""
    from idgraph.api.graphql.context import Context
    from idgraph.api.graphql.schema import build_schema
    from idgraph.db.graph import start_counting_round_trips

    trips = start_counting_round_trips()
    result = await build_schema(services.settings).execute(
        query, variable_values=variables,
        context_value=Context(services=services, request=None, role=role))
    return result, trips[0]
