"""Property test: clusters in Neo4j equal a small in-memory model of the linking rules, whatever
the records, their timestamps and how they are split into ingest calls."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import GraphQLClient, LiveServer, settings_for, wipe
from tests.identity_helpers import ingest, record

MAX_SIZE = 4
POOL = ([f"crm:C{i}" for i in range(3)] + [f"email:e{i}@x.com" for i in range(4)]
        + [f"device:d{i}" for i in range(3)] + [f"ecid:k{i}" for i in range(4)])
UNIQUE = {"crm"}


def model_clusters(records: list[tuple[list[str], int]]) -> set[frozenset[str]]:
    """Reference: newest evidence first (ties by the pair), refuse unique clashes and overflow."""
    newest: dict[tuple[str, str], int] = {}
    nodes: set[str] = set()
    for identities, day in records:
        nodes |= set(identities)
        ids = sorted(set(identities))
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                newest[(a, b)] = max(newest.get((a, b), day), day)
    clusters = [{n} for n in nodes]
    for (a, b), _ in sorted(newest.items(), key=lambda kv: (-kv[1], kv[0])):
        left = next(c for c in clusters if a in c)
        right = next(c for c in clusters if b in c)
        if left is right or len(left) + len(right) > MAX_SIZE:
            continue
        union = left | right
        if any(len({k for k in union if k.startswith(ns + ":")}) > 1 for ns in UNIQUE):
            continue
        clusters.remove(right)
        left |= right
    return {frozenset(c) for c in clusters}


records_strategy = st.lists(
    st.tuples(st.lists(st.sampled_from(POOL), min_size=1, max_size=3, unique=True),
              st.integers(min_value=1, max_value=6)),
    min_size=1, max_size=12)


@pytest.fixture(scope="module")
def small_limit_api(neo4j_server):
    with LiveServer(settings_for(neo4j_server, max_cluster_size=MAX_SIZE)) as server:
        yield GraphQLClient(server.url)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=records_strategy, cuts=st.lists(st.integers(0, 12), max_size=3))
def test_clusters_match_the_model(small_limit_api, driver, cypher, data, cuts):
    wipe(driver)
    items = [record(f"r{n}", *ids, day=day) for n, (ids, day) in enumerate(data)]
    bounds = sorted({0, len(items), *[c for c in cuts if c < len(items)]})
    for start, end in zip(bounds, bounds[1:], strict=False):
        ingest(small_limit_api, items[start:end])
    rows = cypher("MATCH (i:Identity)-[:IN_PROFILE]->(p:Profile) "
                  "RETURN p.id AS p, collect(i.key) AS members")
    assert {frozenset(r["members"]) for r in rows} == model_clusters(data)
    sizes = cypher("MATCH (p:Profile)<-[:IN_PROFILE]-(i) WITH p, count(i) AS n "
                   "RETURN collect(p.size = n) AS ok")[0]["ok"]
    assert all(sizes)
