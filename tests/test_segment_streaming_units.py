"""Pure parts of streaming: which segments stream (and why not), and the membership changes
decided from one evaluation's rows."""

from __future__ import annotations

from idgraph.segments.parser import parse
from idgraph.segments.scoped import ScopedRule
from idgraph.segments.streaming import BATCH_ONLY, StreamingSet, classify, decide


def row(segment_id: str, refs: tuple[str, ...] = (), batch_only: bool = False,
        ast: str | None = '{"kind": "exists"}') -> dict:
    return {"id": segment_id, "references": list(refs), "batchOnly": batch_only, "ast": ast}


def test_batch_only_reaches_every_segment_that_includes_it():
    found = classify([row("a", batch_only=True), row("b", ("a",)), row("c", ("b",)),
                      row("d"), row("e", ("d",)), row("f", ast=None)])
    assert found["a"].reason == BATCH_ONLY
    assert not found["b"].streaming and "'a'" in (found["b"].reason or "")
    assert not found["c"].streaming and "'b'" in (found["c"].reason or "")
    assert found["d"].streaming and found["e"].streaming and found["d"].reason is None
    assert not found["f"].streaming  # no rule: members loaded, not computed


def streaming_set(*ids: str, version: int = 1) -> StreamingSet:
    rules = tuple(ScopedRule(i, parse("age > 1")) for i in ids)
    return StreamingSet(True, rules, tuple(version for _ in ids))


def test_only_entries_and_exits_are_written():
    held = [["a", "realized", 1], ["b", "existing", 1], ["c", "exited", 1]]
    writes = decide([{"id": "p", "hits": [0, 2], "held": held + [["d", "existing", 1]]}],
                    streaming_set("a", "b", "c", "d"), "ingest:1")
    # a: still a member (nothing); b: exits; c: back in; d: exits.
    assert [(w.segment, w.status) for w in writes] == [
        ("b", "exited"), ("c", "realized"), ("d", "exited")]
    assert {w.cause for w in writes} == {"ingest:1"}


def test_a_membership_of_an_older_version_is_not_a_membership():
    writes = decide([{"id": "p", "hits": [0], "held": [["a", "existing", 1]]},
                     {"id": "q", "hits": [], "held": [["a", "existing", 1]]}],
                    streaming_set("a", version=2), "ingest:1")
    assert [(w.profile, w.status, w.version) for w in writes] == [("p", "realized", 2)]


def test_a_stored_rule_that_cannot_be_read_is_not_streamed_and_fails_no_write():
    good = {"id": "a", "ast": '{"kind": "exists", "subject": {"kind": "attribute", '
                              '"path": "age"}}', "version": 1, "references": []}
    broken = {"id": "b", "ast": '{"kind": "from-the-future"}', "version": 1, "references": []}
    found = StreamingSet.of([good, broken])
    assert [r.segment for r in found.rules] == ["a"]
    assert not found.status["b"].streaming
