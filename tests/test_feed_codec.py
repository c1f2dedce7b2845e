"""Pure parts of scaling out: change events through the outbox's JSON and back; rate limits
shared between processes add up to the configured rate."""

from __future__ import annotations

import json

from idgraph.api.http.ratelimit import RateLimiter
from idgraph.pipeline.changeset import ChangeKind, ProfileEvent
from idgraph.pipeline.codec import decode, encode


def test_events_come_back_equal_and_defaults_are_left_out() -> None:
    events = [ProfileEvent("p1", ChangeKind.ABSORBED, ("p2", "p3"), "ingest"),
              ProfileEvent("p2", ChangeKind.MERGED, ("p1",)),
              ProfileEvent("p4", ChangeKind.UPDATED)]
    text = encode(events)
    assert decode(text) == events
    assert json.loads(text)[2] == {"profile_id": "p4", "kind": "updated"}


def test_fields_a_reader_does_not_know_are_ignored() -> None:
    """An entry written by a newer version (a rolling upgrade) still reads."""
    text = json.dumps([{"profile_id": "p", "kind": "created", "from_the_future": [1, 2]}])
    assert decode(text) == [ProfileEvent("p", ChangeKind.CREATED)]


def test_shares_of_a_rate_limit_add_up_to_it() -> None:
    now = [0.0]
    shares = [RateLimiter.share(per_minute=600, burst=100, processes=3) for _ in range(3)]
    for share in shares:
        share.clock = lambda: now[0]
    assert sum(s.rate for s in shares) * 60 == 600
    # Back to back, the three allow the burst (rounded up per process), then nothing.
    allowed = sum(1 for s in shares for _ in range(50) if s.take("key") == 0)
    assert allowed == 3 * 34
    now[0] = 6.0  # a tenth of a minute later: a tenth of the configured rate, across the three
    assert sum(1 for s in shares for _ in range(100) if s.take("key") == 0) == 60
