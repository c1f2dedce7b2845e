"""Property test: after any series of writes (records that set attributes and link cookies,
events, unlinks, privacy deletions), the memberships streaming kept current are exactly the
members a batch evaluation selects at that moment (`previewSegment`: the batch compiler's
query), for attribute, event-window, sum, identity and composition rules."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import GraphQLClient, wipe
from tests.identity_helpers import ident, record
from tests.profile_helpers import ago, event
from tests.segment_helpers import MEMBERS, PREVIEW, create
from tests.test_segment_streaming import UNLINK

PEOPLE = 3  # few: the writes meet on the same profiles (merges, exits)
RULES = {
    "old": "age > 50",
    "buyers": 'events(type = "purchase", within 30 days).count() >= 2',
    "big": 'events(type = "purchase").sum(value) > 100',
    "mix": 'inSegment("old") or (has email and not tier = "gold")',
}
INGEST = """
mutation($records: [RecordInput!], $events: [EventInput!]) {
  ingest(records: $records, events: $events) { rejected }
}
"""
DELETE = "mutation($i: IdentityInput!) { deleteProfile(identity: $i) { profileIds } }"

people = st.integers(0, PEOPLE - 1)
# A later record wins the merged view: two of one person with these ages enter, then exit.
records = st.tuples(st.just("record"), people, st.none() | people, st.booleans(),
                    st.none() | st.sampled_from([20, 70]),
                    st.none() | st.sampled_from(["gold", "silver"]))
events = st.tuples(st.just("event"), people, st.sampled_from([1, 5, 45, 400]),
                   st.sampled_from([10, 60, 95]))
unlinks = st.tuples(st.just("unlink"), people, people)
deletions = st.tuples(st.just("delete"), people)
writes = st.lists(st.one_of(records, records, records, events, unlinks, deletions),
                  min_size=2, max_size=8)


def apply(gql: GraphQLClient, n: int, write: tuple) -> None:
    """One write through the API; refused ones (a suppressed identity, no such link) are part
    of the game and checked no further."""
    kind = write[0]
    if kind == "record":
        _, a, b, email, age, tier = write
        keys = [f"ecid:E{a}"] + ([f"ecid:E{b}"] if b is not None else [])
        keys += [f"email:v{a}@x.com"] if email else []
        attributes = {k: v for k, v in (("age", age), ("tier", tier)) if v is not None}
        gql.post(INGEST, {"records": [record(f"r{n}", *keys, day=1 + n,
                                             attributes=attributes or None)]})
    elif kind == "event":
        _, a, days, value = write
        gql.post(INGEST, {"events": [event(f"e{n}", f"ecid:E{a}", at=ago(days=days),
                                           value=value)]})
    elif kind == "unlink":
        gql.post(UNLINK, {"a": ident(f"ecid:E{write[1]}"), "b": ident(f"ecid:E{write[2]}")})
    else:
        gql.post(DELETE, {"i": ident(f"ecid:E{write[1]}")})


def streamed(gql: GraphQLClient, segment_id: str) -> set[str]:
    page = gql(MEMBERS, {"id": segment_id, "first": 100})["segment"]["members"]
    return {e["node"]["profileId"] for e in page["edges"]}


def batch(gql: GraphQLClient, rule: str) -> set[str]:
    found = gql(PREVIEW, {"definition": rule, "sampleSize": 100})["previewSegment"]
    return {p["id"] for p in found["sample"]}


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(series=writes)
# A member whose later record takes it out; a member merged with a newer non-member; a split.
@example([("record", 0, None, True, 70, None), ("record", 0, None, False, 20, None)])
@example([("record", 0, None, False, 70, None), ("record", 1, None, True, 20, "gold"),
          ("record", 0, 1, False, None, None)])
@example([("record", 0, 1, True, 70, None), ("event", 1, 1, 60), ("event", 0, 5, 60),
          ("unlink", 0, 1)])
def test_streaming_memberships_equal_a_batch_evaluation(live_api, driver, series):
    wipe(driver)
    gql = GraphQLClient(live_api.url)
    try:
        for segment_id, rule in RULES.items():
            create(gql, segment_id, rule, id=segment_id)
        for n, write in enumerate(series):
            apply(gql, n, write)
        for segment_id, rule in RULES.items():
            assert streamed(gql, segment_id) == batch(gql, rule), segment_id
    finally:
        gql.http.close()
