"""Imported audiences over GraphQL: identities normalised and resolved to profiles, unknown ones
counted, bad ones reported; the audience is a segment of kind IMPORTED whose members are
stored as every segment's are, replaced (with exits) by a new import, read by `members` and by
`inSegment(...)` in rules (never inlined as a rule)."""

from __future__ import annotations

from idgraph.api.graphql.permissions import Role
from tests.api_support import KEY_SPEC, KEYS, api_server, codes, post
from tests.segment_helpers import (
    EVALUATE,
    PREVIEW,
    SEGMENT_FIELDS,
    UPDATE,
    create,
    evaluate,
    evaluate_all,
    members,
    person,
)

IMPORT = f"""
mutation I($input: AudienceImportInput!) {{
  importAudience(input: $input) {{
    identities rejected matched unknown testProfiles members
    problems {{ index code message }}
    segment {{ kind {SEGMENT_FIELDS} }}
  }}
}}
"""


def ids(*pairs: str) -> list[dict]:
    return [dict(zip(("namespace", "value"), p.split(":", 1), strict=True)) for p in pairs]


def import_audience(gql, name: str, *pairs: str, **fields) -> dict:
    return gql(IMPORT, {"input": {"name": name, "identities": ids(*pairs), **fields}})[
        "importAudience"]


def test_identities_are_normalised_resolved_and_counted(gql):
    p1, p2 = person(gql, 1), person(gql, 2)
    person(gql, 3)
    person(gql, 4, test=True)
    done = import_audience(gql, "VIP", "email: C1@Example.COM ", "crm:C2", "email:c1@example.com",
                           "email:nobody@example.com", "bogus:x", "email:  ", "crm:C4")
    assert (done["identities"], done["rejected"], done["matched"], done["unknown"],
            done["testProfiles"], done["members"]) == (7, 2, 3, 1, 1, 2)
    assert [(p["index"], p["code"]) for p in done["problems"]] == [(4, "UNKNOWN_NAMESPACE"),
                                                                   (5, "BLANK_VALUE")]
    made = done["segment"]
    assert made["kind"] == "IMPORTED" and made["definition"] is None
    assert made["definitionJson"] is None and made["size"] == 2 and not made["dependsOnTime"]
    assert made["lastEvaluation"]["counts"]["realized"] == 2
    assert members(gql, made["id"]) == {p1: "REALIZED", p2: "REALIZED"}
    read = gql("query($id: ID!) { segment(id: $id) { kind definition size } }", {"id": made["id"]})
    assert read["segment"] == {"kind": "IMPORTED", "definition": None, "size": 2}


def test_test_profiles_stay_when_the_audience_asks_for_them(gql):
    p4 = person(gql, 4, test=True)
    done = import_audience(gql, "QA", "crm:C4", includeTestProfiles=True)
    assert done["members"] == 1 and done["testProfiles"] == 0
    assert members(gql, done["segment"]["id"]) == {p4: "REALIZED"}


def test_importing_again_replaces_the_list_and_exits_the_rest(gql):
    p1, p2, p3 = person(gql, 1), person(gql, 2), person(gql, 3)
    first = import_audience(gql, "Newsletter", "crm:C1", "crm:C2")["segment"]
    again = import_audience(gql, "Newsletter", "crm:C2", "crm:C3", description="May list")
    assert again["segment"]["id"] == first["id"] and again["segment"]["version"] == 1
    assert again["segment"]["description"] == "May list" and again["segment"]["size"] == 2
    assert members(gql, first["id"], ["REALIZED", "EXISTING", "EXITED"]) == {
        p1: "EXITED", p2: "EXISTING", p3: "REALIZED"}
    counts = again["segment"]["lastEvaluation"]["counts"]
    assert (counts["realized"], counts["existing"], counts["exitedNow"]) == (1, 1, 1)


def test_rules_read_an_imported_audience_from_its_stored_members(gql):
    p1 = person(gql, 1, age=40)
    person(gql, 2, age=20)
    p3 = person(gql, 3, age=50)
    listed = import_audience(gql, "Store list", "crm:C1", "crm:C2")["segment"]["id"]
    rule = create(gql, "Older listed", f'inSegment("{listed}") and age > 30', id="older")
    assert rule["includes"] == [listed]
    evaluate(gql, "older")  # alone: the list is not fresh, and still read as stored
    assert members(gql, "older") == {p1: "REALIZED"}
    preview = gql(PREVIEW, {"definition": f'inSegment("{listed}")', "sampleSize": 5})
    assert preview["previewSegment"]["count"] == 2
    assert "IN_SEGMENT" in preview["previewSegment"]["cypher"]

    import_audience(gql, "Store list", "crm:C3")  # the list changes: the rule follows
    evaluate_all(gql)  # the imported audience is part of "all" and is left as imported
    assert members(gql, "older") == {p3: "REALIZED"}
    assert members(gql, listed) == {p3: "REALIZED"}


def test_an_imported_audience_has_no_rule_to_evaluate_or_change(gql):
    person(gql, 1)
    listed = import_audience(gql, "List", "crm:C1")["segment"]["id"]
    body = gql.post(EVALUATE, {"id": listed}).json()
    assert codes(body) == ["INVALID_INPUT"] and "imported" in body["errors"][0]["message"]
    body = gql.post(UPDATE, {"id": listed, "input": {"definition": "age > 3"}}).json()
    assert codes(body) == ["INVALID_INPUT"]
    renamed = gql(UPDATE, {"id": listed, "input": {"name": "Renamed"}})["updateSegment"]
    assert renamed["name"] == "Renamed" and renamed["size"] == 1


def test_bad_imports_change_nothing(gql, cypher):
    person(gql, 1)
    create(gql, "Adults", "age >= 18")
    taken = gql.post(IMPORT, {"input": {"name": "Adults", "identities": ids("crm:C1")}}).json()
    assert codes(taken) == ["INVALID_INPUT"] and "has a rule" in taken["errors"][0]["message"]
    all_bad = gql.post(IMPORT, {"input": {"name": "Junk", "identities": ids("bogus:1",
                                                                             "email:")}}).json()
    assert codes(all_bad) == ["INVALID_INPUT"]
    assert "No row of the file could be read" in all_bad["errors"][0]["message"]
    assert cypher("MATCH (s:Segment) RETURN collect(s.name) AS n")[0]["n"] == ["Adults"]
    assert cypher("MATCH ()-[m:IN_SEGMENT]->() RETURN count(m) AS n")[0]["n"] == 0


def test_only_analysts_import(neo4j_server, empty_graph):
    variables = {"input": {"name": "L", "identities": ids("crm:C1")}}
    with api_server(neo4j_server, api_keys=KEY_SPEC) as server:
        def call(role: Role) -> list[str]:
            return codes(post(server.url, IMPORT, variables, key=KEYS[role]).json())

        assert call(Role.APP) == ["FORBIDDEN"] and call(Role.PARTNER) == ["FORBIDDEN"]
        assert call(Role.ANALYST) == []  # crm:C1 is unknown: an empty audience
