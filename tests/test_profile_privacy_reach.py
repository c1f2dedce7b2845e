"""Privacy deletion reaches every profile the deleted person was part of: a record or event
keyed by identities of two clusters (a refused unique-namespace link) is a fragment of both,
and after deleteProfile no value of the deleted person is anywhere in the graph."""

from __future__ import annotations

from tests.identity_helpers import ident, ingest, profile, record
from tests.profile_helpers import ago, attributes, event
from tests.test_profile_computed import define

# Any node or relationship property (a scalar, or a list holding it) containing $v.
HOLDS = """
CALL () {
  MATCH (n) UNWIND keys(n) AS k WITH n[k] AS x RETURN x
  UNION ALL
  MATCH ()-[r]->() UNWIND keys(r) AS k WITH r[k] AS x RETURN x
}
WITH x WHERE CASE WHEN valueType(x) STARTS WITH 'LIST'
                  THEN any(e IN x WHERE toString(e) CONTAINS $v)
                  ELSE toString(x) CONTAINS $v END
RETURN count(*) AS n
"""
DELETE = "mutation D($i: IdentityInput!) { deleteProfile(identity: $i) { profiles records } }"
COMPUTED = """query C($i: IdentityInput!) { profile(identity: $i) {
  computed { name value } } }"""
VIEW = "query V($i: IdentityInput!) { profile(identity: $i) { attributes } }"
HISTORY = """query H($i: IdentityInput!) { profile(identity: $i) {
  history { kind related reason } } }"""


def alice_shares_with_bob(gql) -> None:
    """Bob; Alice; a record and an event keyed by both CRM ids (the unique namespace refuses
    the link, so each is a fragment of both profiles)."""
    define(gql, "spend", "SUM", "total")
    ingest(gql, [record("b1", "crm:BOB", attributes={"name": "Bob"}, day=1),
                 record("a1", "crm:ZQALICE", "email:zqalice@x.com", day=2,
                        attributes={"name": "Zqalice Secretname"})])
    ingest(gql, [record("ab", "crm:ZQALICE", "crm:BOB", day=3,
                        attributes={"nickname": "Zqshared", "name": "Zqname"})],
           [event("buyzq", "crm:ZQALICE", "crm:BOB", at=ago(days=1), total=41)])


def test_delete_profile_leaves_no_value_of_the_person_anywhere(gql, cypher):
    alice_shares_with_bob(gql)
    define(gql, "later", "COUNT", event_type="purchase")  # its job's cursor: the last event key
    bob = ident("crm:BOB")
    assert attributes(gql, "crm:BOB")["attributes"]["nickname"] == "Zqshared"
    assert gql(COMPUTED, {"i": bob})["profile"]["computed"] == [
        {"name": "later", "value": 1}, {"name": "spend", "value": 41}]
    assert any(h["kind"] == "link_refused" for h in gql(HISTORY, {"i": bob})["profile"]["history"])
    receipt = gql(DELETE, {"i": ident("crm:ZQALICE")})["deleteProfile"]
    assert receipt == {"profiles": 1, "records": 2}
    # Bob's profile is what Bob's own data says, and nothing of Alice's.
    assert attributes(gql, "crm:BOB")["attributes"] == {"name": "Bob"}
    assert gql(VIEW, {"i": bob})["profile"]["attributes"] == {"name": "Bob"}  # the view
    assert gql(COMPUTED, {"i": bob})["profile"]["computed"] == [
        {"name": "later", "value": 0}, {"name": "spend", "value": 0}]
    assert all("ZQALICE" not in str(h) for h in gql(HISTORY, {"i": bob})["profile"]["history"])
    for value in ("ZQALICE", "zqalice@x.com", "Secretname", "Zqshared", "Zqname", "buyzq"):
        assert cypher(HOLDS, v=value)[0]["n"] == 0, value
    assert cypher(HOLDS, v="Bob")[0]["n"] > 0  # the search finds what is there


SUPPRESS = """mutation D($i: IdentityInput!) {
  deleteProfile(identity: $i, suppress: true) { profiles identities suppressed } }"""
LIFT = "mutation L($i: IdentityInput!) { liftSuppression(identity: $i) }"
LIST = "{ suppressions(first: 10) { hash createdAt } }"


def test_a_suppressed_identity_is_rejected_until_lifted(gql, cypher):
    ingest(gql, [record("1", "crm:ZQSUP", "email:zqsup@x.com", attributes={"n": 1})])
    receipt = gql(SUPPRESS, {"i": ident("crm:ZQSUP")})["deleteProfile"]
    assert receipt == {"profiles": 1, "identities": 2, "suppressed": 2}
    listed = gql(LIST)["suppressions"]
    assert len(listed) == 2 and all(len(s["hash"]) == 64 for s in listed)
    for value in ("ZQSUP", "zqsup@x.com"):  # hashes only, never values
        assert cypher(HOLDS, v=value)[0]["n"] == 0, value
    # Any item carrying a suppressed identity (normalised: the email's case does not matter)
    # is rejected on its own; the others in the call go in.
    result = ingest(gql, [record("2", "email:ZQSup@X.com", "crm:OTHER"),
                          record("3", "crm:OTHER", attributes={"n": 3})],
                    [event("e1", "crm:ZQSUP", at=ago(days=1)),
                     event("e2", "crm:OTHER", at=ago(days=1))])
    assert [(e["kind"], e["index"], e["code"]) for e in result["errors"]] == [
        ("RECORD", 0, "SUPPRESSED"), ("EVENT", 0, "SUPPRESSED")]
    assert result["accepted"] == 2
    assert profile(gql, "email:zqsup@x.com") is None and profile(gql, "crm:OTHER") is not None
    assert cypher(HOLDS, v="zqsup")[0]["n"] == 0
    assert gql(LIFT, {"i": ident("email:zqsup@x.com")})["liftSuppression"] is True
    assert gql(LIFT, {"i": ident("email:zqsup@x.com")})["liftSuppression"] is False
    assert len(gql(LIST)["suppressions"]) == 1
    again = ingest(gql, [record("4", "email:zqsup@x.com", attributes={"back": True})])
    assert again["errors"] == [] and again["accepted"] == 1
    assert profile(gql, "email:zqsup@x.com") is not None
    # an identity never seen can be suppressed ahead of any data
    assert gql(SUPPRESS, {"i": ident("crm:NEVERSEEN")})["deleteProfile"]["suppressed"] == 1
    assert ingest(gql, [record("5", "crm:NEVERSEEN")])["errors"][0]["code"] == "SUPPRESSED"
