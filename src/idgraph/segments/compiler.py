"""A rule compiled to ONE parameterised Cypher query returning the ids of its members.

    compile_rule(rule, now_ms=…, include_test=False, attribute_schema=None,
                 segment_lookup=None) -> CompiledQuery(cypher, params)

The query scans `(p:Profile)-[:VIEW]->(v:ProfileView)` (the materialised default-policy view),
or, when a top-level conjunct allows it, starts from the events index or a stored segment's
memberships and reaches only those profiles' views (segments/seeds.py); it leaves out test
profiles (`v._isTest`) unless `include_test`, and returns `id` ordered. Every value is a
parameter (`$v0`, `$v1`, …, `$now`); attribute and event property names come only from paths
the AST validated (letters, digits, `_` and `.`), always backtick-quoted.

Two-valued logic over Cypher's three: a comparison whose value is missing yields null, which
WHERE treats as false; only under NOT would null differ from false, so every NOT is written
`NOT coalesce(…, false)`. Cypher already answers null or false when types differ, except for
`<>` (`"five" <> 5` is true), which is therefore guarded by the literal's type, and for
functions that would fail on another type (`toLower`, `datetime`), guarded by CASE.
The reference for all of this is `evaluator.py`; tests hold the two to the same members.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from idgraph.identity.items import EVENT_PROPERTY_PREFIX
from idgraph.profile.attributes import ATTRIBUTE_PATH, AttributeSchema
from idgraph.segments import ast as a
from idgraph.segments import cypher_parts as parts
from idgraph.segments.composition import SegmentLookup, expand_segments
from idgraph.segments.layout import Fragment, Negation, Text, junction, where
from idgraph.segments.seeds import EventSeed, Seed, SegmentSeed, choose_seed, conjuncts
from idgraph.segments.times import DATE_FORM, DATETIME_FORM, instant_ms, offset_ms
from idgraph.segments.typecheck import check_rule

_OPS = {a.CompareOp.EQ: "=", a.CompareOp.NE: "<>", a.CompareOp.LT: "<", a.CompareOp.LE: "<=",
        a.CompareOp.GT: ">", a.CompareOp.GE: ">="}
_TEXT_OPS = {a.CompareOp.STARTS_WITH: "STARTS WITH", a.CompareOp.ENDS_WITH: "ENDS WITH"}


@dataclass(frozen=True)
class CompiledQuery:
    """Cypher returning rows `{id}` (profile ids, ordered), and its parameters."""

    cypher: str
    params: dict[str, Any]

    @property
    def unordered(self) -> str:
        """The query without its final ORDER BY, for readers that need the set, not the order
        (an evaluation collects the ids and compares them as a set: sorting 250,000 ids in
        the server cost a fifth of the attribute rule's read, bench/results/segments.md)."""
        return self.cypher.removesuffix(parts.ORDER_IDS)


def compile_rule(rule: a.Rule, *, now_ms: int, include_test: bool = False,
                 attribute_schema: AttributeSchema | None = None,
                 segment_lookup: SegmentLookup | None = None) -> CompiledQuery:
    """The query of `rule` as of `now_ms` (epoch ms). With `attribute_schema` the rule is
    type-checked first; with `segment_lookup` every inSegment(id) is replaced by that
    segment's rule (else it reads stored memberships, see `cypher_parts.IN_SEGMENT`)."""
    if attribute_schema is not None:
        check_rule(rule, attribute_schema)
    if segment_lookup is not None:
        rule = expand_segments(rule, segment_lookup)
    compiler = _Compiler(now_ms)
    seed = choose_seed(rule.root)
    start = compiler.start(seed)
    conditions: list[Fragment] = [] if include_test else [Text(parts.NOT_TEST)]
    conditions += [compiler.condition(c) for c in conjuncts(rule.root) if not _seeded(seed, c)]
    body = [where(junction("AND", conditions))] if conditions else []
    text = "\n".join([*start, *body, parts.RETURN_IDS])
    return CompiledQuery(text, compiler.params)


def _seeded(seed: Seed | None, condition: Any) -> bool:
    """Does the seed's start already require `condition` (so it need not be tested again)?"""
    if isinstance(seed, SegmentSeed):
        return condition is seed.node
    return isinstance(seed, EventSeed) and condition is seed.node \
        and isinstance(condition, a.EventsExist)


class _Compiler:
    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms
        self.params: dict[str, Any] = {}
        self._count = 0
        self._seed_count: a.EventAggregate | None = None  # computed by the start, see start()

    # -- where the query starts (segments/seeds.py) ------------------------------------------
    def start(self, seed: Seed | None) -> list[str]:
        """The lines that bind `p` and `v`: every profile's view, or the seed's profiles."""
        if isinstance(seed, SegmentSeed):
            return [parts.SEGMENT_SEED.format(segment=self.param(seed.node.segment_id)),
                    parts.VIEW_OF_SEED]
        if isinstance(seed, EventSeed):
            if seed.counted:
                assert isinstance(seed.node, a.Compare)
                assert isinstance(seed.node.subject, a.EventAggregate)
                self._seed_count = seed.node.subject
            return [parts.EVENT_SEED, where(self.event_where(seed.events)), parts.EVENT_TO_SEED,
                    parts.VIEW_OF_SEED]
        return [parts.SCAN]

    def param(self, value: Any) -> str:
        name = f"v{self._count}"
        self._count += 1
        self.params[name] = value
        return "$" + name

    def named(self, name: str, value: Any) -> str:
        self.params[name] = value
        return "$" + name

    # -- conditions -----------------------------------------------------------------------
    def condition(self, node: Any) -> Fragment:
        if isinstance(node, a.And | a.Or):
            op = "AND" if isinstance(node, a.And) else "OR"
            return junction(op, [self.condition(c) for c in node.conditions])
        if isinstance(node, a.Not):
            return Negation(self.condition(node.condition))
        if isinstance(node, a.Compare):
            return Text(self.compare(node))
        if isinstance(node, a.InList):
            values = [v.value for v in node.values]
            return Text(f"{self.subject(node.subject)} IN {self.param(values)}")
        if isinstance(node, a.Exists):
            return Text(f"{self.subject(node.subject)} IS NOT NULL")
        return Text(self.profile_condition(node))

    def profile_condition(self, node: Any) -> str:
        if isinstance(node, a.HasIdentity):
            return parts.HAS_IDENTITY.format(namespace=self.param(node.namespace))
        if isinstance(node, a.IdentitiesExist):
            return parts.exists_block(parts.IDENTITIES, self.filter(node.filter))
        if isinstance(node, a.EventsExist):
            return parts.exists_block(parts.EVENTS, self.event_where(node.events))
        if isinstance(node, a.InSegment):
            return parts.IN_SEGMENT.format(segment=self.param(node.segment_id))
        raise TypeError(f"not a condition: {node!r}")

    def filter(self, node: Any) -> Fragment | None:
        return None if node is None else self.condition(node)

    def compare(self, node: a.Compare) -> str:
        subject, op, value = node.subject, node.op, node.value
        left = self.subject(subject)
        if isinstance(value, a.TIMES):
            if isinstance(subject, a.VALUE_SUBJECTS):
                left = parts.TIME_OF.format(x=left, date=self.named("dateForm", DATE_FORM),
                                            datetime=self.named("datetimeForm", DATETIME_FORM))
            return f"{left} {_OPS[op]} {self.param(self.time(value))}"
        right = self.param(value.value)
        if op is a.CompareOp.NE and isinstance(subject, a.VALUE_SUBJECTS):
            return f"({left} IS :: {_cypher_type(value)} AND {left} <> {right})"
        if op in _OPS:
            return f"{left} {_OPS[op]} {right}"
        if op in _TEXT_OPS:
            return f"{left} {_TEXT_OPS[op]} {right}"
        if op is a.CompareOp.EQ_IGNORE_CASE:
            return f"CASE WHEN {left} IS :: STRING THEN toLower({left}) = toLower({right}) END"
        if isinstance(value, a.StringValue):  # contains: text in text, or an element
            return f"({left} CONTAINS {right} OR {right} IN {left})"
        return f"{right} IN {left}"

    # -- subjects -------------------------------------------------------------------------
    def subject(self, node: Any) -> str:
        if isinstance(node, a.Attribute):
            return f"v.`{_property(node.path)}`"
        if isinstance(node, a.EventProperty):
            return f"e.`{_property(EVENT_PROPERTY_PREFIX + node.path)}`"
        if isinstance(node, a.EventField):
            return f"e.{node.field.value}"
        if isinstance(node, a.IdentityField):
            return f"i.{node.field.value}"
        if isinstance(node, a.Computed):
            return parts.COMPUTED.format(name=self.param(node.name), now=self.now())
        if isinstance(node, a.IdentityCount):
            return parts.count_block(parts.IDENTITIES, self.filter(node.filter))
        if node is self._seed_count:
            return parts.SEED_COUNT
        if isinstance(node, a.EventAggregate):
            return self.aggregate(node)
        raise TypeError(f"not a subject: {node!r}")

    def aggregate(self, node: a.EventAggregate) -> str:
        condition = self.event_where(node.events)
        if node.function is a.Aggregate.COUNT:
            return parts.count_block(parts.EVENTS, condition, "RETURN DISTINCT e")
        if node.property is None:  # first, last
            function = "min" if node.function is a.Aggregate.FIRST else "max"
            return parts.aggregate_block(condition, None, f"{function}(e.ts)")
        x = f"e.`{_property(EVENT_PROPERTY_PREFIX + node.property)}`"
        value = (f"CASE WHEN count({x}) > 0 THEN sum({x}) / toFloat(count({x})) END"
                 if node.function is a.Aggregate.AVG else f"{node.function.value}({x})")
        return parts.aggregate_block(condition, x, value)

    def event_where(self, query: a.EventQuery) -> Fragment | None:
        conditions: list[Fragment] = []
        if isinstance(query.window, a.Within):
            start = self.now_ms - offset_ms(query.window.amount, query.window.unit)
            conditions += [Text(f"e.ts >= {self.param(start)}"), Text(f"e.ts <= {self.now()}")]
        elif isinstance(query.window, a.Between):
            conditions += [Text(f"e.ts >= {self.param(self.time(query.window.start))}"),
                           Text(f"e.ts <= {self.param(self.time(query.window.end))}")]
        if query.filter is not None:
            conditions.append(self.condition(query.filter))
        return junction("AND", conditions) if conditions else None

    # -- times ----------------------------------------------------------------------------
    def now(self) -> str:
        return self.named("now", self.now_ms)

    def time(self, value: Any) -> int:
        """A time literal in epoch ms."""
        if isinstance(value, a.NowValue):
            return self.now_ms + offset_ms(value.offset, value.unit)
        ms = instant_ms(value.value)
        assert ms is not None  # the AST validated the form
        return ms


def _property(name: str) -> str:
    """A property name safe to backtick-quote (the AST validated it; checked again here)."""
    path = name.removeprefix(EVENT_PROPERTY_PREFIX)
    if not ATTRIBUTE_PATH.fullmatch(path):
        raise ValueError(f"not a property path: {name!r}")
    return name


def _cypher_type(value: Any) -> str:
    if isinstance(value, a.BooleanValue):
        return "BOOLEAN"
    return "STRING" if isinstance(value, a.StringValue) else "INTEGER | FLOAT"

