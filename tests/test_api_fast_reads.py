"""The precompiled profile read (api/fast_reads.py) answers exactly as the general GraphQL path:
same status, media type and body, for every document shape it takes, and it leaves alone the
documents and requests it must not take."""

from __future__ import annotations

import httpx
import pytest

from idgraph.api.graphql.permissions import Role
from tests.api_support import KEY_SPEC, KEYS, api_server
from tests.conftest import free_port
from tests.identity_helpers import ident, ingest, record

COMPILABLE = [
    "query P($identity: IdentityInput!) { profile(identity: $identity) { attributes "
    "identities { namespace value } } }",
    "query($i: IdentityInput!) { profile(identity: $i) { id size createdAt updatedAt "
    "isTestProfile __typename } }",
    "query Front($i: IdentityInput!) { me: profile(identity: $i) { key: id attributes "
    "primaryIdentity { namespace value firstSeen lastSeen __typename } "
    "all: identities { ns: namespace value firstSeen lastSeen } } }",
    "query($i: IdentityInput!) { profile(identity: $i) { identities { value } } }",
]
NOT_COMPILABLE = [
    # merged at read time, other fields, directives, fragments, two root fields, literals
    "query($i: IdentityInput!) { profile(identity: $i) { attributes(mergePolicy: \"x\") } }",
    "query($i: IdentityInput!) { profile(identity: $i) { id events(first: 2) { edges "
    "{ node { id } } } } }",
    "query($i: IdentityInput!) { profile(identity: $i) { id @include(if: true) } }",
    "query($i: IdentityInput!) { profile(identity: $i) { ...F } } fragment F on Profile { id }",
    "query($i: IdentityInput!) { profile(identity: $i) { id } version }",
    "query { profile(identity: {namespace: \"crm\", value: \"C1\"}) { id } }",
    "query($i: IdentityInput!) { profile(identity: $i) { id computed { name value } } }",
]
IDENTITIES = [ident("crm:C1"), {"namespace": "email", "value": " Ann@X.com "},
              ident("ecid:E9"), ident("crm:unknown"), {"namespace": "email", "value": "bad"},
              {"namespace": "nope", "value": "x"}]


@pytest.fixture(scope="module")
def general_api(neo4j_server):
    with api_server(neo4j_server, fast_profile_reads=False) as server:
        yield server


@pytest.fixture
def data(gql):
    ingest(gql, [record("1", "crm:C1", "email:ann@x.com", day=1,
                        attributes={"name": "Ann", "address": {"city": "Oslo"}}),
                 record("2", "email:ann@x.com", "ecid:E9", source="web", day=2,
                        attributes={"address": {"city": "Bergen", "zip": "5003"}}),
                 record("3", "crm:C2", day=3, attributes={"testProfile": True})])


def send(url: str, query: str, variables, **headers) -> httpx.Response:
    return httpx.post(f"{url}/graphql", json={"query": query, "variables": variables},
                      headers=headers, timeout=30)


def same(fast: httpx.Response, general: httpx.Response) -> None:
    assert fast.status_code == general.status_code
    assert fast.headers["content-type"] == general.headers["content-type"]
    assert fast.json() == general.json()


def fast_served(live_api) -> int:
    return live_api.app.state.graphql.fast_reads.served


@pytest.mark.parametrize("query", COMPILABLE)
def test_compiled_reads_answer_as_the_general_path(live_api, general_api, data, query):
    variable = "identity" if "$identity" in query else "i"
    for identity in IDENTITIES:
        variables = {variable: identity}
        first = send(live_api.url, query, variables)  # validates the text (general path)
        before = fast_served(live_api)
        fast = send(live_api.url, query, variables)
        assert fast_served(live_api) == before + 1, "the second request took the fast path"
        same(fast, send(general_api.url, query, variables))
        same(first, fast)
    answer = send(live_api.url, query, {variable: ident("crm:C1")}).json()["data"]
    assert answer[next(iter(answer))] is not None  # the data exists: not all nulls


def test_media_type_follows_accept(live_api, general_api, data):
    query, variables = COMPILABLE[0], {"identity": ident("crm:C1")}
    accept = {"accept": "application/graphql-response+json"}
    send(live_api.url, query, variables, **accept)
    same(send(live_api.url, query, variables, **accept),
         send(general_api.url, query, variables, **accept))


@pytest.mark.parametrize("query", NOT_COMPILABLE)
def test_other_documents_take_the_general_path(live_api, general_api, data, query):
    variables = {} if "$i" not in query else {"i": ident("crm:C1")}
    before = fast_served(live_api)
    for _ in range(2):
        same(send(live_api.url, query, variables), send(general_api.url, query, variables))
    assert fast_served(live_api) == before


@pytest.mark.parametrize("variables", [
    {"i": {"namespace": "crm", "value": "C1", "extra": 1}},  # coercion error
    {"i": {"namespace": "crm"}},  # missing value
    {"i": {"namespace": "crm", "value": 7}},  # wrong type
    {"i": ident("crm:C1"), "other": 1},  # an undeclared variable
    {},  # missing variable
])
def test_odd_variables_take_the_general_path(live_api, general_api, data, variables):
    query = COMPILABLE[1]
    send(live_api.url, query, {"i": ident("crm:C1")})
    before = fast_served(live_api)
    same(send(live_api.url, query, variables), send(general_api.url, query, variables))
    assert fast_served(live_api) == before


def test_a_profile_without_its_view_is_merged_by_the_general_path(live_api, general_api,
                                                                  data, cypher):
    query, variables = COMPILABLE[0], {"identity": ident("crm:C1")}
    send(live_api.url, query, variables)
    cypher("MATCH (v:ProfileView) DETACH DELETE v")
    before = fast_served(live_api)
    answer = send(live_api.url, query, variables)
    assert fast_served(live_api) == before
    assert answer.json()["data"]["profile"]["attributes"]["address"] == {
        "city": "Bergen", "zip": "5003"}
    same(answer, send(general_api.url, query, variables))


def test_documents_refused_by_this_apps_limits_never_take_the_fast_path(neo4j_server, data):
    query, variables = COMPILABLE[2], {"i": ident("crm:C1")}  # four aliases
    with api_server(neo4j_server, max_aliases=2) as strict:
        for _ in range(3):
            body = send(strict.url, query, variables).json()
            assert "data" not in body and body["errors"]
        assert strict.app.state.graphql.fast_reads.served == 0


def test_fast_reads_are_counted_in_metrics(live_api, data):
    query, variables = COMPILABLE[2], {"i": ident("crm:C1")}

    def count() -> float:
        text = httpx.get(f"{live_api.url}/metrics").text
        line = next((ln for ln in text.splitlines() if ln.startswith(
            'idgraph_graphql_operations_total{operation="Front",type="query"}')), None)
        return float(line.rsplit(" ", 1)[1]) if line else 0.0

    def requests() -> float:
        text = httpx.get(f"{live_api.url}/metrics").text
        line = next((ln for ln in text.splitlines() if ln.startswith(
            'idgraph_http_requests_total{method="POST",route="/graphql",status="200"}')), None)
        return float(line.rsplit(" ", 1)[1]) if line else 0.0

    send(live_api.url, query, variables)
    start, start_requests, front = count(), requests(), at_front_door(live_api)
    for _ in range(3):
        send(live_api.url, query, variables)
    assert at_front_door(live_api) == front + 3
    assert count() == start + 3 and requests() == start_requests + 3


def test_a_database_failure_is_answered_once_as_the_general_path_answers_it(neo4j_server):
    # Neo4j "down": nothing listens on the URI. Requests fail after the (shortened) retries.
    # Start-up keys, so that authentication itself needs no database.
    dead = {"neo4j_uri": f"bolt://127.0.0.1:{free_port()}", "neo4j_retry_seconds": 0.3,
            "api_keys": KEY_SPEC}
    query = COMPILABLE[2]
    variables = {"i": ident("crm:C1")}
    headers = {"x-request-id": "fast-path-db-down-1",
               "authorization": f"Bearer {KEYS[Role.APP]}"}
    with api_server(neo4j_server, **dead) as fast, \
            api_server(neo4j_server, fast_profile_reads=False, **dead) as general:
        send(fast.url, query, variables, **headers)  # validated by the general path
        answer = send(fast.url, query, variables, **headers)
        assert fast.app.state.graphql.fast_reads.served == 1
        same(answer, send(general.url, query, variables, **headers))
    body = answer.json()
    assert body["data"] == {"me": None}
    assert body["errors"][0]["extensions"] == {"code": "DATABASE_UNAVAILABLE",
                                               "requestId": "fast-path-db-down-1"}


# -- the front door (api/front_door.py): the same reads, before the middleware stack ------------

def at_front_door(server) -> int:
    return server.app.state.graphql.fast_reads.served_at_front_door


def test_the_front_door_answers_with_the_stacks_headers(live_api, general_api, data):
    query, variables = COMPILABLE[0], {"identity": ident("crm:C1")}
    send(live_api.url, query, variables)
    before = at_front_door(live_api)
    given = send(live_api.url, query, variables, **{"x-request-id": "front-door-id-1"})
    made = send(live_api.url, query, variables)
    assert at_front_door(live_api) == before + 2
    assert given.headers["x-request-id"] == "front-door-id-1"
    general = send(general_api.url, query, variables)
    assert len(made.headers["x-request-id"]) == len(general.headers["x-request-id"]) == 32
    assert made.headers["x-request-id"] != send(live_api.url, query, variables).headers[
        "x-request-id"]
    assert int(made.headers["content-length"]) == len(made.content)
    same(made, general)


def test_requests_the_front_door_cannot_answer_get_the_stacks_answers(neo4j_server, data):
    query, variables = COMPILABLE[2], {"i": ident("crm:C1")}
    app_key = {"authorization": f"Bearer {KEYS[Role.APP]}"}
    with api_server(neo4j_server, api_keys=KEY_SPEC, max_body_bytes=2000,
                    auth_failure_burst=2, auth_failures_per_minute=0.001) as api:
        assert send(api.url, query, variables, **app_key).status_code == 200  # validated
        assert at_front_door(api) == 0
        assert send(api.url, query, variables, **app_key).json()["data"]["me"]["key"]
        assert at_front_door(api) == 1
        no_key = send(api.url, query, variables)
        assert no_key.status_code == 401 and no_key.json()["errors"][0]["extensions"][
            "code"] == "UNAUTHENTICATED"
        assert send(api.url, query, variables, authorization="Bearer nope").status_code == 401
        # Two failures spent the address's allowance: even the good key now waits.
        limited = send(api.url, query, variables, **app_key)
        assert limited.status_code == 429 and "retry-after" in limited.headers
    with api_server(neo4j_server, api_keys=KEY_SPEC, max_body_bytes=2000) as api:
        send(api.url, query, variables, **app_key)
        padded = {"query": query + " " * 3000, "variables": variables}
        large = httpx.post(f"{api.url}/graphql", json=padded, headers=app_key, timeout=30)
        assert large.status_code == 413
        assert large.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
        assert at_front_door(api) == 0


def test_a_read_passed_on_after_the_front_door_checked_its_key_spends_one_token(
        neo4j_server, data, cypher):
    query, variables = COMPILABLE[0], {"identity": ident("crm:C1")}
    app_key = {"authorization": f"Bearer {KEYS[Role.APP]}"}
    with api_server(neo4j_server, api_keys=KEY_SPEC, rate_limit_burst=4,
                    rate_limit_per_minute=0.001) as api:
        send(api.url, query, variables, **app_key)  # token 1: the general path validates
        cypher("MATCH (v:ProfileView) DETACH DELETE v")  # the plan cannot answer any more
        for _ in range(3):  # tokens 2-4: checked at the front door, answered by the stack
            answer = send(api.url, query, variables, **app_key)
            assert answer.status_code == 200
            assert answer.json()["data"]["profile"]["attributes"]["address"]["city"] == "Bergen"
        assert at_front_door(api) == 0
        assert send(api.url, query, variables, **app_key).status_code == 429


def test_cross_origin_reads_get_cors_headers_from_the_stack(neo4j_server, data):
    query, variables = COMPILABLE[0], {"identity": ident("crm:C1")}
    origin = {"origin": "https://shop.example"}
    with api_server(neo4j_server, cors_origins="https://shop.example") as api:
        send(api.url, query, variables, **origin)
        answer = send(api.url, query, variables, **origin)
        assert answer.headers["access-control-allow-origin"] == "https://shop.example"
        assert api.app.state.graphql.fast_reads.served == 1 and at_front_door(api) == 0
        assert send(api.url, query, variables).status_code == 200  # no Origin: same-site tool
        assert at_front_door(api) == 1
