"""Bad input through the GraphQL API: each bad item is one rejection with a code, the good ones
go in, and what went in reads back as valid JSON."""

from __future__ import annotations

import json
from typing import Any

from tests.identity_helpers import INGEST, ident, ingest, record
from tests.profile_helpers import ago, event
from tests.test_profile_computed import computed, define

READ = """
query R($identity: IdentityInput!) {
  profile(identity: $identity) {
    attributes identities { namespace value firstSeen lastSeen }
    events(first: 10) { edges { node { timestamp properties } } }
  }
}
"""


FAST_READ = "query P($identity: IdentityInput!) { profile(identity: $identity) { attributes } }"
GENERAL_READ = """
query R($identity: IdentityInput!) {
  profile(identity: $identity) {
    attributes(mergePolicy: "default") attributeProvenance { path value }
    events(first: 10) { edges { node { properties } } }
  }
}
"""


def post_raw(gql, query: str, variables: dict[str, Any]) -> dict:
    """POST what Python's JSON writes (NaN, Infinity and lone surrogates as `\\ud800`, as other
    clients may send them); the response parsed strictly: it must be JSON."""
    body = post_raw_any(gql, query, variables)
    assert not body.get("errors"), body
    return body["data"]


def _not_json(constant: str) -> None:
    raise AssertionError(f"the response holds {constant}, which is not JSON")


def rejected(result: dict) -> list[tuple[int, str]]:
    return sorted((e["index"], e["code"]) for e in result["errors"])


def at(moment: str, record_id: str, *identities: str) -> dict:
    return {**record(record_id, *identities), "timestamp": moment}


def test_timestamps_outside_the_documented_range_are_rejected_per_item(gql):
    result = ingest(gql, [at("1899-12-31T23:59:59Z", "0", "crm:C0"),
                          at("1900-01-01T00:00:00Z", "1", "crm:C1"),
                          at("2199-12-31T23:59:59.999Z", "2", "crm:C1"),
                          at("2200-01-01T00:00:00Z", "3", "crm:C3"),
                          at("0001-01-01T00:00:00Z", "4", "crm:C4"),
                          at("9999-12-31T23:59:59Z", "5", "crm:C5")])
    assert result["accepted"] == 2
    assert rejected(result) == [(0, "INVALID_TIMESTAMP"), (3, "INVALID_TIMESTAMP"),
                                (4, "INVALID_TIMESTAMP"), (5, "INVALID_TIMESTAMP")]
    assert "1900-01-01" in result["errors"][0]["message"]
    read = gql(READ, {"identity": ident("crm:C1")})["profile"]
    assert read["identities"][0]["firstSeen"].startswith("1900-01-01")
    assert read["identities"][0]["lastSeen"].startswith("2199-12-31")


def test_numbers_past_the_float_range_never_fail_an_ingest(gql):
    define(gql, "spend", "SUM", "total")
    define(gql, "biggest", "MAX", "total")
    define(gql, "no_refunds", "MIN", "total", event_type="refund")  # no events: null
    ingest(gql, [record("1", "crm:C1"), record("2", "crm:C2")])
    events = [event("huge", "crm:C1", at=ago(days=2), total=10**400),  # over 1e308
              event("small", "crm:C1", at=ago(days=1), total=5),
              event("a", "crm:C2", at=ago(days=2), total=1e308),
              event("b", "crm:C2", at=ago(days=1), total=1e308)]
    result = ingest(gql, events=events)
    assert (result["accepted"], result["errors"]) == (4, [])
    # a number no float can hold adds nothing; a sum past the float range is null
    assert computed(gql, "crm:C1") == {"spend": 5, "biggest": 5, "no_refunds": None}
    assert computed(gql, "crm:C2") == {"spend": None, "biggest": int(1e308),
                                       "no_refunds": None}
    # and the big integer itself is kept as sent
    read = gql(READ, {"identity": ident("crm:C1")})["profile"]
    assert {"total": 10**400} in [e["node"]["properties"] for e in read["events"]["edges"]]


def test_contributions_are_finite_floats_or_nothing():
    from idgraph.profile.computed import Definition, EventFact, aggregate, contribution

    total = Definition("spend", "SUM", "buy", "total", 10**9)

    def of(value: object) -> float | str | None:
        return contribution(total, EventFact("k", "buy", 1, {"total": value}, ("crm:C1",)))

    assert [of(v) for v in (2, 2.5, 10**400, True, "3", float("nan"), float("inf"))] == [
        2.0, 2.5, None, None, None, None, None]
    states = [{"ts": [1, 2, 3], "vals": [1e308, 1e308, float("nan")], "events": ["a", "b", "c"]}]
    assert aggregate(total, states, now=5) is None


def test_nan_and_infinity_are_rejected_per_item_naming_the_path(gql):
    records = [record("1", "crm:C1", attributes={"score": float("nan")}),
               record("2", "crm:C1", attributes={"a": {"b": [1, float("-inf")]}}),
               record("3", "crm:C1", attributes={"name": "Ann", "score": 1.5})]
    events = [event("e1", "crm:C1", at=ago(days=1), order={"total": float("inf")}),
              event("e2", "crm:C1", at=ago(days=1), order={"total": 2})]
    result = post_raw(gql, INGEST, {"records": records, "events": events})["ingest"]
    assert result["accepted"] == 2
    assert sorted((e["kind"], e["index"], e["code"]) for e in result["errors"]) == [
        ("EVENT", 0, "INVALID_NUMBER"), ("RECORD", 0, "INVALID_NUMBER"),
        ("RECORD", 1, "INVALID_NUMBER")]
    messages = {e["message"] for e in result["errors"]}
    assert {"attributes.score is nan", "attributes.a.b[1] is -inf",
            "properties.order.total is inf"} == {m.split(":")[0] for m in messages}
    # both read paths answer valid JSON (the fast one, and the general one)
    fast = post_raw(gql, FAST_READ, {"identity": ident("crm:C1")})["profile"]
    assert fast["attributes"] == {"name": "Ann", "score": 1.5}
    general = post_raw(gql, GENERAL_READ, {"identity": ident("crm:C1")})["profile"]
    assert general["attributes"] == fast["attributes"]
    assert [e["node"]["properties"] for e in general["events"]["edges"]] == [
        {"order": {"total": 2}}]


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_text_and_shapes_that_cannot_be_stored_are_rejected_per_item(gql):
    good = {"note": "two\nlines\u0000", "emoji": "\U0001f600", "deep": nested(31)}
    records = [record("0", "crm:C1", attributes={"name": "\ud800"}),
               record("1", "crm:C1", attributes={"na\udc00me": "Ann"}),
               record("r\ud800", "crm:C1"),
               record("3", "crm:C1", source="crm\udfff"),
               record("4", "crm:C\ud800"),
               record("r\u0000", "crm:C1"),
               record("6", "crm:C1", source="cr\nm"),
               record("7", "crm:C1", attributes={"k" * 257: 1}),
               record("8", "crm:C1", attributes={"deep": nested(32)}),
               record("9", "crm:C1", attributes={"deep": nested(900)}),
               record("10", "email:ann\u0000@x.com"),
               record("11", "crm:C1", attributes=good)]
    events = [event("e1", "crm:C1", at=ago(days=1), type="buy\ud800"),
              event("e2", "crm:C1", at=ago(days=1), sku="\ud800")]
    result = post_raw(gql, INGEST, {"records": records, "events": events})["ingest"]
    assert result["accepted"] == 1
    assert sorted((e["kind"], e["index"], e["code"]) for e in result["errors"]) == [
        ("EVENT", 0, "INVALID_TEXT"), ("EVENT", 1, "INVALID_TEXT"),
        *[("RECORD", n, "INVALID_TEXT") for n in range(7)],
        ("RECORD", 7, "INVALID_PAYLOAD"), ("RECORD", 8, "INVALID_PAYLOAD"),
        ("RECORD", 9, "INVALID_PAYLOAD"), ("RECORD", 10, "INVALID_TEXT")]
    fast = post_raw(gql, FAST_READ, {"identity": ident("crm:C1")})["profile"]
    assert fast["attributes"] == good
    general = post_raw(gql, GENERAL_READ, {"identity": ident("crm:C1")})["profile"]
    assert general["attributes"] == good


def test_computed_attribute_definitions_outside_the_documented_rules_are_invalid_input(gql):
    from tests.test_profile_computed import DEFINE

    def code(name: str, event_type: str = "buy", days: float = 30) -> str | None:
        response = post_raw_any(gql, DEFINE, {"input": {
            "name": name, "function": "COUNT", "eventType": event_type, "lookbackDays": days}})
        errors = response.get("errors") or [{}]
        return errors[0].get("extensions", {}).get("code")

    # `|` joins the definition's name and the identity key in a ComputedValue id
    for name in ("a|b", "", "1st", "two words", "a-b", "x" * 65, "caf\u00e9", "a\u0000",
                 "a\ud800"):
        assert code(name) == "INVALID_INPUT", name
    assert code("ok", event_type="") == "INVALID_INPUT"
    assert code("ok", event_type="b\ud800") == "INVALID_INPUT"
    assert code("ok", days=1e300) == "INVALID_INPUT"  # past a 64-bit integer of milliseconds
    assert [code(name) for name in ("x" * 64, "Spend_30d", "a")] == [None, None, None]


def post_raw_any(gql, query: str, variables: dict[str, Any]) -> dict:
    response = gql.http.post("/graphql", content=json.dumps({"query": query,
                                                              "variables": variables}),
                             headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_constant=_not_json)


async def test_identities_of_the_wrong_shape_are_rejected_with_a_short_reason(services):
    good = record("1", "crm:C1")
    odd = [{**good, "recordId": "2", "identities": [{"namespace": "x" * 100_000, "value": "v"}]},
           {**good, "recordId": "3", "identities": [{"namespace": "crm", "value": 123}]},
           {**good, "recordId": "4", "identities": [{"namespace": "crm", "value": None}]},
           {**good, "recordId": "5", "identities": ["crm:C1"]},
           {**good, "recordId": "6", "timestamp": True},
           {**good, "recordId": "7", "timestamp": "2025" * 25_000}]
    result = await services.identity.ingest([good, *odd])
    assert result.accepted == 1
    assert [(r.index, r.code) for r in result.rejected] == [
        (1, "UNKNOWN_NAMESPACE"), (2, "BLANK_VALUE"), (3, "BLANK_VALUE"),
        (4, "INVALID_IDENTITY"), (5, "INVALID_TIMESTAMP"), (6, "INVALID_TIMESTAMP")]
    messages = [r.message for r in result.rejected]
    assert len(messages[0]) < 300 and "100000 characters" in messages[0]
    assert messages[1] == "identities[0]: crm value must be a string, not int"
    assert len(messages[5]) < 300
