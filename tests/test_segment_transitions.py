"""Membership transitions of an evaluation (pure): realized -> existing -> exited -> purged."""

from __future__ import annotations

from idgraph.segments.transitions import Membership, Status, plan

DAY = 86_400_000


def m(profile: str, status: Status, version: int = 1, changed_at: int = 0, live: bool = True,
      run: str | None = None) -> Membership:
    return Membership(profile, status, version, changed_at, live, run)


def test_new_members_are_realized_and_members_again_existing():
    first = plan([], ["a", "b"], 1, 0)
    assert first.create == ["a", "b"] and first.enter == [] and first.counts()["realized"] == 2
    second = plan([m("a", Status.REALIZED), m("b", Status.REALIZED)], ["a", "b"], 1, 0)
    assert second.to_existing == ["a", "b"] and second.enter == second.create == []
    third = plan([m("a", Status.EXISTING)], ["a"], 1, 0)
    assert third.writes == 0 and third.size == 1 and third.counts()["existing"] == 1


def test_members_that_no_longer_qualify_exit_and_are_purged_after_the_retention():
    exits = plan([m("a", Status.EXISTING), m("b", Status.REALIZED)], [], 1, 0)
    assert exits.exit == ["a", "b"] and exits.size == 0
    kept = plan([m("a", Status.EXITED, changed_at=10 * DAY)], [], 1, purge_before=5 * DAY)
    assert kept.writes == 0 and kept.counts()["exited"] == 1
    purged = plan([m("a", Status.EXITED, changed_at=10 * DAY)], [], 1, purge_before=11 * DAY)
    assert purged.delete == ["a"] and purged.purged == 1


def test_an_exited_profile_that_qualifies_again_is_realized():
    back = plan([m("a", Status.EXITED)], ["a"], 1, 0)
    assert back.enter == ["a"] and back.create == []


def test_memberships_of_an_old_version_start_again_and_aliases_go():
    changes = plan([m("a", Status.EXISTING, version=1), m("b", Status.EXISTING, version=1),
                    m("gone", Status.EXISTING, live=False)], ["a"], 2, 0)
    assert changes.enter == ["a"] and sorted(changes.delete) == ["b", "gone"]


def test_a_resumed_run_keeps_what_it_realized():
    resumed = plan([m("a", Status.REALIZED, run="job1"), m("b", Status.REALIZED, run="old")],
                   ["a", "b"], 1, 0, run="job1")
    assert resumed.to_existing == ["b"] and resumed.counts()["realized"] == 1


def test_memberships_of_a_merged_away_id_exit_then_are_purged():
    changes = plan([m("gone", Status.EXISTING, live=False),
                    m("old", Status.EXITED, changed_at=5, live=False),
                    m("recent", Status.EXITED, changed_at=50, live=False)], [], 1, 10)
    assert changes.exit == ["gone"] and changes.delete == ["old"] and changes.still_exited == 1


def test_new_members_keep_the_rules_order_each_once():
    # The rule's order is the store's for a scan: writing in it keeps each chunk's records
    # together (a sorted list scattered them).
    first = plan([m("k", Status.EXITED)], ["z", "k", "a", "z", "m"], 1, 0)
    assert first.create == ["z", "a", "m"] and first.enter == ["k"] and first.size == 4
