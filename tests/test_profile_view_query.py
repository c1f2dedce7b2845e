"""The segment-facing view query: the generated Cypher pinned as golden strings, then run for
real against views kept by ingest, returning exactly the expected profiles."""

from __future__ import annotations

import pytest

from idgraph.db.connect import graph_for
from idgraph.errors import InvalidInput
from idgraph.profile.view import Condition, compile_conditions, profile_ids
from tests.conftest import settings_for
from tests.identity_helpers import ingest, profile, record


def test_conditions_compile_to_one_parameterised_query():
    text, params = compile_conditions([
        Condition("address.city", "=", "Oslo"), Condition("age", ">=", 30),
        Condition("tier", "IN", ("gold", "silver")), Condition("nickname", "IS NULL")])
    assert text == (
        "MATCH (p:Profile)-[:VIEW]->(v:ProfileView)\n"
        "WHERE NOT v._isTest\n"
        "  AND v.`address.city` = $v0\n"
        "  AND v.`age` >= $v1\n"
        "  AND v.`tier` IN $v2\n"
        "  AND v.`nickname` IS NULL\n"
        "RETURN p.id AS id\n"
        "ORDER BY id")
    assert params == {"v0": "Oslo", "v1": 30, "v2": ["gold", "silver"]}


def test_no_conditions_with_test_profiles_scans_every_view():
    assert compile_conditions([], include_test=True) == (
        "MATCH (p:Profile)-[:VIEW]->(v:ProfileView)\nRETURN p.id AS id\nORDER BY id", {})
    text, _ = compile_conditions([Condition("a", "<>", 1)], include_test=True)
    assert text.splitlines()[1] == "WHERE v.`a` <> $v0"


@pytest.mark.parametrize("condition", [
    Condition("a` OR true //", "=", 1),     # injection through the name
    Condition("_isTest", "=", True),        # metadata is not an attribute
    Condition("a..b", "=", 1), Condition("", "=", 1), Condition("1a", "=", 1),
    Condition("a", "CONTAINS", "x"),        # not an allowed operator
    Condition("a", "=", None), Condition("a", "=", {"x": 1}),
    Condition("a", "IN", "abc"), Condition("a", "IN", [{"x": 1}]),
    Condition("a", "IS NULL", 1),
])
def test_bad_conditions_are_refused(condition):
    with pytest.raises(InvalidInput):
        compile_conditions([condition])


async def test_the_query_returns_exactly_the_matching_profiles(gql, neo4j_server):
    ingest(gql, [
        record("1", "crm:A", source="crm", day=1,
               attributes={"address": {"city": "Oslo"}, "age": 41, "tier": "gold"}),
        record("2", "crm:A", source="web", day=2, attributes={"address": {"city": "Bergen"}}),
        record("3", "crm:B", attributes={"address": {"city": "Oslo"}, "age": 25,
                                         "nickname": "b"}),
        record("4", "crm:C", attributes={"address": {"city": "Oslo"}, "age": 52,
                                         "tier": "silver"}),
        record("5", "crm:T", attributes={"address": {"city": "Oslo"}, "age": 60,
                                         "testProfile": True}),
        # An undeclared path keeps text, and text never compares to a number (a declared one,
        # like age, types it at ingest: tests/test_attribute_types.py).
        record("6", "crm:D", attributes={"shoeSize": "big"})])
    pid = {k: profile(gql, f"crm:{k}")["id"] for k in "ABCDT"}
    graph = graph_for(settings_for(neo4j_server), start_local=False)
    try:
        async def ids(*conditions: Condition, include_test: bool = False) -> set[str]:
            return set(await profile_ids(graph, conditions, include_test))

        oslo = Condition("address.city", "=", "Oslo")
        assert await ids(oslo) == {pid["B"], pid["C"]}  # A moved to Bergen; T is a test
        assert await ids(oslo, include_test=True) == {pid["B"], pid["C"], pid["T"]}
        assert await ids(oslo, Condition("age", ">=", 30)) == {pid["C"]}
        assert await ids(Condition("age", ">", 30)) == {pid["A"], pid["C"]}
        assert await ids(Condition("shoeSize", ">", 30)) == set()
        assert await ids(Condition("tier", "IN", ["gold", "silver"])) == {pid["A"], pid["C"]}
        assert await ids(Condition("nickname", "IS NULL"), Condition("tier", "IS NOT NULL"),
                         Condition("address.city", "<>", "Bergen")) == {pid["C"]}
    finally:
        await graph.close()
