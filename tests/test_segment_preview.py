"""Preview and explain of rules over GraphQL (nothing saved), and Profile.segments, batched."""

from __future__ import annotations

from idgraph.api.graphql.permissions import Role
from idgraph.segments.service import SegmentSpec
from tests.api_support import codes
from tests.conftest import execute_counting_round_trips
from tests.identity_helpers import ident, record
from tests.segment_helpers import PREVIEW, create, person

EXPLAIN = """
query X($id: ID, $definition: String, $profile: Boolean!) {
  explainSegment(id: $id, definition: $definition, profile: $profile) { cypher parameters plan }
}
"""


def count_everything(cypher) -> tuple[int, int]:
    row = cypher("MATCH (n) OPTIONAL MATCH (n)-[r]->() RETURN count(DISTINCT n) AS n, "
                 "count(r) AS r")[0]
    return row["n"], row["r"]


def test_preview_counts_samples_and_shows_its_cypher_without_saving(gql, cypher):
    gold = sorted(person(gql, n, tier="gold") for n in range(3))
    person(gql, 3, tier="silver")
    person(gql, 4, tier="gold", test=True)
    before = count_everything(cypher)
    found = gql(PREVIEW, {"definition": 'tier = "gold"', "sampleSize": 2})["previewSegment"]
    assert found["count"] == 3
    assert [s["id"] for s in found["sample"]] == gold[:2]
    assert found["sample"][0]["primaryIdentity"]["namespace"] in ("crm", "email")
    assert "MATCH (p:Profile)" in found["cypher"] and "gold" not in found["cypher"]
    assert "gold" in found["parameters"].values()
    with_tests = gql(PREVIEW, {"definition": 'tier = "gold"', "sampleSize": 0, "test": True})
    assert with_tests["previewSegment"]["count"] == 4
    assert with_tests["previewSegment"]["sample"] == []
    assert count_everything(cypher) == before


def test_preview_of_a_composition_reads_the_included_rules(gql):
    person(gql, 1, tier="gold")
    person(gql, 2, tier="gold", age=70)
    create(gql, "Gold", 'tier = "gold"', id="gold")  # never evaluated
    found = gql(PREVIEW, {"definition": 'inSegment("gold") and age > 60', "sampleSize": 5})
    assert found["previewSegment"]["count"] == 1


def test_preview_errors_are_typed(gql):
    body = gql.post(PREVIEW, {"definition": "tier = ", "sampleSize": 1}).json()
    assert codes(body) == ["SEGMENT_SYNTAX"] and body["errors"][0]["extensions"]["line"] == 1
    body = gql.post(PREVIEW, {"definition": "tier = 1", "sampleSize": 1000}).json()
    assert codes(body) == ["INVALID_INPUT"]


def test_explain_and_profile_give_the_plan(gql, cypher):
    person(gql, 1, tier="gold")
    create(gql, "Gold", 'tier = "gold"', id="gold")
    before = count_everything(cypher)
    planned = gql(EXPLAIN, {"definition": 'tier = "gold"', "profile": False})["explainSegment"]
    assert "ProduceResults" in planned["plan"] and "db hits" not in planned["plan"]
    assert planned["parameters"]["v0"] == "gold"
    profiled = gql(EXPLAIN, {"id": "gold", "profile": True})["explainSegment"]
    assert "db hits" in profiled["plan"] and profiled["cypher"] == planned["cypher"]
    assert count_everything(cypher) == before
    body = gql.post(EXPLAIN, {"profile": False}).json()
    assert codes(body) == ["INVALID_INPUT"]


PROFILE_SEGMENTS = """
query($ids: [IdentityInput!]!) {
  resolve(identities: $ids) {
    profile { id segments { segment { id name } status since } }
  }
}
"""


async def segments_of(services, n: int) -> tuple[int, list]:
    ids = [ident(f"crm:C{i}") for i in range(n)]
    result, trips = await execute_counting_round_trips(services, PROFILE_SEGMENTS,
                                                       {"ids": ids}, Role.PARTNER)
    assert result.errors is None, result.errors
    return trips, [r["profile"]["segments"] for r in result.data["resolve"]]


async def test_profile_segments_are_batched(services):
    await services.identity.ingest(
        [record(str(i), f"crm:C{i}", attributes={"n": i}) for i in range(12)])
    domain = services.segments
    for name, rule in (("Even", "n in [0, 2, 4, 6, 8, 10]"), ("Small", "n < 3")):
        await domain.service.create(SegmentSpec(name=name, definition=rule, id=name.lower()))
    await domain.evaluator.evaluate_many(as_of=1_800_000_000_000)
    few, _ = await segments_of(services, 2)
    many, rows = await segments_of(services, 12)
    assert few == many == 3  # resolve, profiles, then one read of all their segments
    names = [[s["segment"]["name"] for s in row] for row in rows]
    assert names[:4] == [["Even", "Small"], ["Small"], ["Even", "Small"], []]
    assert rows[0][0]["status"] == "REALIZED"
    app_read = "{ profile(identity: {namespace: \"crm\", value: \"C1\"}) " \
               "{ segments { segment { name } } } }"
    result, _ = await execute_counting_round_trips(services, app_read, {}, Role.APP)
    assert result.data == {"profile": {"segments": [{"segment": {"name": "Small"}}]}}
