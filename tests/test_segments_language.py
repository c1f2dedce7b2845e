"""The segment language without a database: every construct parsed, printed canonically and
read back; syntax errors with their place and what was expected; type errors; the JSON AST."""

from __future__ import annotations

import pytest

from idgraph.errors import InvalidInput
from idgraph.profile.attributes import AttributeSchema, load_attribute_schema
from idgraph.segments import (
    SegmentCycleError,
    SegmentError,
    SegmentSyntaxError,
    SegmentTypeError,
    UnknownSegment,
    check_rule,
    expand_segments,
    parse,
    referenced_segments,
    rule_from_json,
    to_text,
)

# (text as written, its canonical text)
CONSTRUCTS = [
    ("age > 50", "age > 50"),
    ("age>=50.5", "age >= 50.5"),
    ("age < -3", "age < -3"),
    ("age <= 1e3", "age <= 1000.0"),
    ('tier = "gold"', 'tier = "gold"'),
    ('tier != "gold"', 'tier != "gold"'),
    ("vip = true and vip != false", "vip = true and vip != false"),
    ('tier in ["gold","silver", 3, true]', 'tier in ["gold", "silver", 3, true]'),
    ("age exists", "age exists"),
    ('name ~= "ALICE"', 'name ~= "ALICE"'),
    ('tags contains "vip"', 'tags contains "vip"'),
    ('email startsWith "a" or email endsWith "@acme.com"',
     'email startsWith "a" or email endsWith "@acme.com"'),
    ('address.city = "Oslo"', 'address.city = "Oslo"'),
    ('birthDate < date("2000-01-01")', 'birthDate < date("2000-01-01")'),
    ('seen > datetime("2024-05-01T10:00:00Z")', 'seen > datetime("2024-05-01T10:00:00Z")'),
    ("seen > now - 30 days", "seen > now - 30 days"),
    ("seen > now - 1 day", "seen > now - 1 day"),
    ("seen < now + 2 hours", "seen < now + 2 hours"),
    ("seen < now-90minutes", "seen < now - 90 minutes"),
    ("seen <= now", "seen <= now"),
    ("a = 1 AND b = 2 OR NOT c = 3", "a = 1 and b = 2 or not c = 3"),
    ("(a = 1 or b = 2) and c = 3", "(a = 1 or b = 2) and c = 3"),
    ("not (a = 1 and b = 2)", "not (a = 1 and b = 2)"),
    ("((a = 1))", "a = 1"),
    ("has email", "has email"),
    ('identity(namespace = "loyalty").exists()', 'identity(namespace = "loyalty").exists()'),
    ('identity(namespace = "email" and value endsWith "@acme.com").count() >= 2',
     'identity(namespace = "email" and value endsWith "@acme.com").count() >= 2'),
    ("identity().count() > 3", "identity().count() > 3"),
    ('events(type = "purchase", within 30 days).count() >= 2',
     'events(type = "purchase", within 30 days).count() >= 2'),
    ('events(type = "purchase" and value > 100).sum(value) > 500',
     'events(type = "purchase" and value > 100).sum(value) > 500'),
    ("events().min(value) < 1", "events().min(value) < 1"),
    ("events(within 1 hour).max(cart.total) >= 10", "events(within 1 hour).max(cart.total) >= 10"),
    ('events(source = "pos").avg(value) = 2.5', 'events(source = "pos").avg(value) = 2.5'),
    ('events(type = "login").last() < now - 90 days',
     'events(type = "login").last() < now - 90 days'),
    ('events(between(date("2024-01-01"), now - 1 day)).first() > date("2024-01-02")',
     'events(between(date("2024-01-01"), now - 1 day)).first() > date("2024-01-02")'),
    ("events(within 7 days).exists()", "events(within 7 days).exists()"),
    ("events(coupon exists and not type in [\"view\"]).exists()",
     'events(coupon exists and not type in ["view"]).exists()'),
    ("computed.lifetimePurchases >= 3", "computed.lifetimePurchases >= 3"),
    ('computed("Lifetime purchases") in [1, 2]', 'computed("Lifetime purchases") in [1, 2]'),
    ("computed.spend exists", "computed.spend exists"),
    ('inSegment("seg_1")', 'inSegment("seg_1")'),
    ('attribute("events") = 1', 'attribute("events") = 1'),
    ('events(property("type") = "x").exists()', 'events(property("type") = "x").exists()'),
    ('a = "line\\nbreak \\"quoted\\" \\u00e5"', 'a = "line\\nbreak \\"quoted\\" å"'),
    ("a = 1 // a comment\n  and b = 2", "a = 1 and b = 2"),
]


@pytest.mark.parametrize(("text", "canonical"), CONSTRUCTS)
def test_every_construct_parses_prints_canonically_and_reads_back(text, canonical):
    rule = parse(text)
    assert to_text(rule) == canonical
    assert parse(canonical) == rule
    assert rule_from_json(rule.model_dump(mode="json")) == rule


def test_the_ast_has_the_kinds_a_rule_builder_sends():
    rule = parse('age > 50 and events(type = "purchase", within 30 days).count() >= 2')
    assert rule.model_dump(mode="json") == {"kind": "and", "conditions": [
        {"kind": "compare", "subject": {"kind": "attribute", "path": "age"}, "op": ">",
         "value": {"kind": "number", "value": 50}},
        {"kind": "compare", "op": ">=", "value": {"kind": "number", "value": 2},
         "subject": {"kind": "event_aggregate", "function": "count", "property": None,
                     "events": {
                         "filter": {"kind": "compare", "op": "=",
                                    "subject": {"kind": "event_field", "field": "type"},
                                    "value": {"kind": "string", "value": "purchase"}},
                         "window": {"kind": "within", "amount": 30, "unit": "days"}}}}]}


@pytest.mark.parametrize(("text", "line", "column", "expected"), [
    ("age >", 1, 6, '"now"'),
    ("age 50", 1, 5, '"="'),
    ("age > 50 and", 1, 13, '"has"'),
    ("age > 50\n  and tier = ", 2, 14, "a string"),
    ("(age > 5", 1, 9, '")"'),
    ('events(type = "x").sum() > 1', 1, 24, "a path"),
    ('identity(name = "x").exists()', 1, 10, '"namespace"'),
    ("x in []", 1, 7, "a number"),
    ("age > 5 @", 1, 9, '"and"'),
    ('events(type = "x").median(value) > 1', 1, 20, "sum, min, max or avg"),
])
def test_syntax_errors_say_where_and_what_was_expected(text, line, column, expected):
    with pytest.raises(SegmentSyntaxError) as caught:
        parse(text)
    error = caught.value
    assert (error.line, error.column) == (line, column), error
    assert expected in error.expected, error.expected
    assert f"line {line}, column {column}" in str(error)
    assert isinstance(error, InvalidInput) and error.code == "SEGMENT_SYNTAX"


@pytest.mark.parametrize(("text", "column", "words"), [
    ('birthDate < date("2024-02-30")', 18, "not a date"),
    ('x > datetime("2024-05-01T10:00:00")', 14, "not a datetime"),
    ("a.b.c.d.e.f.g.h.i = 1", 1, "not a path"),
    ("has Email", 5, "not a namespace"),
    ('inSegment("x\\") or true //")', 11, "should match pattern"),
    ("events(within 0 days).exists()", 15, "greater than or equal to 1"),
    ('a = "\\q"', 5, "not a valid string"),
])
def test_values_that_cannot_be_used_are_syntax_errors_at_the_value(text, column, words):
    with pytest.raises(SegmentSyntaxError) as caught:
        parse(text)
    assert caught.value.column == column and words in str(caught.value)


@pytest.mark.parametrize(("text", "words"), [
    ("age startsWith 5", "`startsWith` takes a string"),
    ('events(type = "x").count() > "two"', "compare it with a number"),
    ("events().last() > 5", "is a time"),
    ("age ~= 5", "`~=` takes a string"),
    ("vip < true", "does not order booleans"),
    ("events().count() exists", "`exists` takes"),
    ('events(type contains "x" and type = 5).exists()', "`type` is text"),
])
def test_operators_given_the_wrong_kind_of_value_are_type_errors(text, words):
    with pytest.raises(SegmentTypeError, match=words):
        parse(text)


@pytest.mark.parametrize(("text", "path"), [
    ('age > "fifty"', "age"), ('firstName > 5', "firstName"), ("newsletter = 1", "newsletter"),
    ('birthDate = "1990-01-01"', "birthDate"), ("age in [1, \"a\"]", "age"),
    ('lastPurchaseAt in ["x"]', "lastPurchaseAt"), ("age contains 5", "age"),
])
def test_declared_types_name_the_attribute(text, path):
    with pytest.raises(SegmentTypeError) as caught:
        check_rule(parse(text), load_attribute_schema())
    assert caught.value.path == path and str(caught.value).startswith(path)


def test_undeclared_and_well_typed_paths_pass():
    schema = load_attribute_schema()
    for text in ['age > 50', 'firstName startsWith "A"', "newsletter = true",
                 'birthDate < date("2000-01-01")', "lastPurchaseAt > now - 30 days",
                 'undeclared > "x" and other > 5', "age exists",
                 'events(age = "x").exists()']:  # an event property, not the attribute
        check_rule(parse(text), schema)
    check_rule(parse('age > "fifty"'), AttributeSchema())


def test_computed_attributes_must_exist_and_be_numeric_when_definitions_are_given():
    functions = {"spend": "SUM", "lastCity": "MOST_RECENT"}
    check_rule(parse("computed.spend > 3"), computed=functions)
    for text, words in [("computed.nope > 1", "no computed attribute"),
                        ("computed.lastCity exists", "MOST_RECENT")]:
        with pytest.raises(SegmentTypeError, match=words):
            check_rule(parse(text), computed=functions)


@pytest.mark.parametrize("data", [
    {"kind": "compare", "subject": {"kind": "attribute", "path": "a` OR true //"}, "op": "=",
     "value": {"kind": "number", "value": 1}},
    {"kind": "compare", "subject": {"kind": "attribute", "path": "a"}, "op": "=",
     "value": {"kind": "number", "value": True}},
    {"kind": "compare", "subject": {"kind": "event_field", "field": "type"}, "op": "=",
     "value": {"kind": "string", "value": "x"}},
    {"kind": "events_exist", "events": {"filter": {"kind": "has_identity", "namespace": "x"}}},
    {"kind": "and", "conditions": [{"kind": "has_identity", "namespace": "x"}]},
    {"kind": "in_segment", "segment_id": "x') OR true //"},
    {"kind": "drop_database"},
])
def test_bad_json_rules_are_refused(data):
    with pytest.raises(SegmentError):
        rule_from_json(data)


def test_rules_are_bounded_in_size():
    deep: dict = {"kind": "has_identity", "namespace": "x"}
    for _ in range(40):
        deep = {"kind": "not", "condition": deep}
    with pytest.raises(SegmentError, match="nests at most"):
        rule_from_json(deep)
    wide = {"kind": "or", "conditions": [{"kind": "has_identity", "namespace": "x"}] * 600}
    with pytest.raises(SegmentError, match="at most 500 parts"):
        rule_from_json(wide)


def test_segments_inline_recursively_and_cycles_are_refused():
    rules = {"a": parse('inSegment("b") or x = 1'), "b": parse("y = 2"),
             "c": parse('inSegment("d")'), "d": parse('inSegment("c")')}
    expanded = expand_segments(parse('inSegment("a") and z = 3'), rules.get)
    assert to_text(expanded) == "(y = 2 or x = 1) and z = 3"
    assert referenced_segments(parse('inSegment("a") or inSegment("b")')) == ["a", "b"]
    with pytest.raises(SegmentCycleError) as caught:
        expand_segments(parse('inSegment("c")'), rules.get)
    assert caught.value.cycle == ("c", "d", "c")
    with pytest.raises(SegmentCycleError):
        expand_segments(parse('inSegment("b")'), {"b": parse('inSegment("b")')}.get)
    with pytest.raises(SegmentCycleError):
        expand_segments(parse("x = 1 or inSegment(\"a\")"), rules.get, origin="a")
    with pytest.raises(UnknownSegment):
        expand_segments(parse('inSegment("nope")'), rules.get)
