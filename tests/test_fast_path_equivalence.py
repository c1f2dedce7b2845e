"""The fast profile read (api/graphql/fast_plan.py, fast_reads.py and api/http/front_door.py)
answers every profile-read document, caller and variable exactly as the general path does:
the same status, the same headers and the same bytes.

Hypothesis writes the documents from the schema itself, over the whole `Profile` selection set
(every field, nested objects, arguments, aliases, fragments, directives), with every role, no
key or a wrong one, and valid, unknown, rejected and malformed identities. Each is sent to an
app with the fast path and to one without it (IDGRAPH_FAST_PROFILE_READS off), both on the
same Neo4j and the same data.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    get_named_type,
)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from idgraph.api.graphql.schema import build_schema
from idgraph.auth.roles import Role
from tests.api_support import KEY_SPEC, KEYS, api_server
from tests.conftest import LiveServer, Neo4jServer
from tests.identity_helpers import ident, ingest, record

SCHEMA: GraphQLSchema = build_schema()._schema
DEFINITION = "strawberry-definition"  # where strawberry keeps a GraphQL field's definition
PROFILE = SCHEMA.type_map["Profile"]
assert isinstance(PROFILE, GraphQLObjectType)

# Literal argument values by the argument's named type (null is added for nullable ones).
LITERALS = {"Int": ["0", "2"], "ID": ['"default"', '"no-such-policy"'], "String": ['"view"'],
            "DateTime": ['"2025-01-01T00:00:00Z"']}
CALLERS = ["app", "partner", "analyst", "admin", "none", "invalid"]
IDENTITIES: list[Any] = [
    ident("crm:C1"), {"namespace": "email", "value": " Ann@X.com "}, ident("ecid:E9"),
    ident("crm:C2"), ident("crm:Zoë7"), ident("email:zoe@x.com"),  # valid (one not ASCII)
    ident("crm:C1"), ident("crm:C2"), ident("email:zoe@x.com"),  # (valid ones more often)
    ident("crm:C404"), ident("email:nobody@x.com"),  # unknown
    ident("email:bad"), ident("nope:x"), ident("crm:unknown"), ident("crm: "),  # rejected
    {"namespace": "crm"}, {"namespace": "crm", "value": 7}, None,  # malformed
    {"namespace": "crm", "value": "C1", "extra": 1},
]
ACCEPTS = [None, "application/json", "application/graphql-response+json"]
UNCHECKED_HEADERS = {"date"}  # the only header that may differ: the clock's second


def _object(type_: GraphQLOutputType) -> GraphQLObjectType | None:
    named = get_named_type(type_)
    return named if isinstance(named, GraphQLObjectType) else None


@st.composite
def arguments(draw: st.DrawFn, field: Any) -> str:
    """Literal arguments for a field: each one omitted (when it may be), null or a value."""
    parts = []
    for name, argument in field.args.items():
        type_ = argument.type
        nullable = not isinstance(type_, GraphQLNonNull)
        inner = type_ if nullable else type_.of_type
        values = LITERALS.get(get_named_type(type_).name, [])
        if isinstance(inner, GraphQLList):
            values = [f"[{v}]" for v in values]
        if not nullable and not values:
            continue  # no literal for it: the document is invalid, which is a case too
        chosen = draw(st.sampled_from([None, "null", *values] if nullable else values))
        if chosen is not None:
            parts.append(f"{name}: {chosen}")
    return f"({', '.join(parts)})" if parts else ""


# How wild a document is: "simple" ones have resolver-free fields (and `attributes`, which the
# fast path claims) without arguments, directives, fragments or repeated keys, so that many
# reach the fast path; "unique" ones any fields, once each; "any" ones anything.
MODES = ["simple", "simple", "unique", "any", "any"]


def _resolved(field: Any) -> bool:
    return field.extensions[DEFINITION].base_resolver is not None


@st.composite
def selection(draw: st.DrawFn, type_: GraphQLObjectType, depth: int, mode: str) -> str:
    """A selection set on `type_`: some of its fields, maybe aliased, with arguments and
    sub-selections, sometimes under a directive."""
    names = [*type_.fields, "__typename"]
    if mode == "simple":
        names = [n for n in names if n in ("__typename", "attributes")
                 or not _resolved(type_.fields[n])]
    picked = draw(st.lists(st.sampled_from(names), min_size=1, max_size=5,
                           unique=mode != "any"))
    return "{ " + " ".join(draw(field_text(type_, n, depth, mode)) for n in picked) + " }"


@st.composite
def field_text(draw: st.DrawFn, type_: GraphQLObjectType, name: str, depth: int,
               mode: str) -> str:
    aliases = [None, None, None, "a", "b", name] if mode == "any" else [None, f"{name}_"]
    alias = draw(st.sampled_from(aliases))
    text = f"{alias}: {name}" if alias else name
    if name == "__typename":
        return text
    field = type_.fields[name]
    if mode != "simple":
        text += draw(arguments(field))
    if mode == "any" and draw(st.integers(0, 4)) == 0:
        text += draw(st.sampled_from([" @include(if: true)", " @skip(if: false)",
                                      " @skip(if: true)"]))
    inner = _object(field.type)
    if inner is not None:
        text += " " + (draw(selection(inner, depth - 1, mode)) if depth > 0
                       else "{ __typename }")
    return text


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, str, str | None, str]:
    """A profile-read document: (text, its identity variable, its operation name, mode)."""
    mode = draw(st.sampled_from(MODES))
    wild = mode == "any"
    variable = draw(st.sampled_from(["i", "identity", "who"]))
    operation = draw(st.sampled_from([None, "P", "Front"]))
    body = draw(selection(PROFILE, 2, mode))
    fragments = ""
    shape = draw(st.sampled_from(["plain", "inline", "typed-inline", "named"])) if wild \
        else "plain"
    if shape == "inline":
        body = "{ ... " + body + " }"
    elif shape == "typed-inline":
        body = "{ ... on Profile " + body + " }"
    elif shape == "named":
        body, fragments = "{ ...ProfileParts }", " fragment ProfileParts on Profile " + body
    root_alias = draw(st.sampled_from(["", "me: "]))
    declared = draw(st.sampled_from(["IdentityInput!", "IdentityInput", "ID!"])) if wild \
        else "IdentityInput!"
    extra = draw(st.sampled_from(["", ", $n: Int"])) if wild else ""
    head = f"query {operation or ''}(${variable}: {declared}{extra})"
    text = f"{head} {{ {root_alias}profile(identity: ${variable}) {body} }}{fragments}"
    return text, variable, operation, mode


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, Any], str, str | None]:
    """A request body, its caller and its Accept header."""
    text, variable, operation, mode = draw(documents())
    wild = mode == "any"
    variables: dict[str, Any] = {}
    if not wild or draw(st.booleans()):
        variables[variable] = draw(st.sampled_from(IDENTITIES))
    if wild and draw(st.booleans()):
        variables["other"] = 1
    body: dict[str, Any] = {"query": text, "variables": variables}
    name = draw(st.sampled_from([None, operation, "Other"] if wild else [None, operation]))
    if name is not None:
        body["operationName"] = name
    return body, draw(st.sampled_from(CALLERS)), draw(st.sampled_from(ACCEPTS))


def headers_for(caller: str, accept: str | None, request_id: str) -> dict[str, str]:
    headers = {"content-type": "application/json", "x-request-id": request_id}
    if caller == "invalid":
        headers["authorization"] = "Bearer not-a-key-0123456789abcdef"
    elif caller != "none":
        headers["authorization"] = f"Bearer {KEYS[Role(caller)]}"
    if accept:
        headers["accept"] = accept
    return headers


def exchange(client: httpx.Client, payload: bytes,
             headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request: its status, its headers (but the date) in order, and its body."""
    answer = client.post("/graphql", content=payload, headers=headers)
    kept = [(k, v) for k, v in answer.headers.multi_items() if k not in UNCHECKED_HEADERS]
    return answer.status_code, kept, answer.content


# Keys for every role; neither rate limits nor failed keys may refuse a request mid-run.
OPEN_LIMITS = {"api_keys": KEY_SPEC, "rate_limit_burst": 10**9, "rate_limit_per_minute": 1e12,
               "auth_failure_burst": 10**9, "auth_failures_per_minute": 1e12}


@pytest.fixture(scope="module")
def paths(neo4j_server: Neo4jServer) -> Iterator[tuple[LiveServer, LiveServer]]:
    with api_server(neo4j_server, **OPEN_LIMITS) as fast, \
            api_server(neo4j_server, fast_profile_reads=False, **OPEN_LIMITS) as general:
        yield fast, general


@pytest.fixture
def profiles(gql: Any) -> None:
    ingest(gql, [
        record("1", "crm:C1", "email:ann@x.com", day=1,
               attributes={"name": "Zoë Ann", "score": 1.5, "big": 1e16, "vip": True,
                           "tags": ["a", "ß"], "address": {"city": "Ålesund"}}),
        record("2", "email:ann@x.com", "ecid:E9", source="web", day=2,
               attributes={"address": {"city": "Bergen", "zip": "5003"}, "score": 2}),
        record("3", "crm:C2", day=3, attributes={"testProfile": True, "name": "Test"}),
        record("4", "crm:Zoë7", "email:zoe@x.com", day=4, attributes={"name": "Zoë"}),
    ], events=[{"source": "web", "eventId": "e1", "timestamp": "2025-01-05T12:00:00Z",
                "type": "view", "identities": [ident("crm:C1")], "properties": {"p": 1}}])


def test_the_fast_path_answers_every_profile_read_as_the_general_path(paths, profiles):
    fast, general = paths
    reads = fast.app.state.graphql.fast_reads
    counts: Counter[str] = Counter()
    ids = itertools.count()
    with httpx.Client(base_url=fast.url, timeout=60) as to_fast, \
            httpx.Client(base_url=general.url, timeout=60) as to_general:

        @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=cases())
        def check(case: tuple[dict[str, Any], str, str | None]) -> None:
            body, caller, accept = case
            payload = orjson.dumps(body)
            headers = headers_for(caller, accept, f"equivalence-{next(ids)}")
            expected = exchange(to_general, payload, headers)
            first = exchange(to_fast, payload, headers)  # the general path validates the text
            served = reads.served
            again = exchange(to_fast, payload, headers)  # taken by the fast path if it can
            taken = "fast" if reads.served > served else "general"
            counts[taken] += 1
            event(f"answered by the {taken} path")
            assert first == expected
            assert again == expected

        check()
    # Not vacuous: many of the generated reads were answered by the fast path.
    assert counts["fast"] >= 30, counts
