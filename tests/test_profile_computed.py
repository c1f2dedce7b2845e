"""Computed attributes through GraphQL against the real Neo4j: the window edge, every function,
backfill on definition, merges, and events about several identities counted once."""

from __future__ import annotations

import threading
import time

from tests.identity_helpers import ident, ingest, record
from tests.profile_helpers import ago, event, wait_job

DEFINE = """
mutation D($input: ComputedAttributeInput!) {
  createComputedAttribute(input: $input) {
    computedAttribute { name function eventType property lookbackDays ready } job { id }
  }
}
"""
COMPUTED = """
query C($identity: IdentityInput!) { profile(identity: $identity) { computed { name value } } }
"""


def define(gql, name, function, prop=None, days=30, event_type="purchase"):
    """Define a computed attribute and wait for its backfill job."""
    made = gql(DEFINE, {"input": {"name": name, "function": function, "eventType": event_type,
                                  "property": prop, "lookbackDays": days}})
    assert wait_job(gql, made["createComputedAttribute"]["job"])["status"] == "SUCCEEDED"
    return made


def computed(gql, identity: str) -> dict:
    profile = gql(COMPUTED, {"identity": ident(identity)})["profile"]
    return {c["name"]: c["value"] for c in profile["computed"]}


def test_window_edge_every_function_and_backfill(gql):
    ingest(gql, [record("1", "crm:C1", "email:a@x.com")])
    define(gql, "spend_30d", "SUM", "order.total")  # defined before the events arrive
    define(gql, "orders_30d", "COUNT")
    early = [event("in", "crm:C1", at=ago(days=30, hours=-1), order={"total": 10}, sku="A"),
             event("out", "crm:C1", at=ago(days=30, hours=1), order={"total": 1000}, sku="Z"),
             event("recent", "email:a@x.com", at=ago(days=1), order={"total": 5.5}, sku="B"),
             event("view", "crm:C1", at=ago(hours=1), type="page_view", order={"total": 99})]
    ingest(gql, events=early)
    # defined after: filled from the events already stored
    define(gql, "biggest", "MAX", "order.total")
    define(gql, "smallest", "MIN", "order.total")
    define(gql, "last_sku", "MOST_RECENT", "sku")
    define(gql, "tiny_window", "COUNT", days=0.5)
    assert computed(gql, "crm:C1") == {"spend_30d": 15.5, "orders_30d": 2, "biggest": 10,
                                       "smallest": 5.5, "last_sku": "B", "tiny_window": 0}


def test_kept_current_as_events_arrive_and_across_a_merge(gql, cypher):
    define(gql, "spend", "SUM", "total")
    ingest(gql, [record("1", "crm:C1"), record("2", "ecid:E1")])
    ingest(gql, events=[event("a", "crm:C1", at=ago(days=2), total=3),
                        event("b", "ecid:E1", at=ago(days=1), total=4)])
    assert computed(gql, "crm:C1") == {"spend": 3}
    assert computed(gql, "ecid:E1") == {"spend": 4}
    # an event about both identities links them: the states follow the identities into one
    # profile, and the event (stored on both identities) is counted once
    ingest(gql, events=[event("c", "crm:C1", "ecid:E1", at=ago(hours=5), total=100)])
    assert computed(gql, "ecid:E1") == {"spend": 107}
    # state is stored per identity, not recomputed from events on read
    states = cypher("MATCH (i:Identity)-[:HAS_COMPUTED]->(c:ComputedValue {def: 'spend'}) "
                    "RETURN i.key AS key, size(c.events) AS n ORDER BY key")
    assert states == [{"key": "crm:C1", "n": 2}, {"key": "ecid:E1", "n": 2}]
    gql("mutation { deleteComputedAttribute(name: \"spend\") }")
    assert computed(gql, "crm:C1") == {}
    assert cypher("MATCH (c:ComputedValue) RETURN count(c) AS n")[0]["n"] == 0


def test_invalid_definitions_are_refused(gql):
    for args in (("s", "SUM", None), ("w", "COUNT", None, -1)):
        response = gql.post(DEFINE, {"input": {
            "name": args[0], "function": args[1], "eventType": "x", "property": args[2],
            "lookbackDays": args[3] if len(args) > 3 else 30}})
        assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    define(gql, "dup", "COUNT")
    again = gql.post(DEFINE, {"input": {"name": "dup", "function": "COUNT", "eventType": "x"}})
    assert again.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


def test_a_concurrent_writer_never_loses_an_update(gql, driver, cypher):
    """Two transactions appending to one identity's computed state: the later one waits for
    the earlier one's lock and then reads its append (no lost update)."""
    define(gql, "orders", "COUNT")
    ingest(gql, [record("1", "crm:C1")], events=[event("a", "crm:C1", at=ago(days=2))])
    with driver.session() as session, session.begin_transaction() as other:
        # Another writer appends an event to the state and holds its lock, uncommitted.
        other.run("MATCH (c:ComputedValue {key: 'crm:C1'}) "
                  "SET c.ts = c.ts + [$ts], c.vals = c.vals + [1], c.events = c.events + ['b']",
                  ts=cypher("RETURN timestamp() AS t")[0]["t"] - 3_600_000).consume()
        late = threading.Thread(target=ingest, args=(gql,), kwargs={
            "events": [event("c", "crm:C1", at=ago(days=1))]})
        late.start()
        wait_until_a_transaction_is_blocked(cypher)
        other.commit()
    late.join(timeout=60)
    assert computed(gql, "crm:C1") == {"orders": 3}


def wait_until_a_transaction_is_blocked(cypher, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        statuses = [r["status"] for r in cypher("SHOW TRANSACTIONS YIELD status")]
        if any(s.startswith("Blocked") for s in statuses):
            return
        time.sleep(0.05)
    raise AssertionError(f"no transaction waited for the lock: {statuses}")
