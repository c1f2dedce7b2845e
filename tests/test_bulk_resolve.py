"""Bulk resolve's compiled path (api/graphql/fast_resolve.py) answers exactly as the general
GraphQL path, over HTTP: the same profile ids in input order (unknown identities, normalisation
variants, rejected ones and repeats included), the same refusals for callers and limits, and
100,000 identities in one call when the caps are raised to allow it."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idgraph.api.graphql.permissions import Role
from idgraph.identity.namespaces import load_registry
from idgraph.identity.normalise import IdentityRejected, Normaliser
from tests.api_support import KEY_SPEC, KEYS, api_server, codes
from tests.identity_helpers import ident, ingest, record

SHAPES = [
    "query R($ids: [IdentityInput!]!) { resolve(identities: $ids) { profileId } }",
    "query($ids: [IdentityInput!]!) { resolve(identities: $ids) { identity { namespace value "
    "__typename } profileId error __typename } }",
    "query Named($x: [IdentityInput!]!) { found: resolve(identities: $x) { id: profileId "
    "why: error } }",
]
NOT_COMPILED = [
    "query($ids: [IdentityInput!]!) { resolve(identities: $ids) { profileId profile { id } } }",
    "query($ids: [IdentityInput!]!) { resolve(identities: $ids) { ...F } } "
    "fragment F on Resolution { profileId }",
    "query($ids: [IdentityInput!]) { resolve(identities: $ids) { profileId } }",
]
IDENTITIES = [ident("crm:C1"), {"namespace": "email", "value": " Ann@X.com "},
              ident("ecid:E9"), ident("crm:C404"), {"namespace": "email", "value": "bad"},
              {"namespace": "nope", "value": "x"}, ident("crm:C2"), ident("crm:C1")]
SHORT = SHAPES[0]


@pytest.fixture(scope="module")
def general_api(neo4j_server):
    with api_server(neo4j_server, fast_bulk_resolve=False, fast_profile_reads=False) as server:
        yield server


@pytest.fixture
def data(gql):
    ingest(gql, [record("1", "crm:C1", "email:ann@x.com", day=1),
                 record("2", "email:ann@x.com", "ecid:E9", source="web", day=2),
                 record("3", "crm:C2", day=3)])


def send(url: str, query: str, identities: list, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{url}/graphql", json={"query": query, "variables": {
        query.split("$")[1].split(":")[0]: identities}}, headers=headers, timeout=120)


def served(server) -> int:
    return server.app.state.graphql.fast_reads.served


def profile_id(gql, identity: str) -> str:
    query = "query($i: IdentityInput!) { profile(identity: $i) { id } }"
    return gql(query, {"i": ident(identity)})["profile"]["id"]


def same(fast: httpx.Response, general: httpx.Response) -> None:
    assert (fast.status_code, fast.headers["content-type"]) == (
        general.status_code, general.headers["content-type"])
    assert fast.json() == general.json()


@pytest.mark.parametrize("query", SHAPES)
def test_compiled_resolve_answers_as_the_general_path(live_api, general_api, data, query):
    send(live_api.url, query, IDENTITIES)  # the general path validates the text first
    before = served(live_api)
    fast = send(live_api.url, query, IDENTITIES)
    assert served(live_api) == before + 1, "the second request took the compiled path"
    same(fast, send(general_api.url, query, IDENTITIES))


def test_profile_ids_in_input_order_with_unknown_and_rejected_ones(live_api, gql, data):
    ann, c2 = profile_id(gql, "crm:C1"), profile_id(gql, "crm:C2")
    query = SHAPES[1]
    send(live_api.url, query, IDENTITIES)
    before = served(live_api)
    rows = send(live_api.url, query, IDENTITIES).json()["data"]["resolve"]
    assert served(live_api) == before + 1
    assert [r["profileId"] for r in rows] == [ann, ann, ann, None, None, None, c2, ann]
    # normalised as stored; a rejected identity keeps its raw form and says why
    assert rows[1]["identity"] == {"namespace": "email", "value": "ann@x.com",
                                   "__typename": "Identity"}
    assert [r["error"] is not None for r in rows] == [False] * 4 + [True, True] + [False] * 2
    assert rows[4]["identity"]["value"] == "bad"
    assert send(live_api.url, query, []).json() == {"data": {"resolve": []}}


@pytest.mark.parametrize("query", NOT_COMPILED)
def test_other_documents_go_the_general_way(live_api, general_api, data, query):
    send(live_api.url, query, IDENTITIES)
    before = served(live_api)
    answer = send(live_api.url, query, IDENTITIES)
    assert served(live_api) == before
    same(answer, send(general_api.url, query, IDENTITIES))


@pytest.mark.parametrize("variables", [
    {"namespace": "crm", "value": "C1"},  # one object: coerced to a list of one
    [{"namespace": "crm", "value": "C1", "extra": 1}],
    [{"namespace": "crm", "value": 7}],
    [None],
])
def test_variables_the_general_coercion_changes_or_refuses_go_the_general_way(
        live_api, general_api, data, variables):
    send(live_api.url, SHORT, IDENTITIES)
    before = served(live_api)
    answer = send(live_api.url, SHORT, variables)
    assert served(live_api) == before
    same(answer, send(general_api.url, SHORT, variables))


@pytest.fixture(scope="module")
def keyed_apis(neo4j_server):
    with api_server(neo4j_server, api_keys=KEY_SPEC) as fast, api_server(
            neo4j_server, api_keys=KEY_SPEC, fast_bulk_resolve=False) as general:
        yield fast, general


@pytest.mark.parametrize("role", [None, Role.APP, Role.ANALYST, Role.PARTNER, Role.ADMIN])
def test_callers_are_admitted_and_refused_as_by_the_general_path(keyed_apis, empty_graph, role):
    fast, general = keyed_apis
    key = KEYS[role] if role else None
    send(fast.url, SHORT, IDENTITIES, KEYS[Role.PARTNER])  # validated, compiled
    before = served(fast)
    answer = send(fast.url, SHORT, IDENTITIES, key)
    assert served(fast) == before + (role in (Role.PARTNER, Role.ADMIN))
    same(answer, send(general.url, SHORT, IDENTITIES, key))


def test_the_list_cap_and_the_cost_are_checked_per_request(live_api, general_api, empty_graph):
    many = [ident(f"crm:C{i}") for i in range(10_001)]
    priced = "query($ids: [IdentityInput!]!) { resolve(identities: $ids) { identity { value } } }"
    for query, identities in ((SHORT, many), (priced, many[:6_000])):
        send(live_api.url, query, IDENTITIES)  # the text is clean for a short list
        before = served(live_api)
        answer = send(live_api.url, query, identities)
        assert served(live_api) == before, "refused requests are the general path's"
        assert codes(answer.json()), answer.json()
        same(answer, send(general_api.url, query, identities))


def test_100000_identities_in_one_call_when_the_caps_allow_it(neo4j_server, gql, data):
    ann = profile_id(gql, "crm:C1")
    identities = [ident(f"crm:N{i}") for i in range(100_000)]
    identities[0], identities[-1] = ident("crm:C1"), ident("ecid:E9")
    with api_server(neo4j_server, max_list_length=100_000,
                    max_body_bytes=10_000_000) as server:
        send(server.url, SHORT, IDENTITIES)
        before = served(server)
        rows = send(server.url, SHORT, identities).json()["data"]["resolve"]
        assert served(server) == before + 1
    assert len(rows) == 100_000
    assert rows[0]["profileId"] == rows[-1]["profileId"] == ann
    assert {r["profileId"] for r in rows[1:-1]} == {None}


NAMESPACES = ["crm", "loyalty", "login", "email", "email_sha256", "phone", "phone_sha256",
              "device", "ecid", "partner", " Email ", "EMAIL", "nope", "", "n" * 80]
VALUES = [" Ann@X.com ", "ann@x.com", "bad", "Test@Test.com", "unknown", "NULL", "0000", "-",
          "+1 650 253 0000", "650-253-0000", "12", "a\x00b", "a\ud800", "a\x7f", " ", "",
          "A" * 1025, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
          "Zoë@Exämple.com", "user@example.com\n"]


def _outcome(normalise, namespace, raw):
    try:
        found = normalise(namespace, raw)
    except IdentityRejected as exc:
        return "rejected", exc.code, str(exc)
    return "normalised", tuple(found)[:2] if isinstance(found, tuple) else (
        found.namespace, found.value)


@settings(max_examples=1000, deadline=None)
@given(namespace=st.sampled_from(NAMESPACES),
       raw=st.one_of(st.sampled_from(VALUES), st.text(max_size=30)),
       remembered=st.booleans())
def test_bulk_resolve_normalises_each_identity_as_every_other_way_in(namespace, raw,
                                                                     remembered):
    """A bulk resolve normalises by `Normaliser.pair` (strings, nothing remembered, plain
    values checked inline): the same values, the same rejections and messages as the
    normaliser ingest and reads use, whether the identity was met before or not."""
    normaliser = Normaliser(load_registry(None), "US")
    expected = _outcome(normaliser, namespace, raw)
    if not remembered:
        normaliser = Normaliser(load_registry(None), "US")
    assert _outcome(normaliser.pair, namespace, raw) == expected
