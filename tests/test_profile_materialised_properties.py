"""Property test: whatever the records (conflicting values and timestamps, few identities and
sources), their split into ingest calls and the unlinks between them, every materialised view
equals the merged attributes the API computes from fragments at read time."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import GraphQLClient, wipe
from tests.identity_helpers import ident, ingest, record
from tests.materialised_helpers import assert_views_match

POOL = ["crm:C0", "crm:C1", "email:e0@x.com", "email:e1@x.com", "ecid:k0", "ecid:k1"]
UNLINK = """mutation U($a: IdentityInput!, $b: IdentityInput!) {
  unlink(identity: $a, otherIdentity: $b) { unlinked }
}"""

attribute_values = st.fixed_dictionaries({}, optional={
    "tier": st.sampled_from(["gold", "silver", 3, None]),
    "address": st.fixed_dictionaries({}, optional={"city": st.sampled_from(["Oslo", "Rome"])}),
    "tags": st.sampled_from([["a"], ["a", "b"], [1, "x"]]),
    "testProfile": st.just(True),
})
records_strategy = st.lists(
    st.tuples(st.lists(st.sampled_from(POOL), min_size=1, max_size=3, unique=True),
              st.integers(1, 4), st.sampled_from(["crm", "web", "pos"]), attribute_values),
    min_size=1, max_size=10)
# (after which ingest call, which pair seen so far) to unlink.
unlinks_strategy = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 50)), max_size=3)


def pairs_of(records: list[dict]) -> list[tuple[str, str]]:
    found = set()
    for r in records:
        keys = sorted(f"{i['namespace']}:{i['value']}" for i in r["identities"])
        found |= {(a, b) for n, a in enumerate(keys) for b in keys[n + 1:]}
    return sorted(found)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=records_strategy, cuts=st.lists(st.integers(1, 9), max_size=3),
       unlinks=unlinks_strategy)
def test_views_equal_the_read_path(live_api, driver, cypher, data, cuts, unlinks):
    wipe(driver)
    gql = GraphQLClient(live_api.url)
    items = [record(f"r{n}", *ids, day=day, source=source, attributes=attrs)
             for n, (ids, day, source, attrs) in enumerate(data)]
    bounds = sorted({0, len(items), *[c for c in cuts if c < len(items)]})
    try:
        for call, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False)):
            ingest(gql, items[start:end])
            seen = pairs_of(items[:end])
            for _, pick in [u for u in unlinks if u[0] == call and seen]:
                a, b = seen[pick % len(seen)]
                gql(UNLINK, {"a": ident(a), "b": ident(b)})
            assert_views_match(gql, cypher)
    finally:
        gql.http.close()
