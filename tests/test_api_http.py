"""GraphQL over HTTP by the spec, CORS, request ids, masked errors, metrics, the schema file."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path

import httpx

from idgraph.api.graphql.schema import build_schema
from tests.api_support import LIST_KEYS, api_server, codes, post
from tests.conftest import REPO

AUDIT_DIR = Path(__file__).parent / "http_audit"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def audit_results(url: str) -> list[dict]:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "the GraphQL-over-HTTP audit needs Node.js 18+ and npm on PATH"
    if not (AUDIT_DIR / "node_modules" / "graphql-http").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=AUDIT_DIR, check=True,
                       capture_output=True, timeout=300)
    done = subprocess.run([node, "audit.mjs", url], cwd=AUDIT_DIR, check=True,
                          capture_output=True, text=True, timeout=300)
    return json.loads(done.stdout)


def test_graphql_http_server_audit_passes(live_api, empty_graph):
    results = audit_results(f"{live_api.url}/graphql")
    assert len(results) > 50
    failed = [r for r in results if r["status"] != "ok"]
    assert failed == [], json.dumps(failed, indent=2)


def test_request_errors_by_media_type(live_api, empty_graph):
    bad = {"query": "{ noSuchField }"}
    legacy = httpx.post(f"{live_api.url}/graphql", json=bad)
    modern = httpx.post(f"{live_api.url}/graphql", json=bad, headers={"Accept": GRAPHQL_RESPONSE})
    assert legacy.status_code == 200
    assert legacy.headers["content-type"].startswith("application/json")
    assert modern.status_code == 400
    assert modern.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    for response in (legacy, modern):
        assert "data" not in response.json()  # a request error: nothing executed
        assert codes(response.json()) == ["GRAPHQL_VALIDATION_FAILED"]


def test_a_tripped_limit_is_a_400_request_error(neo4j_server, empty_graph):
    aliases = "{ " + " ".join(f"v{i}: version" for i in range(3)) + " }"
    with api_server(neo4j_server, max_aliases=2) as server:
        response = post(server.url, aliases, headers={"Accept": GRAPHQL_RESPONSE})
    assert response.status_code == 400 and codes(response.json()) == ["TOO_MANY_ALIASES"]


def test_get_serves_queries_and_refuses_mutations(live_api, empty_graph):
    url = f"{live_api.url}/graphql"
    query = httpx.get(url, params={"query": "{ version }"}, headers={"Accept": "application/json"})
    assert query.status_code == 200 and query.json()["data"]["version"]
    mutation = httpx.get(url, params={"query": 'mutation { createApiKey(name: "x", role: APP) '
                                               "{ key } }"})
    assert mutation.status_code == 405 and "POST" in mutation.headers["allow"]


def test_cors_allows_configured_origins_only(neo4j_server, empty_graph):
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    with api_server(neo4j_server, cors_origins="https://app.example.com") as server:
        allowed = httpx.options(f"{server.url}/graphql", headers={
            "Origin": "https://app.example.com", **preflight})
        refused = httpx.options(f"{server.url}/graphql", headers={
            "Origin": "https://evil.example.net", **preflight})
        simple = post(server.url, "{ version }", headers={"Origin": "https://app.example.com"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in refused.headers
    assert simple.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()


def test_unexpected_error_is_masked_with_the_request_id(live_api, empty_graph, monkeypatch,
                                                        caplog):
    async def broken(*args, **kwargs):
        raise RuntimeError("secret internals: bolt://admin:hunter2@db")

    monkeypatch.setattr(live_api.app.state.api_keys, "page", broken)
    with caplog.at_level(logging.ERROR, logger="idgraph.api.graphql.errors"):
        response = post(live_api.url, LIST_KEYS)
    body = response.json()
    request_id = response.headers["x-request-id"]
    error = body["errors"][0]
    assert "hunter2" not in response.text and "secret" not in error["message"]
    assert error["extensions"] == {"code": "INTERNAL_ERROR", "requestId": request_id}
    assert request_id in error["message"]
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged and "hunter2" in str(logged[0].exc_info[1])  # full detail in the log only


def test_caller_request_id_is_echoed(live_api, empty_graph):
    response = post(live_api.url, "{ version }", headers={"X-Request-Id": "trace-1234abcd"})
    assert response.headers["x-request-id"] == "trace-1234abcd"
    generated = post(live_api.url, "{ version }", headers={"X-Request-Id": "bad id; drop"})
    assert generated.headers["x-request-id"] != "bad id; drop"


def test_metrics_count_operations_errors_and_pool(live_api, empty_graph):
    post(live_api.url, "query Versions { version }")
    post(live_api.url, "query Broken { noSuchField }")
    text = httpx.get(f"{live_api.url}/metrics").text
    assert 'idgraph_graphql_operations_total{operation="Versions",type="query"}' in text
    assert 'idgraph_graphql_errors_total{code="GRAPHQL_VALIDATION_FAILED",operation="Broken"}' \
        in text
    assert 'idgraph_http_requests_total{method="POST",route="/graphql",status="200"}' in text
    assert "idgraph_http_request_duration_seconds_bucket" in text
    assert 'idgraph_neo4j_pool_connections{state="in_use"}' in text


def test_schema_file_matches_the_code():
    on_disk = (REPO / "schema.graphql").read_text()
    assert on_disk == build_schema().as_str() + "\n", (
        "schema.graphql is out of date: regenerate it with `.venv/bin/idgraph schema export`")
