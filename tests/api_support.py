"""Helpers for the API tests: start-up keys per role, servers with chosen settings, requests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx

from idgraph.api.graphql.permissions import Role
from tests.conftest import LiveServer, Neo4jServer, settings_for

KEYS = {role: f"test-{role.value}-key-0123456789abcdef" for role in Role}
KEY_SPEC = ",".join(f"{key}:{role.value}" for role, key in KEYS.items())

CREATE_KEY = """mutation Create($name: String!, $role: ApiRole!) {
  createApiKey(name: $name, role: $role) { key apiKey { id name role createdAt } }
}"""
LIST_KEYS = "query Keys { apiKeys(first: 10) { edges { node { id name role } } } }"


@contextlib.contextmanager
def api_server(neo4j_server: Neo4jServer, **overrides) -> Iterator[LiveServer]:
    """A live API with `overrides` applied to the test settings."""
    with LiveServer(settings_for(neo4j_server, **overrides)) as server:
        yield server


def post(url: str, query: str, variables: dict | None = None, key: str | None = None,
         headers: dict | None = None) -> httpx.Response:
    all_headers = {**({"Authorization": f"Bearer {key}"} if key else {}), **(headers or {})}
    return httpx.post(f"{url}/graphql", json={"query": query, "variables": variables or {}},
                      headers=all_headers, timeout=60)


def codes(body: dict) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


def stored_keys(cypher) -> int:
    return cypher("MATCH (k:ApiKey) RETURN count(k) AS n")[0]["n"]
