"""Batch evaluation into audiences over GraphQL: status transitions across evaluations with
the data changed by ingest between them, the exit purge, test profiles, members' pages and
status filter, compositions evaluated after their parts."""

from __future__ import annotations

from tests.api_support import codes
from tests.segment_helpers import (
    EVALUATE,
    MEMBERS,
    create,
    evaluate,
    evaluate_all,
    members,
    person,
    segment,
)

T1, T2, T3 = "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"


def test_members_move_from_realized_to_existing_to_exited_and_back(gql):
    one, two = person(gql, 1, tier="gold"), person(gql, 2, tier="gold")
    three = person(gql, 3, tier="silver")
    # Batch only: the writes between evaluations must not move members themselves (streaming).
    create(gql, "Gold", 'tier = "gold"', id="gold", batchOnly=True)
    job = evaluate(gql, "gold", T1)
    assert job["kind"] == "segment-evaluation" and job["done"] == job["total"] == 2
    assert members(gql, "gold") == {one: "REALIZED", two: "REALIZED"}

    person(gql, 2, day=2, tier="silver")
    person(gql, 3, day=2, tier="gold")
    evaluate(gql, "gold", T2)
    assert members(gql, "gold") == {one: "EXISTING", three: "REALIZED"}
    assert members(gql, "gold", ["EXITED"]) == {two: "EXITED"}
    saved = segment(gql, "gold")
    assert saved["size"] == 2
    assert saved["lastEvaluation"]["asOf"] == "2026-03-02T00:00:00+00:00"
    assert saved["lastEvaluation"]["job"]["status"] == "SUCCEEDED"
    assert saved["lastEvaluation"]["counts"] == {"realized": 1, "existing": 1, "exited": 1,
                                                 "entered": 1, "exitedNow": 1, "purged": 0}

    person(gql, 2, day=3, tier="gold")
    evaluate(gql, "gold", T3)
    assert members(gql, "gold") == {one: "EXISTING", two: "REALIZED", three: "EXISTING"}
    edges = gql(MEMBERS, {"id": "gold", "first": 10})["segment"]["members"]["edges"]
    times = {e["node"]["profileId"]: (e["node"]["since"], e["node"]["changedAt"])
             for e in edges}
    assert times[one] == ("2026-03-01T00:00:00+00:00", "2026-03-02T00:00:00+00:00")
    assert times[two] == ("2026-03-03T00:00:00+00:00", "2026-03-03T00:00:00+00:00")


def test_exits_are_kept_for_the_retention_then_purged(gql):
    one = person(gql, 1, tier="gold")
    create(gql, "Gold", 'tier = "gold"', id="gold", batchOnly=True)  # only evaluations move it
    evaluate(gql, "gold", "2026-03-01T00:00:00Z")
    person(gql, 1, day=2, tier="silver")
    evaluate(gql, "gold", "2026-03-02T00:00:00Z")
    assert members(gql, "gold", ["EXITED"]) == {one: "EXITED"}
    evaluate(gql, "gold", "2026-03-31T00:00:00Z")  # 29 days later: kept (retention 30 days)
    assert members(gql, "gold", ["EXITED"]) == {one: "EXITED"}
    evaluate(gql, "gold", "2026-04-02T00:00:00Z")  # 31 days later: purged
    assert members(gql, "gold", ["EXITED"]) == {}
    assert segment(gql, "gold")["lastEvaluation"]["counts"]["purged"] == 1


def test_test_profiles_are_left_out_unless_the_segment_asks_for_them(gql):
    real = person(gql, 1, tier="gold")
    fake = person(gql, 2, tier="gold", test=True)
    create(gql, "Gold", 'tier = "gold"', id="gold")
    create(gql, "Gold with tests", 'tier = "gold"', id="gold-t", includeTestProfiles=True)
    evaluate_all(gql, T1)
    assert members(gql, "gold") == {real: "REALIZED"}
    assert members(gql, "gold-t") == {real: "REALIZED", fake: "REALIZED"}


def test_members_are_paged_by_profile_id_and_filtered_by_status(gql):
    ids = [person(gql, n, tier="gold") for n in range(7)]
    create(gql, "Gold", 'tier = "gold"', id="gold")
    evaluate(gql, "gold", T1)
    for n in (0, 1):
        person(gql, n, day=2, tier="none")
    evaluate(gql, "gold", T2)
    seen, after, pages = [], None, 0
    while True:
        page = gql(MEMBERS, {"id": "gold", "first": 2, "after": after,
                             "status": ["EXISTING", "EXITED"]})["segment"]["members"]
        seen += [(e["node"]["profileId"], e["node"]["status"]) for e in page["edges"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(seen) and len(seen) == len({p for p, _ in seen}) == 7 and pages == 4
    exited = {ids[0], ids[1]}
    assert {p for p, s in seen if s == "EXITED"} == exited
    assert set(members(gql, "gold", ["EXITED"])) == exited
    assert set(members(gql, "gold")) == set(ids) - exited  # by default current members only
    bad = gql.post(MEMBERS, {"id": "gold", "after": "%%%"}).json()
    assert codes(bad) == ["INVALID_INPUT"]


def test_a_composition_is_evaluated_after_the_segments_it_includes(gql):
    one, two = person(gql, 1, tier="gold"), person(gql, 2, tier="silver")
    # ids chosen so that plain id order would evaluate the composition first
    create(gql, "Gold part", 'tier = "gold"', id="z-gold", batchOnly=True)  # both batch only
    create(gql, "Gold with email", 'inSegment("z-gold") and has email', id="a-gold-email")
    job = evaluate_all(gql, T1)
    assert job["kind"] == "segments-evaluation" and job["done"] == job["total"] == 2
    assert members(gql, "a-gold-email") == {one: "REALIZED"}
    person(gql, 1, day=2, tier="silver")
    person(gql, 2, day=2, tier="gold")
    evaluate_all(gql, T2)
    assert members(gql, "z-gold") == {two: "REALIZED"}
    assert members(gql, "a-gold-email") == {two: "REALIZED"}
    assert members(gql, "a-gold-email", ["EXITED"]) == {one: "EXITED"}
    evaluations = [segment(gql, i)["lastEvaluation"] for i in ("z-gold", "a-gold-email")]
    assert evaluations[0]["at"] <= evaluations[1]["at"]


def test_evaluating_an_unknown_segment_is_not_found(gql):
    assert codes(gql.post(EVALUATE, {"id": "nope"}).json()) == ["NOT_FOUND"]
