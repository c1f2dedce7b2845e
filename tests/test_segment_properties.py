"""Property test: whatever the sequence of evaluations (which profiles qualify at each, how far
apart in time), the stored memberships (status, since, changedAt) are those of a small
in-memory model of the transitions, purge after the retention included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import GraphQLClient, wipe
from tests.identity_helpers import ingest, record
from tests.profile_helpers import event, iso
from tests.segment_helpers import MEMBERS, create, evaluate

BASE = datetime(2026, 1, 1, tzinfo=UTC)
PROFILES = 4
RETENTION_DAYS = 30
# A profile qualifies at an evaluation exactly when it has an event that day (06:00), the
# evaluation being at noon.
RULE = "events(within 12 hours).exists()"



def running_sum(gaps: list[int]) -> list[int]:
    days, day = [], 0
    for gap in gaps:
        day += gap
        days.append(day)
    return days


# Evaluation days (gaps around the retention: an exit 30 days old is kept, 31 purged), and per
# day who qualifies.
scenarios = st.lists(st.sampled_from([1, 2, 15, 29, 30, 31]), min_size=1, max_size=6) \
    .map(running_sum) \
    .flatmap(lambda days: st.tuples(st.just(days), st.lists(
        st.frozensets(st.integers(0, PROFILES - 1)), min_size=len(days), max_size=len(days))))


def at(day: int, hour: int) -> datetime:
    return BASE + timedelta(days=day, hours=hour)


def model(days: list[int], qualifying: list[frozenset[int]]) -> list[dict[int, tuple]]:
    """After each evaluation: profile -> (status, since, changedAt), as docs/segments.md says."""
    state: dict[int, tuple] = {}
    after = []
    for day, members in zip(days, qualifying, strict=True):
        now = at(day, 12)
        for p in members:
            status, since, _ = state.get(p, ("EXITED", None, None))
            if status == "EXITED":
                state[p] = ("REALIZED", now, now)
            elif status == "REALIZED":
                state[p] = ("EXISTING", since, now)
        for p in set(state) - members:
            status, since, changed = state[p]
            if status != "EXITED":
                state[p] = ("EXITED", since, now)
            elif changed < now - timedelta(days=RETENTION_DAYS):
                del state[p]
        after.append(dict(state))
    return after


def stored(gql, ids: list[str]) -> dict[int, tuple]:
    page = gql(MEMBERS, {"id": "s", "first": 100,
                         "status": ["REALIZED", "EXISTING", "EXITED"]})["segment"]["members"]
    return {ids.index(e["node"]["profileId"]): (
        e["node"]["status"], datetime.fromisoformat(e["node"]["since"]),
        datetime.fromisoformat(e["node"]["changedAt"])) for e in page["edges"]}


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios)
def test_memberships_follow_the_model(live_api, driver, scenario):
    days, qualifying = scenario
    wipe(driver)
    gql = GraphQLClient(live_api.url)
    try:
        events = [event(f"e{p}-{day}", f"crm:C{p}", at=iso(at(day, 6)), type="visit")
                  for day, members in zip(days, qualifying, strict=True) for p in members]
        ingest(gql, [record(f"r{p}", f"crm:C{p}") for p in range(PROFILES)], events)
        ids = [gql("query($i: IdentityInput!) { profile(identity: $i) { id } }",
                   {"i": {"namespace": "crm", "value": f"C{p}"}})["profile"]["id"]
               for p in range(PROFILES)]
        create(gql, "S", RULE, id="s")
        for day, expected in zip(days, model(days, qualifying), strict=True):
            evaluate(gql, "s", iso(at(day, 12)))
            assert stored(gql, ids) == expected, day
    finally:
        gql.http.close()
