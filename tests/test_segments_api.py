"""Segments as saved objects over GraphQL: create, read, list, update, delete; typed errors;
inSegment cycles; injection attempts that change nothing."""

from __future__ import annotations

from idgraph.api.graphql.permissions import Role
from tests.api_support import KEY_SPEC, KEYS, api_server, codes, post
from tests.identity_helpers import INGEST, record
from tests.segment_helpers import (
    CREATE,
    DELETE,
    LIST,
    UPDATE,
    create,
    evaluate,
    members,
    person,
    segment,
)


def errors_of(gql, query: str, variables: dict) -> list[dict]:
    body = gql.post(query, variables).json()
    assert body.get("errors"), body
    return body["errors"]


def test_create_read_list_update_delete(gql):
    made = create(gql, "Adults", "age  >=  18 and has email", description="grown-ups",
                  id="adults")
    assert made["id"] == "adults" and made["version"] == 1 and made["size"] == 0
    assert made["definition"] == made["text"] == "age >= 18 and has email"  # canonical
    assert made["definitionJson"]["kind"] == "and" and not made["dependsOnTime"]
    assert made["lastEvaluation"] is None and made["includeTestProfiles"] is False
    assert segment(gql, "adults") == made
    from_json = create(gql, "Seniors", None, definitionJson={
        "kind": "compare", "subject": {"kind": "attribute", "path": "age"}, "op": ">",
        "value": {"kind": "number", "value": 64}})
    assert from_json["definition"] == "age > 64"

    listed = gql(LIST, {"first": 1})["segments"]
    assert [e["node"]["name"] for e in listed["edges"]] == ["Adults"]
    assert listed["pageInfo"]["hasNextPage"]
    rest = gql(LIST, {"first": 5, "after": listed["pageInfo"]["endCursor"]})["segments"]
    assert [e["node"]["name"] for e in rest["edges"]] == ["Seniors"]

    renamed = gql(UPDATE, {"id": "adults", "input": {"name": "Grown-ups"}})["updateSegment"]
    assert renamed["name"] == "Grown-ups" and renamed["version"] == 1  # same rule: same version
    changed = gql(UPDATE, {"id": "adults", "input": {"definition": "events(within 30 days)"
                                                                   ".count() > 2"}})
    assert changed["updateSegment"]["version"] == 2
    assert changed["updateSegment"]["dependsOnTime"]

    assert gql(DELETE, {"id": "adults"})["deleteSegment"] == {"id": "adults"}
    assert segment(gql, "adults") is None
    assert codes(gql.post(DELETE, {"id": "adults"}).json()) == ["NOT_FOUND"]


def test_a_new_version_has_no_members_until_it_is_evaluated(gql):
    first = person(gql, 1, age=40)
    create(gql, "Adults", "age >= 18", id="adults")
    evaluate(gql, "adults")
    assert members(gql, "adults") == {first: "REALIZED"}
    updated = gql(UPDATE, {"id": "adults", "input": {"definition": "age >= 21"}})
    assert updated["updateSegment"]["size"] == 0
    assert updated["updateSegment"]["lastEvaluation"] is None
    assert members(gql, "adults") == {}  # the old version's memberships are not shown
    evaluate(gql, "adults")
    assert members(gql, "adults") == {first: "REALIZED"}  # a new version: realized again


def test_a_syntax_error_is_typed_with_its_place(gql):
    errors = errors_of(gql, CREATE, {"input": {"name": "Bad", "definition":
                                               'age > 18 and\n  city = '}})
    extensions = errors[0]["extensions"]
    assert extensions["code"] == "SEGMENT_SYNTAX"
    assert (extensions["line"], extensions["column"]) == (2, 10)
    assert extensions["expected"]
    assert "line 2" in errors[0]["message"]


def test_a_type_error_is_typed_and_names_the_attribute(gql):
    # events(...).count() is a number: comparing it with text is a type error
    errors = errors_of(gql, CREATE, {"input": {"name": "Bad", "definition":
                                               'events().count() > "two"'}})
    assert errors[0]["extensions"]["code"] == "SEGMENT_TYPE"
    errors = errors_of(gql, CREATE, {"input": {"name": "Bad", "definition":
                                               'computed("nothing") > 2'}})
    assert errors[0]["extensions"]["code"] == "SEGMENT_TYPE"


def test_bad_input_is_refused_and_saves_nothing(gql):
    for fields, code in [({"definition": None}, "INVALID_INPUT"),
                         ({"definition": "age > 1", "definitionJson": {"kind": "x"}},
                          "INVALID_INPUT"),
                         ({"definition": "age > 1", "id": "bad id!"}, "INVALID_INPUT"),
                         ({"definition": "age > 1", "mergePolicy": "nope"}, "INVALID_INPUT"),
                         ({"definitionJson": {"kind": "compare"}}, "SEGMENT_INVALID"),
                         ({"definition": 'inSegment("missing")'}, "SEGMENT_UNKNOWN")]:
        body = gql.post(CREATE, {"input": {"name": "X", **fields}}).json()
        assert codes(body) == [code], (fields, body)
    create(gql, "Taken", "age > 1")
    assert codes(gql.post(CREATE, {"input": {"name": "Taken", "definition": "age > 2"}})
                 .json()) == ["INVALID_INPUT"]
    assert [e["node"]["name"] for e in gql(LIST, {})["segments"]["edges"]] == ["Taken"]


def test_inclusion_cycles_are_refused_and_included_segments_cannot_be_deleted(gql):
    create(gql, "A", "age > 1", id="a")
    create(gql, "B", 'inSegment("a") and has email', id="b")
    create(gql, "C", 'inSegment("b")', id="c")
    errors = errors_of(gql, UPDATE, {"id": "a", "input": {"definition": 'inSegment("c")'}})
    assert errors[0]["extensions"]["code"] == "SEGMENT_CYCLE"
    assert errors[0]["extensions"]["cycle"] == ["a", "c", "b", "a"]
    errors = errors_of(gql, UPDATE, {"id": "a", "input": {"definition": 'inSegment("a")'}})
    assert errors[0]["extensions"]["code"] == "SEGMENT_CYCLE"
    assert segment(gql, "a")["definition"] == "age > 1" and segment(gql, "a")["version"] == 1
    assert segment(gql, "b")["includes"] == ["a"]

    assert codes(gql.post(DELETE, {"id": "a"}).json()) == ["SEGMENT_IN_USE"]
    gql(DELETE, {"id": "c"})
    gql(DELETE, {"id": "b"})
    gql(DELETE, {"id": "a"})


INJECTIONS = [
    # a path: the grammar admits letters, digits, _ and dots only
    ("attribute(\"a` = 1 DETACH DELETE p //\") = 1", "SEGMENT_SYNTAX"),
    ("a`b = 1", "SEGMENT_SYNTAX"),
    # a segment id: refused by its pattern
    ('inSegment("x\'}) DETACH DELETE p //")', "SEGMENT_SYNTAX"),
]


# Lock nodes writers take one of at random (made on first use) are not data.
DATA_NODES = "MATCH (n) WHERE NOT n:ChangeFeedShard AND NOT n:CounterShard"


def test_injection_attempts_change_nothing(gql, cypher):
    victim = person(gql, 1, name="x' OR 1=1 //", city="Paris")
    before = cypher(DATA_NODES + " RETURN count(n) AS n")[0]["n"]
    for definition, code in INJECTIONS:
        body = gql.post(CREATE, {"input": {"name": "evil", "definition": definition}}).json()
        assert codes(body) == [code], (definition, body)
    # a value: travels as a parameter, matched literally
    evil = "x' OR 1=1 //"
    made = create(gql, "Values", f'name = "{evil}" or city = "\\"}}) DETACH DELETE p //"')
    assert evil in made["definition"]
    evaluate(gql, made["id"])
    assert members(gql, made["id"]) == {victim: "REALIZED"}
    nodes = cypher(DATA_NODES + " AND NOT n:Segment AND NOT n:Job AND NOT n:SegmentCatalog"
                   " RETURN count(n) AS n")[0]["n"]
    assert nodes == before


def test_roles_analysts_write_partners_read_members_apps_read_profile_segments(
        neo4j_server, empty_graph):

    create_gold = {"input": {"name": "Gold", "definition": 'tier = "gold"', "id": "gold"}}
    members_of = '{ segment(id: "gold") { members { edges { node { profileId } } } } }'
    cypher_of = '{ segment(id: "gold") { cypher } }'
    mine = ('{ profile(identity: {namespace: "crm", value: "C1"}) '
            "{ segments { segment { name } } } }")
    with api_server(neo4j_server, api_keys=KEY_SPEC) as server:
        def call(role: Role, query: str, variables: dict | None = None) -> list[str]:
            return codes(post(server.url, query, variables, key=KEYS[role]).json())

        assert call(Role.PARTNER, INGEST, {"records": [record("1", "crm:C1")]}) == []
        for role in (Role.APP, Role.PARTNER):
            assert call(role, CREATE, create_gold) == ["FORBIDDEN"]
        assert call(Role.ANALYST, CREATE, create_gold) == []
        assert call(Role.PARTNER, members_of) == []
        assert call(Role.APP, members_of) == ["FORBIDDEN"]
        assert call(Role.PARTNER, cypher_of) == ["FORBIDDEN"]
        assert call(Role.ANALYST, cypher_of) == []
        assert post(server.url, mine, key=KEYS[Role.APP]).json() == {
            "data": {"profile": {"segments": []}}}
        assert call(Role.PARTNER, DELETE, {"id": "gold"}) == ["FORBIDDEN"]
