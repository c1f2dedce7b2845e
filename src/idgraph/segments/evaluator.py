"""The reference evaluator: a rule decided in Python over one profile's facts.

    evaluate(rule, profile, now_ms=…, segment_lookup=None) -> bool
    members(rule, profiles, now_ms=…, include_test=False, segment_lookup=None) -> list[str]

It states the language's meaning plainly, and tests hold the compiled Cypher to it. The rules
(docs/segments.md): two-valued logic; a comparison with a missing value, or with a value of
another type than the literal's, is false (`!=` too), so `not age > 50` holds for a profile
without `age`; an integer meets a float as a float (as in Neo4j); a time literal meets text
in the date or datetime form; `contains` is a substring of text or an element of a list.
Attributes and event properties count only as their stored form has them: a leaf at a valid
path holding a scalar or a non-empty list of one scalar type (`attributes.stored_leaves`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeGuard

from idgraph.profile.attributes import stored_leaves
from idgraph.segments import ast as a
from idgraph.segments.composition import SegmentLookup, expand_segments
from idgraph.segments.times import instant_ms, offset_ms

_ORDER: dict[a.CompareOp, Callable[[Any, Any], bool]] = {
    a.CompareOp.EQ: operator.eq, a.CompareOp.NE: operator.ne, a.CompareOp.LT: operator.lt,
    a.CompareOp.LE: operator.le, a.CompareOp.GT: operator.gt, a.CompareOp.GE: operator.ge}


@dataclass(frozen=True)
class EventFacts:
    """One event about the profile (an event about two of its identities is listed once)."""

    key: str
    type: str
    ts: int  # epoch ms
    properties: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    @cached_property
    def stored(self) -> dict[str, Any]:
        return stored_leaves(dict(self.properties))


@dataclass(frozen=True)
class ProfileFacts:
    """What a rule can see of one profile."""

    id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)  # merged, nested (as `_json`)
    identities: tuple[tuple[str, str], ...] = ()  # (namespace, value)
    events: tuple[EventFacts, ...] = ()
    # Numeric computed attributes (COUNT, SUM, MIN, MAX) as of now, by name; MOST_RECENT ones
    # are left out (rules cannot use them). Read them with profile/computed.py `aggregate`.
    computed: Mapping[str, int | float | None] = field(default_factory=dict)
    is_test: bool = False
    segments: frozenset[str] = frozenset()  # stored memberships, for inSegment without lookup

    @cached_property
    def stored(self) -> dict[str, Any]:
        return stored_leaves(dict(self.attributes))


def members(rule: a.Rule, profiles: Iterable[ProfileFacts], *, now_ms: int,
            include_test: bool = False, segment_lookup: SegmentLookup | None = None
            ) -> list[str]:
    """The ids (sorted) of the profiles the rule holds for; test profiles only if asked."""
    if segment_lookup is not None:
        rule = expand_segments(rule, segment_lookup)
    return sorted(p.id for p in profiles
                  if (include_test or not p.is_test) and _Evaluation(p, now_ms).holds(rule.root))


def evaluate(rule: a.Rule, profile: ProfileFacts, *, now_ms: int,
             segment_lookup: SegmentLookup | None = None) -> bool:
    """Does the rule hold for this profile as of `now_ms`? (Its test flag is not looked at.)"""
    if segment_lookup is not None:
        rule = expand_segments(rule, segment_lookup)
    return _Evaluation(profile, now_ms).holds(rule.root)


class _Evaluation:
    def __init__(self, profile: ProfileFacts, now_ms: int) -> None:
        self.profile = profile
        self.now_ms = now_ms

    def holds(self, node: Any, event: EventFacts | None = None,
              identity: tuple[str, str] | None = None) -> bool:
        """The condition for the profile, or inside a filter for one event or identity."""
        if isinstance(node, a.And):
            return all(self.holds(c, event, identity) for c in node.conditions)
        if isinstance(node, a.Or):
            return any(self.holds(c, event, identity) for c in node.conditions)
        if isinstance(node, a.Not):
            return not self.holds(node.condition, event, identity)
        if isinstance(node, a.Compare | a.InList | a.Exists):
            return self.test(node, self.value(node.subject, event, identity))
        return self.profile_condition(node)

    def profile_condition(self, node: Any) -> bool:
        if isinstance(node, a.HasIdentity):
            return any(ns == node.namespace for ns, _ in self.profile.identities)
        if isinstance(node, a.IdentitiesExist):
            return bool(self.identities(node.filter))
        if isinstance(node, a.EventsExist):
            return bool(self.events(node.events))
        if isinstance(node, a.InSegment):
            return node.segment_id in self.profile.segments
        raise TypeError(f"not a condition: {node!r}")

    def test(self, node: a.Compare | a.InList | a.Exists, value: Any) -> bool:
        if value is None:
            return False
        if isinstance(node, a.Exists):
            return True
        if isinstance(node, a.InList):
            return any(equal(value, v.value) for v in node.values)
        if isinstance(node.value, a.TIMES):
            moment = value if isinstance(node.subject, a.NUMBER_SUBJECTS) else as_time(value)
            return moment is not None and _ORDER[node.op](moment, self.time(node.value))
        return compare(value, node.op, node.value.value)

    # -- values ---------------------------------------------------------------------------
    def value(self, subject: Any, event: EventFacts | None,
              identity: tuple[str, str] | None) -> Any:
        """The subject's value, None when missing."""
        if isinstance(subject, a.Attribute):
            return self.profile.stored.get(subject.path)
        if isinstance(subject, a.EventProperty):
            assert event is not None
            return event.stored.get(subject.path)
        if isinstance(subject, a.EventField):
            assert event is not None
            return event.type if subject.field is a.EventFieldName.TYPE else event.source
        if isinstance(subject, a.IdentityField):
            assert identity is not None
            return identity[0] if subject.field is a.IdentityFieldName.NAMESPACE else identity[1]
        if isinstance(subject, a.Computed):
            found = self.profile.computed.get(subject.name)
            return found if is_number(found) else None
        if isinstance(subject, a.IdentityCount):
            return len(self.identities(subject.filter))
        return self.aggregate(subject)

    def aggregate(self, subject: a.EventAggregate) -> Any:
        matching = self.events(subject.events)
        if subject.function is a.Aggregate.COUNT:
            return len(matching)
        if subject.function in a.TIME_AGGREGATES:
            times = [e.ts for e in matching]
            pick = min if subject.function is a.Aggregate.FIRST else max
            return pick(times) if times else None
        values = [e.stored.get(subject.property or "") for e in matching]
        numbers: list[int | float] = [x for x in values if is_number(x)]
        if subject.function is a.Aggregate.SUM:
            return sum(numbers)
        if not numbers:
            return None
        if subject.function is a.Aggregate.AVG:
            return sum(numbers) / float(len(numbers))
        return (min if subject.function is a.Aggregate.MIN else max)(numbers)

    def events(self, query: a.EventQuery) -> list[EventFacts]:
        low, high = self.window(query.window)
        return [e for e in self.profile.events
                if low <= e.ts <= high and (query.filter is None or self.holds(query.filter, e))]

    def identities(self, filter_: Any) -> list[tuple[str, str]]:
        return [i for i in self.profile.identities
                if filter_ is None or self.holds(filter_, identity=i)]

    def window(self, window: Any) -> tuple[float, float]:
        if isinstance(window, a.Within):
            return self.now_ms - offset_ms(window.amount, window.unit), self.now_ms
        if isinstance(window, a.Between):
            return self.time(window.start), self.time(window.end)
        return float("-inf"), float("inf")

    def time(self, literal: Any) -> int:
        if isinstance(literal, a.NowValue):
            return self.now_ms + offset_ms(literal.offset, literal.unit)
        moment = instant_ms(literal.value)
        assert moment is not None
        return moment


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def as_time(value: Any) -> int | None:
    """A stored value as a time: text in the date or datetime form."""
    return instant_ms(value) if isinstance(value, str) else None


def same_kind(x: Any, y: Any) -> bool:
    """Both booleans, both numbers, or both text."""
    if isinstance(x, bool) or isinstance(y, bool):
        return isinstance(x, bool) and isinstance(y, bool)
    return (is_number(x) and is_number(y)) or (isinstance(x, str) and isinstance(y, str))


def _numeric(x: Any, y: Any) -> tuple[Any, Any]:
    """Neo4j compares an integer with a float as two floats."""
    if is_number(x) and is_number(y) and (isinstance(x, float) or isinstance(y, float)):
        return float(x), float(y)
    return x, y


def equal(x: Any, y: Any) -> bool:
    """Equality of a stored value and a literal: of the same kind, and equal."""
    return same_kind(x, y) and operator.eq(*_numeric(x, y))


def compare(value: Any, op: a.CompareOp, literal: Any) -> bool:
    """A present stored value against a string, number or boolean literal."""
    if op is a.CompareOp.EQ:
        return equal(value, literal)
    if op in _ORDER:
        return same_kind(value, literal) and _ORDER[op](*_numeric(value, literal))
    if op is a.CompareOp.CONTAINS:
        if isinstance(value, list):
            return any(equal(x, literal) for x in value)
        return isinstance(value, str) and isinstance(literal, str) and literal in value
    if not isinstance(value, str):
        return False
    if op is a.CompareOp.EQ_IGNORE_CASE:
        return bool(value.lower() == literal.lower())
    if op is a.CompareOp.STARTS_WITH:
        return value.startswith(literal)
    return value.endswith(literal)
