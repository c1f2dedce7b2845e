"""Saved explorations through their ways in: GraphQL (roles, read-only, time limit, row limit,
bad parameters) and the `idgraph cypher` command (table, JSON, CSV, errors)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from idgraph.api.graphql.permissions import Role
from tests.api_support import KEY_SPEC, KEYS, api_server, codes, post
from tests.identity_helpers import ingest, record

RUN = """query Run($name: String!, $params: JSON, $limit: Int) {
  runSavedQuery(name: $name, params: $params, limit: $limit) {
    name columns rows truncated parameters
  }
}"""
LIST = "{ savedQueries { name title answers cypher parameters { name type required default } } }"
EXTRA = {
    "writes": "MERGE (w:Written {by: 'a saved query'}) RETURN count(w) AS n",
    "slow": "UNWIND range(1, 2000000000) AS x WITH x WHERE x % 7 = 3 RETURN count(*) AS n",
    "many": "UNWIND range(1, 50) AS x RETURN x",
}


def _header(name: str) -> str:
    return f"// title: {name}\n// answers: a test of {name}\n// ---\n"


@pytest.fixture(scope="module")
def extra_queries(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("saved-queries")
    for name, cypher in EXTRA.items():
        (folder / f"{name}.cypher").write_text(_header(name) + cypher + "\n")
    return folder


@pytest.fixture(scope="module")
def api(neo4j_server, extra_queries):
    with api_server(neo4j_server, api_keys=KEY_SPEC, saved_queries_dir=extra_queries,
                    saved_query_timeout=0.5, saved_query_max_rows=10) as server:
        yield server.url


def run(url: str, role: Role, name: str, params: dict | None = None,
        limit: int | None = None) -> dict:
    return post(url, RUN, {"name": name, "params": params, "limit": limit}, KEYS[role]).json()


def test_analysts_list_and_run_saved_queries_and_app_keys_cannot(api, empty_graph):
    listed = post(api, LIST, key=KEYS[Role.ANALYST]).json()["data"]["savedQueries"]
    by_name = {q["name"]: q for q in listed}
    assert {"largest_clusters", "hub_identities", "writes"} <= set(by_name)
    assert by_name["largest_clusters"]["parameters"] == [
        {"name": "limit", "type": "int", "required": False, "default": 20}]
    assert by_name["largest_clusters"]["cypher"].startswith("MATCH (p:Profile)")
    answer = run(api, Role.ANALYST, "largest_clusters")
    assert answer["data"]["runSavedQuery"]["rows"] == []
    assert answer["data"]["runSavedQuery"]["parameters"] == {"limit": 20}
    for role in (Role.APP, Role.PARTNER):
        assert codes(post(api, LIST, key=KEYS[role]).json()) == ["FORBIDDEN"]
        assert codes(run(api, role, "largest_clusters")) == ["FORBIDDEN"]


def test_a_saved_query_that_writes_is_refused_and_writes_nothing(api, empty_graph, cypher):
    body = run(api, Role.ANALYST, "writes")
    assert codes(body) == ["WRITE_REFUSED"] and body["data"] is None
    assert cypher("MATCH (w:Written) RETURN count(w) AS n") == [{"n": 0}]


def test_a_saved_query_past_its_time_limit_is_stopped(api, empty_graph):
    body = run(api, Role.ANALYST, "slow")
    assert codes(body) == ["QUERY_TIMEOUT"]
    assert "0.5 s" in body["errors"][0]["message"]


def test_rows_past_the_limit_are_cut_off_and_said_so(api, empty_graph):
    capped = run(api, Role.ANALYST, "many")["data"]["runSavedQuery"]
    assert capped["rows"] == [[x] for x in range(1, 11)] and capped["truncated"] is True
    asked = run(api, Role.ANALYST, "many", limit=3)["data"]["runSavedQuery"]
    assert asked["rows"] == [[1], [2], [3]] and asked["truncated"] is True
    assert codes(run(api, Role.ANALYST, "many", limit=11)) == ["INVALID_INPUT"]


def test_unknown_queries_and_bad_parameters_are_clear_errors(api, empty_graph):
    assert codes(run(api, Role.ANALYST, "nope")) == ["NOT_FOUND"]
    for params, fragment in [({"limit": "many"}, "must be an integer"),
                             ({"colour": 1}, "has no parameter colour"),
                             ({"limit": 2.5}, "must be an integer")]:
        body = run(api, Role.ANALYST, "largest_clusters", params)
        assert codes(body) == ["INVALID_INPUT"] and fragment in body["errors"][0]["message"]
    body = run(api, Role.ANALYST, "conflicting_attributes")
    assert codes(body) == ["INVALID_INPUT"] and "needs the parameter `attribute`" in str(body)


# -- the command line -------------------------------------------------------------------------

def cli(neo4j_server, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NEO4J_URI": neo4j_server.uri, "COLUMNS": "200",
           "NEO4J_PASSWORD": neo4j_server.auth[1] if neo4j_server.auth else ""}
    return subprocess.run([sys.executable, "-m", "idgraph", "cypher", *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def two_people(gql):
    ingest(gql, [record("r1", "crm:C1", "email:ann@x.com", "ecid:E9"),
                 record("r2", "crm:C2", "email:bo@x.com")])


def test_cli_prints_a_table_json_and_csv(neo4j_server, two_people):
    table = cli(neo4j_server, "largest_clusters")
    assert table.returncode == 0, table.stderr
    assert "largest_clusters" in table.stdout and "primaryIdentity" in table.stdout
    assert "crm:C1" in table.stdout and '["crm: 1", "ecid: 1", "email: 1"]' in table.stdout

    as_json = cli(neo4j_server, "largest_clusters", "--param", "limit=1", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    answer = json.loads(as_json.stdout)
    assert answer["columns"] == ["profile", "identities", "primaryIdentity", "makeup"]
    assert [(r["identities"], r["primaryIdentity"]) for r in answer["rows"]] == [(3, "crm:C1")]
    assert answer["parameters"] == {"limit": 1} and answer["truncated"] is False

    as_csv = cli(neo4j_server, "identities_per_namespace", "--format", "csv")
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert rows[0] == ["namespace", "identities", "inProfiles", "linksPerIdentity", "mostLinks"]
    assert sorted(row[0] for row in rows[1:]) == ["crm", "ecid", "email"]


def test_cli_lists_queries_and_explains_its_errors(neo4j_server, empty_graph):
    listing = cli(neo4j_server)
    assert listing.returncode == 0 and "hub_identities" in listing.stdout
    assert "--param attribute=<string>  (required)" in listing.stdout
    unknown = cli(neo4j_server, "nope")
    assert unknown.returncode == 1 and "No saved query `nope`" in unknown.stderr
    bad = cli(neo4j_server, "largest_clusters", "--param", "limit=lots")
    assert bad.returncode == 1 and "must be an integer" in bad.stderr
    shape = cli(neo4j_server, "largest_clusters", "--param", "limit")
    assert shape.returncode == 1 and "NAME=VALUE" in shape.stderr
