"""Segments built from segments: `inSegment("id")` replaced by that segment's own rule.

`expand_segments(rule, lookup)` inlines recursively, so a compiled query (and the evaluator)
decides membership from the data, not from stored memberships that may be stale. A segment
that has no rule (an imported audience) is looked up as `READ_STORED`: its inSegment stays,
and reads its stored members. A segment
that includes itself, directly or through others, raises `SegmentCycleError`; an id the lookup
does not know raises `UnknownSegment`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from idgraph.segments import ast as a
from idgraph.segments.errors import SegmentCycleError, SegmentError, UnknownSegment


class Stored:
    """A lookup's answer for a segment that has no rule to inline: read its stored members."""


READ_STORED = Stored()
SegmentLookup = Callable[[str], "a.Rule | Stored | None"]


def expand_segments(rule: a.Rule, lookup: SegmentLookup, *, origin: str | None = None) -> a.Rule:
    """`rule` with every inSegment(id) replaced by the rule `lookup(id)` returns, recursively.
    `origin`: the id of the segment `rule` belongs to (so a reference back to it is a cycle)."""
    stack = [origin] if origin is not None else []
    expanded = _expand(rule.root, lookup, stack, {})
    try:
        return a.Rule(expanded)
    except ValidationError as exc:
        raise SegmentError("with the segments it includes, the rule is too large: "
                           f"{a.first_problem(exc)}") from None


def _expand(node: Any, lookup: SegmentLookup, stack: list[str], done: dict[str, Any]) -> Any:
    if isinstance(node, a.And | a.Or):
        parts = tuple(_expand(c, lookup, stack, done) for c in node.conditions)
        return node if parts == node.conditions else type(node)(conditions=parts)
    if isinstance(node, a.Not):
        inner = _expand(node.condition, lookup, stack, done)
        return node if inner is node.condition else a.Not(condition=inner)
    if not isinstance(node, a.InSegment):
        return node
    segment_id = node.segment_id
    if segment_id in stack:
        raise SegmentCycleError([*stack[stack.index(segment_id):], segment_id])
    if segment_id not in done:
        included = lookup(segment_id)
        if included is None:
            raise UnknownSegment(segment_id)
        if isinstance(included, Stored):
            done[segment_id] = node
            return node
        done[segment_id] = _expand(included.root, lookup, [*stack, segment_id], done)
    return done[segment_id]


def referenced_segments(rule: a.Rule) -> list[str]:
    """The ids named by inSegment(...) in a rule (not those of the segments it includes)."""
    return sorted({node.segment_id for node, _, _ in a.walk(rule.root)
                   if isinstance(node, a.InSegment)})
