"""Where a compiled rule starts reading (pure: the AST in, a choice out).

A rule is a filter over every profile, and by default its query scans every profile's view.
When one of the rule's top-level conjuncts can only hold for a profile that has something the
graph indexes, the query starts from that instead (a "seed") and reaches far fewer profiles:

- an event seed: the conjunct needs at least one matching event, and the event query is
  selective through an index (`type = …` / `type in […]`, or a window on `ts`), e.g.
  `events(type = "purchase", within 30 days).count() >= 2` (a profile with no such event has
  a count of 0, and `0 >= 2` is false);
- a segment seed: `inSegment("id")` read from stored memberships (not inlined).

The seed only narrows the candidates: the compiled query still tests the whole rule on each
of them, so a seed can never add a member, and it drops only profiles the seeded conjunct
rejects. Whether a conjunct needs an event is decided with the reference evaluator's own
comparison (a count or sum over no events is 0; min, max, avg, first and last are missing, and
a comparison with a missing value is false), so the two back ends cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from idgraph.segments import ast as a
from idgraph.segments.evaluator import compare

# Aggregates that are a number over no events (0); the others are missing over no events.
_ZERO_OVER_NOTHING = (a.Aggregate.COUNT, a.Aggregate.SUM)


@dataclass(frozen=True)
class EventSeed:
    """Start from the events `events` selects; `node` is the conjunct that needs one."""

    node: a.Compare | a.EventsExist
    events: a.EventQuery

    @property
    def counted(self) -> bool:
        """Is the conjunct a count of the seed's events (the seed's grouping computes it)?"""
        return (isinstance(self.node, a.Compare) and isinstance(self.node.subject,
                                                                a.EventAggregate)
                and self.node.subject.function is a.Aggregate.COUNT)


@dataclass(frozen=True)
class SegmentSeed:
    """Start from the stored memberships of `node.segment_id`."""

    node: a.InSegment


Seed = EventSeed | SegmentSeed


def conjuncts(root: Any) -> list[Any]:
    """The rule's top-level conjuncts (nested ANDs spliced in, as the compiler lays them out)."""
    if isinstance(root, a.And):
        return [part for condition in root.conditions for part in conjuncts(condition)]
    return [root]


def choose_seed(root: Any) -> Seed | None:
    """The seed of a rule, or None (scan every profile). A stored segment is preferred (its
    memberships are read through one index); then the first event conjunct that is
    selective by type, then the first selective by time alone."""
    parts = conjuncts(root)
    for part in parts:
        if isinstance(part, a.InSegment):
            return SegmentSeed(part)
    events = [seed for part in parts if (seed := event_seed(part)) is not None]
    typed = [seed for seed in events if has_type_filter(seed.events.filter)]
    preferred = typed or events
    return preferred[0] if preferred else None


def event_seed(node: Any) -> EventSeed | None:
    """An event seed when `node` needs a matching event and its events are indexed."""
    if isinstance(node, a.EventsExist):
        query = node.events
    elif (isinstance(node, a.Compare) and isinstance(node.subject, a.EventAggregate)
          and needs_an_event(node, node.subject)):
        query = node.subject.events
    else:
        return None
    if query.window is None and not has_type_filter(query.filter):
        return None  # every event would be a candidate: scanning profiles is cheaper
    return EventSeed(node, query)


def needs_an_event(node: a.Compare, aggregate: a.EventAggregate) -> bool:
    """Is `node` false for a profile with no matching event?"""
    if aggregate.function not in _ZERO_OVER_NOTHING:
        return True  # missing over no events, and a comparison with a missing value is false
    if isinstance(node.value, a.NumberValue):
        return not compare(0, node.op, node.value.value)
    return False


def has_type_filter(condition: Any) -> bool:
    """Does the event filter require `type = "…"` or `type in […]` (a top-level conjunct)?"""
    return any(_is_type_test(part) for part in conjuncts(condition)) if condition else False


def _is_type_test(node: Any) -> bool:
    if not isinstance(node, a.Compare | a.InList):
        return False
    is_type = (isinstance(node.subject, a.EventField)
               and node.subject.field is a.EventFieldName.TYPE)
    return is_type and (isinstance(node, a.InList) or node.op is a.CompareOp.EQ)
