"""The change set's events (pure): one per profile, the strongest kind, with related ids; and
the pipeline's fixed order of stages."""

from __future__ import annotations

from idgraph.identity.clustering import ClusterReport
from idgraph.pipeline.changeset import ChangeKind, ChangeSet, ProfileEvent
from idgraph.pipeline.feed import ChangeFeed
from idgraph.pipeline.pipeline import Pipeline


def events(change: ChangeSet) -> dict[str, tuple[ChangeKind, tuple[str, ...]]]:
    return {e.profile_id: (e.kind, e.related) for e in change.events()}


def test_merges_splits_creations_and_updates_each_get_their_kind() -> None:
    report = ClusterReport(created=["new"], merged=[("old", "keep")],
                           split=[("half", ["whole"])],
                           changed_profiles={"keep", "old", "whole", "half", "moved"})
    change = ChangeSet(cause="test", report=report, touched={"data"})
    assert events(change) == {
        "new": (ChangeKind.CREATED, ()), "keep": (ChangeKind.ABSORBED, ("old",)),
        "old": (ChangeKind.MERGED, ("keep",)), "half": (ChangeKind.SPLIT, ("whole",)),
        "whole": (ChangeKind.SPLIT, ("half",)), "moved": (ChangeKind.UPDATED, ()),
        "data": (ChangeKind.UPDATED, ())}


def test_deletion_is_the_strongest_and_related_ids_accumulate() -> None:
    report = ClusterReport(merged=[("a", "keep"), ("b", "keep")], split=[("s", ["gone"])])
    change = ChangeSet(cause="test", report=report, deleted={"gone"}, updated={"keep"})
    found = events(change)
    assert found["keep"] == (ChangeKind.ABSORBED, ("a", "b"))
    assert found["gone"] == (ChangeKind.DELETED, ())
    assert all(e.cause == "test" for e in change.events())


def test_the_feed_builds_events_only_for_listeners() -> None:
    feed = ChangeFeed()
    calls: list[int] = []

    def make() -> list[ProfileEvent]:
        calls.append(1)
        return [ProfileEvent("p", ChangeKind.UPDATED)]

    feed.publish(make)
    assert calls == []
    with feed.subscribe() as queue:
        feed.publish(make)
        assert queue.get_nowait() == {"p": ProfileEvent("p", ChangeKind.UPDATED)}
    assert calls == [1]


def test_stages_run_in_the_fixed_order_with_segments_last() -> None:
    class Named:
        def __init__(self, name: str) -> None:
            self.name = name

        async def __call__(self, tx, change) -> None:
            return None

    pipeline = Pipeline(None, ChangeFeed(), Named("recluster"), Named("facts"),  # type: ignore[arg-type]
                        Named("views"), segments=[Named("audiences")])
    assert [s.name for s in pipeline.stages] == ["recluster", "facts", "views", "audiences"]
    assert [s.name for s in pipeline.without("views").stages] == [
        "recluster", "facts", "views", "audiences"]
