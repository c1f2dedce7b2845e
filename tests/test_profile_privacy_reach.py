"""Privacy deletion reaches every profile the deleted person was part of: a record or event
keyed by identities of two clusters (a refused unique-namespace link) is a fragment of both,
and after deleteProfile no value of the deleted person is anywhere in the graph."""

from __future__ import annotations

from tests.identity_helpers import ident, ingest, record
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
    bob = ident("crm:BOB")
    assert attributes(gql, "crm:BOB")["attributes"]["nickname"] == "Zqshared"
    assert gql(COMPUTED, {"i": bob})["profile"]["computed"] == [{"name": "spend", "value": 41}]
    assert any(h["kind"] == "link_refused" for h in gql(HISTORY, {"i": bob})["profile"]["history"])
    receipt = gql(DELETE, {"i": ident("crm:ZQALICE")})["deleteProfile"]
    assert receipt == {"profiles": 1, "records": 2}
    # Bob's profile is what Bob's own data says, and nothing of Alice's.
    assert attributes(gql, "crm:BOB")["attributes"] == {"name": "Bob"}
    assert gql(VIEW, {"i": bob})["profile"]["attributes"] == {"name": "Bob"}  # the view
    assert gql(COMPUTED, {"i": bob})["profile"]["computed"] == [{"name": "spend", "value": 0}]
    assert all("ZQALICE" not in str(h) for h in gql(HISTORY, {"i": bob})["profile"]["history"])
    for value in ("ZQALICE", "zqalice@x.com", "Secretname", "Zqshared", "Zqname", "buyzq"):
        assert cypher(HOLDS, v=value)[0]["n"] == 0, value
    assert cypher(HOLDS, v="Bob")[0]["n"] > 0  # the search finds what is there
