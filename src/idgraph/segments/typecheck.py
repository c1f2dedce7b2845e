"""Rules checked against declared attribute types: `check_rule(rule, schema)`.

`age > "fifty"` with `age: number` declared raises `SegmentTypeError` naming `age`. Undeclared
paths stay untyped (any comparison is allowed; at run time a value of another type simply does
not match). With `computed` (definition name -> function), a computed attribute must exist
and be numeric: MOST_RECENT values are JSON and cannot be compared in Cypher.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from idgraph.profile.attributes import AttributeSchema, AttributeType
from idgraph.segments import ast as a
from idgraph.segments.errors import SegmentTypeError
from idgraph.segments.printer import literal_text, to_text

COMPUTABLE = frozenset({"COUNT", "SUM", "MIN", "MAX"})
_ADVICE = {
    AttributeType.NUMBER: "compare it with a number",
    AttributeType.STRING: "compare it with a string",
    AttributeType.BOOLEAN: "compare it with true or false (= or !=)",
    AttributeType.DATE: 'compare it with date("…"), datetime("…") or now (not with in [...])',
    AttributeType.DATETIME: 'compare it with datetime("…"), date("…") or now '
                            "(not with in [...])",
}


def check_rule(rule: a.Rule, schema: AttributeSchema | None = None, *,
               computed: Mapping[str, str] | None = None) -> None:
    """Raise SegmentTypeError at the first comparison the declared types rule out."""
    for node, scope, _ in a.walk(rule.root):
        if not isinstance(node, a.Compare | a.InList | a.Exists):
            continue
        subject = node.subject
        if isinstance(subject, a.Computed) and computed is not None:
            _check_computed(subject.name, computed)
        if scope == a.RULE and isinstance(subject, a.Attribute) and schema is not None:
            declared = schema.type_of(subject.path)
            if declared is not None and not isinstance(node, a.Exists):
                _check_attribute(subject.path, declared, node)


def _check_attribute(path: str, declared: AttributeType, node: a.Compare | a.InList) -> None:
    if isinstance(node, a.InList):
        bad = next((v for v in node.values if not _fits(declared, a.CompareOp.EQ, v)), None)
        if bad is not None or declared in (AttributeType.DATE, AttributeType.DATETIME):
            shown = to_text(node)
            raise SegmentTypeError(f"{path} is a {declared.value}: {_ADVICE[declared]}; "
                                   f"not `{shown}`", path)
        return
    if not _fits(declared, node.op, node.value):
        raise SegmentTypeError(f"{path} is a {declared.value}: {_ADVICE[declared]}; not "
                               f"`{node.op.value} {literal_text(node.value)}`", path)


def _fits(declared: AttributeType, op: a.CompareOp, value: Any) -> bool:
    plain = op in a.EQUALITY | a.ORDERING
    if declared is AttributeType.NUMBER:
        return isinstance(value, a.NumberValue) and plain
    if declared is AttributeType.STRING:
        return isinstance(value, a.StringValue)
    if declared is AttributeType.BOOLEAN:
        return isinstance(value, a.BooleanValue) and op in a.EQUALITY
    return isinstance(value, a.TIMES) and plain


def _check_computed(name: str, computed: Mapping[str, str]) -> None:
    function = computed.get(name)
    if function is None:
        raise SegmentTypeError(f"computed.{name}: no computed attribute named {name!r}", name)
    if function not in COMPUTABLE:
        raise SegmentTypeError(f"computed.{name} is {function}: only COUNT, SUM, MIN and MAX "
                               "computed attributes can be used in rules", name)
