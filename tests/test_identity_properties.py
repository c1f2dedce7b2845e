"""Property test: clusters in Neo4j equal a small in-memory model of the linking rules, whatever
the records, their timestamps and how they are split into ingest calls."""

from __future__ import annotations

from datetime import datetime

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


# Few identities, so that items often carry the same pair on the same day (ties).
DENSE_POOL = ["crm:C0", "email:e0@x.com", "ecid:k0", "ecid:k1"]


def model_provenance(items: list[dict]) -> tuple[dict, dict]:
    """Reference for link and identity provenance, item by item in input order: a link counts
    its items, its last seen goes to the later time (a tie to the later item), its first seen
    to the earlier time (a tie stays with the earlier item)."""
    links: dict[tuple[str, str, str], list] = {}
    times: dict[str, list[int]] = {}
    for item in items:
        ts = millis(item["timestamp"])
        keys = sorted(f"{i['namespace']}:{i['value']}" for i in item["identities"])
        for key in keys:
            first, last = times.get(key, [ts, ts])
            times[key] = [min(first, ts), max(last, ts)]
        for n, a in enumerate(keys):
            for b in keys[n + 1:]:
                link = links.setdefault((a, b, item["source"]), [0, ts, item["recordId"], ts,
                                                                 item["recordId"]])
                link[0] += 1
                if ts >= link[3]:
                    link[3:] = [ts, item["recordId"]]
                if ts < link[1]:
                    link[1:3] = [ts, item["recordId"]]
    return ({k: tuple(v) for k, v in links.items()},
            {k: tuple(v) for k, v in times.items()})


def millis(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.lists(st.tuples(st.lists(st.sampled_from(DENSE_POOL), min_size=1, max_size=3,
                                        unique=True),
                               st.integers(min_value=1, max_value=3),
                               st.sampled_from(["crm", "web"])), min_size=1, max_size=14),
       cuts=st.lists(st.integers(0, 14), max_size=2))
def test_link_provenance_matches_item_by_item_evidence(small_limit_api, driver, cypher, data,
                                                       cuts):
    """A batch's evidence is aggregated before it is written (identity/evidence.py): counts,
    first and last seen (ties included) must be what item-by-item evidence would give, however
    the items are split into calls."""
    wipe(driver)
    items = [record(f"r{n}", *ids, day=day, source=source)
             for n, (ids, day, source) in enumerate(data)]
    bounds = sorted({0, len(items), *[c for c in cuts if c < len(items)]})
    for start, end in zip(bounds, bounds[1:], strict=False):
        ingest(small_limit_api, items[start:end])
    links = {(r["a"], r["b"], r["source"]): (r["count"], r["firstSeen"], r["firstId"],
                                             r["lastSeen"], r["lastId"]) for r in cypher(
        "MATCH (a:Identity)-[l:LINK]->(b:Identity) RETURN a.key AS a, b.key AS b, "
        "l.source AS source, l.count AS count, l.firstSeen AS firstSeen, "
        "l.firstRecordId AS firstId, l.lastSeen AS lastSeen, l.lastRecordId AS lastId")}
    times = {r["key"]: (r["first"], r["last"]) for r in cypher(
        "MATCH (i:Identity) RETURN i.key AS key, i.firstSeen AS first, i.lastSeen AS last")}
    assert (links, times) == model_provenance(items)
