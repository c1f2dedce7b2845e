"""Limits on the work one request can cause: documents that expand exponentially, long lists,
memory held per identity or per address, components too large to re-cluster."""

from __future__ import annotations

import threading

import httpx
from graphql import parse, validate

from idgraph.api.graphql.cost import cost_rule
from idgraph.api.graphql.schema import build_schema
from tests.api_support import codes


def fragment_bomb(depth: int = 40) -> str:
    """~10 tokens a fragment, each spreading the next twice: 2^depth fields once spread."""
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(depth)]
    last = f"fragment F{depth} on Query {{ version }}"
    return " ".join(["query Bomb { ...F0 }", *fragments, last])


def test_a_fragment_bomb_is_refused_in_time_linear_in_its_size(live_api, empty_graph):
    # Before any rule that walks the spread document (depth, aliases, cost) runs: those would
    # walk 2^40 fields on the event loop, and this request would never be answered.
    response = httpx.post(f"{live_api.url}/graphql", json={"query": fragment_bomb()},
                          timeout=60)
    body = response.json()
    assert "data" not in body and codes(body) == ["TOO_MANY_FIELDS"]
    assert "fragments" in body["errors"][0]["message"]
    # The server is still answering.
    assert httpx.post(f"{live_api.url}/graphql", json={"query": "{ version }"}).status_code == 200


def test_the_cost_rule_prices_each_fragment_once():
    schema = build_schema()._schema
    document = parse(fragment_bomb())
    outcome: list = []
    worker = threading.Thread(target=lambda: outcome.append(validate(
        schema, document, [cost_rule(5000, 100, 20, None)])), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert outcome, "the cost rule did not finish (it walked the spread document)"
    [error] = outcome[0]
    assert error.extensions["code"] == "COST_LIMIT_EXCEEDED"
    assert error.extensions["cost"] == 2**40  # 2^40 `version` fields, each costing 1


def test_fields_repeated_at_one_place_are_refused_before_validation_compares_them(live_api,
                                                                                  empty_graph):
    # "Overlapping fields can be merged" compares every pair: 490 copies of a field took it
    # 4.6 s of the event loop. Within every other limit (about 2,000 tokens, cost 980).
    query = "{ " + " ".join(["health { neo4j }"] * 490) + " }"
    body = httpx.post(f"{live_api.url}/graphql", json={"query": query}, timeout=60).json()
    assert "data" not in body and codes(body) == ["TOO_MANY_REPEATED_FIELDS"]
    few = "{ " + " ".join(["health { neo4j }"] * 5) + " }"  # repeats people write still pass
    assert httpx.post(f"{live_api.url}/graphql", json={"query": few}).json() == {
        "data": {"health": {"neo4j": "ok"}}}


RESOLVE = """query($ids: [IdentityInput!]!) { resolve(identities: $ids) {
  profileId profile { events(first: 100) { edges { node { type } } } } } }"""
INGEST = "mutation($r: [RecordInput!]) { ingest(records: $r) { accepted } }"


def _ids(n: int) -> list[dict]:
    return [{"namespace": "crm", "value": f"C{i}"} for i in range(n)]


def test_list_arguments_longer_than_the_limit_are_refused(neo4j_server, empty_graph, cypher):
    from tests.api_support import api_server
    from tests.identity_helpers import record

    short = "query($ids: [IdentityInput!]!) { resolve(identities: $ids) { profileId } }"
    with api_server(neo4j_server, max_list_length=50) as server:
        def send(query: str, variables: dict) -> dict:
            return httpx.post(f"{server.url}/graphql", timeout=60,
                              json={"query": query, "variables": variables}).json()

        assert len(send(short, {"ids": _ids(50)})["data"]["resolve"]) == 50
        refused = send(short, {"ids": _ids(51)})
        assert "data" not in refused and codes(refused) == ["LIST_TOO_LONG"]
        records = [record(str(i), f"crm:C{i}") for i in range(51)]
        refused = send(INGEST, {"r": records})
        assert "data" not in refused and codes(refused) == ["LIST_TOO_LONG"]
        nested = send(INGEST, {"r": [record("x", *[f"crm:C{i}" for i in range(51)])]})
        assert codes(nested) == ["LIST_TOO_LONG"]
    assert cypher("MATCH (r:Record) RETURN count(r) AS n") == [{"n": 0}]


def test_list_arguments_multiply_the_cost_of_what_they_select(live_api, empty_graph):
    # Each resolved identity reads a page of 100 events: 200 of them must not price as one.
    body = httpx.post(f"{live_api.url}/graphql", timeout=60,
                      json={"query": RESOLVE, "variables": {"ids": _ids(200)}}).json()
    assert "data" not in body and codes(body) == ["COST_LIMIT_EXCEEDED"]
    assert body["errors"][0]["extensions"]["cost"] > 200 * 100
    one = httpx.post(f"{live_api.url}/graphql",
                     json={"query": RESOLVE, "variables": {"ids": _ids(1)}}).json()
    assert one == {"data": {"resolve": [{"profileId": None, "profile": None}]}}


def test_the_normaliser_remembers_no_value_too_long_to_store():
    from idgraph.identity.namespaces import load_registry
    from idgraph.identity.normalise import IdentityRejected, Normaliser

    normalise = Normaliser(load_registry(None), "US")
    for namespace, raw, code in (("email", "a" * 1_000_000, "VALUE_TOO_LONG"),
                                 ("n" * 1_000_000, "x", "UNKNOWN_NAMESPACE"),
                                 ("nope", "x", "UNKNOWN_NAMESPACE")):
        try:
            normalise(namespace, raw)
        except IdentityRejected as exc:
            assert exc.code == code and len(str(exc)) < 500  # never a copy of the input
        else:
            raise AssertionError("accepted")
    assert normalise.memo_bytes == 0


def test_the_normalisers_memory_is_bounded_in_bytes():
    from idgraph.identity.namespaces import load_registry
    from idgraph.identity.normalise import Normaliser

    normalise = Normaliser(load_registry(None), "US", max_bytes=50_000)
    for i in range(2_000):
        value = f"person.{i}.{'x' * (i % 900)}@example.com"
        assert normalise("email", value).value == value
        assert normalise.memo_bytes <= 50_000
    assert normalise("email", " Person.1999.X@Example.com ").value == "person.1999.x@example.com"


def test_rate_limiter_memory_is_bounded_however_many_addresses_come():
    from idgraph.api.http.ratelimit import RateLimiter

    now = [0.0]
    failures = RateLimiter(per_minute=1, burst=3, clock=lambda: now[0], max_buckets=100)
    for address in range(1_000):  # all still limited: none is idle long enough to forget
        failures.take(f"203.0.113.{address}")
        assert failures.tracked <= 100
    now[0] += 1_000  # every bucket is full again: the next address clears them out
    failures.take("198.51.100.1")
    assert failures.tracked == 1


def test_long_document_texts_are_not_kept_in_the_validation_cache(live_api, empty_graph):
    from idgraph.api.graphql.limits import CachedValidation

    long_text = "{ version }\n#" + "x" * 200_000  # a comment: no tokens, 200 KB of text
    answer = httpx.post(f"{live_api.url}/graphql", json={"query": long_text}, timeout=30)
    assert "version" in answer.json()["data"]
    assert all(len(text) <= 64 * 1024 for _, text in CachedValidation._cache)
