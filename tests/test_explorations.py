"""Every saved exploration (cypher/queries/) run through `runSavedQuery` on a small generated
graph (tests/exploration_helpers.py), its answer checked row by row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from idgraph.explorations.service import read_catalogue
from tests.conftest import GraphQLClient, wipe
from tests.exploration_helpers import TRICKY_NAME, build_graph

RUN = """query Run($name: String!, $params: JSON) {
  runSavedQuery(name: $name, params: $params) { columns rows truncated }
}"""
J, B, C = "{jane}", "{bob}", "{carol}"  # replaced by the profile ids the graph got
TRICKY_JSON = json.dumps(TRICKY_NAME)  # a value is reported as its JSON text
CASES: dict[str, list[tuple[dict, list[list]]]] = {
    "largest_clusters": [
        ({}, [[J, 4, "crm:C1", ["crm: 1", "device: 1", "ecid: 1", "email: 1"]],
              [B, 2, "crm:C2", ["crm: 1", "email: 1"]],
              [C, 1, "email:carol@x.com", ["email: 1"]]]),
        ({"limit": 1}, [[J, 4, "crm:C1", ["crm: 1", "device: 1", "ecid: 1", "email: 1"]]]),
    ],
    "hub_identities": [
        ({}, [["device:d1", 2, 2, ["app: 2 (1 refused or unlinked)"]],
              ["email:bob@x.com", 2, 2, ["app: 1 (1 refused or unlinked)",
                                         "crm: 1 (0 refused or unlinked)"]]]),
        ({"minProfiles": 3}, []),
    ],
    "source_overlap": [
        ({}, [["app", "crm", 2, 2, 2, 100.0], ["app", "web", 1, 2, 2, 33.3],
              ["crm", "web", 1, 2, 2, 33.3], ["pos", "web", 1, 1, 2, 50.0]]),
    ],
    "identities_per_namespace": [
        ({}, [["email", 3, 3, 1.33, 2], ["crm", 2, 2, 1.0, 1], ["device", 1, 1, 2.0, 2],
              ["ecid", 1, 1, 2.0, 2]]),
    ],
    "conflicting_attributes": [
        ({"attribute": "firstName"}, [
            [J, "firstName", 2, ['"Jane"', '"Janet"'], ['"Jane" from crm (r1)',
                                                       '"Janet" from web (w1)']],
            [C, "firstName", 2, ['"Carol"', TRICKY_JSON],
             ['"Carol" from web (w2)', f"{TRICKY_JSON} from pos (p1)"]]]),
        # Carol's "city" inside a string and inside a list of objects are not her address.
        ({"attribute": "address.city"}, [
            [B, "address.city", 2, ['"Lyon"', '"Nice"'], ['"Lyon" from crm (r2)',
                                                         '"Nice" from app (a2)']],
            [J, "address.city", 2, ['"Nice"', '"Paris"'], ['"Nice" from app (a2)',
                                                          '"Paris" from app (a1)',
                                                          '"Paris" from crm (r1)']]]),
        ({"attribute": "city"}, []),
        ({"attribute": "orders.city"}, []),  # Oslo and Tromso, but inside lists
        ({"attribute": "address.zip"}, []),  # one source only
    ],
    "audience_overlap": [
        ({"segmentA": "s1", "segmentB": "s2"}, [["s1", "s2", 2, 2, 1, 33.3, [J]]]),
        ({"segmentA": "s1", "segmentB": "s2", "statuses": ["realized", "existing", "exited"]},
         [["s1", "s2", 2, 3, 2, 66.7, [J, B]]]),
        ({"segmentA": "s1", "segmentB": "nope"}, []),
    ],
    "refused_links_by_reason": [
        ({}, [["app", "refused", "unique namespace crm", 1, ["device:d1 - email:bob@x.com"]]]),
    ],
    "shared_devices": [
        ({}, []),
        ({"personNamespaces": ["email", "ecid"]}, [["device:d1", 2, ["ecid:E1",
                                                                     "email:bob@x.com"]]]),
    ],
    "identity_neighbourhood": [
        ({"key": "device:d1"}, [
            ["crm:C2", "email:bob@x.com", "crm", "active", None, 1, "2025-01-05T12:00:00+00:00"],
            ["device:d1", "ecid:E1", "app", "active", None, 1, "2025-01-04T12:00:00+00:00"],
            ["ecid:E1", "email:jane@x.com", "web", "active", None, 1,
             "2025-01-03T12:00:00+00:00"],
            ["device:d1", "email:bob@x.com", "app", "refused",
             "unique namespace crm: crm:C1 and crm:C2", 1, "2025-01-01T12:00:00+00:00"]]),
    ],
    "profiles_changed": [
        ({"since": "2000-01-01", "until": "2000-01-02"}, []),
    ],
}


@pytest.fixture(scope="module")
def explored(live_api, driver) -> Iterator[tuple[GraphQLClient, dict[str, str]]]:
    """The generated graph, built once for this module's read-only checks."""
    wipe(driver)
    client = GraphQLClient(live_api.url)

    def cypher(query: str, **params):
        with driver.session() as session:
            return [record.data() for record in session.run(query, params)]

    started = datetime.now(UTC)
    yield client, {**build_graph(client, cypher), "started": started.isoformat()}
    client.http.close()


def _with_ids(rows: list[list], ids: dict[str, str]) -> list[list]:
    swap = {J: ids["jane"], B: ids["bob"], C: ids["carol"]}

    def one(value):
        if isinstance(value, list):
            return [one(v) for v in value]
        return swap.get(value, value) if isinstance(value, str) else value

    return [one(row) for row in rows]


@pytest.mark.parametrize(("name", "params", "expected"), [
    (name, params, expected) for name, cases in CASES.items() for params, expected in cases])
def test_saved_query_answers(explored, name, params, expected):
    gql, ids = explored
    answer = gql(RUN, {"name": name, "params": params})["runSavedQuery"]
    assert answer["truncated"] is False
    got, want = answer["rows"], _with_ids(expected, ids)
    if name == "conflicting_attributes":  # ordered by profile id, which is random
        want = sorted(want, key=lambda row: row[0])
    if name == "audience_overlap" and want:
        want[0][-1] = sorted(want[0][-1])
    assert got == want


def test_profiles_changed_lists_each_profile_with_what_happened(explored):
    gql, ids = explored
    answer = gql(RUN, {"name": "profiles_changed", "params": {"since": "-1d"}})["runSavedQuery"]
    assert answer["columns"] == ["profile", "changes", "lastChange"]
    changes = {row[0]: sorted(row[1]) for row in answer["rows"]}
    assert changes == {
        ids["jane"]: ["created: 1", "event ingested: 1", "link_refused: 1",
                      "record ingested: 4"],
        ids["bob"]: ["created: 1", "record ingested: 2"],
        ids["carol"]: ["created: 1", "event ingested: 1", "record ingested: 2"]}
    assert all(row[2] >= ids["started"][:19] for row in answer["rows"])


def test_every_saved_query_is_checked_here():
    assert set(read_catalogue()) == set(CASES) | {"profiles_changed"}
