"""The canonical text of a rule: `to_text(rule) -> str`.

One line, lowercase keywords, one space around operators, strings as JSON, parentheses only
where precedence (not > and > or) or a nested junction of the same kind needs them. For every
rule, `parse(to_text(rule)) == rule`, so text -> AST -> text is stable.
"""

from __future__ import annotations

import json
import re
from typing import Any

from idgraph.segments import ast as a
from idgraph.segments.times import TimeUnit

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")
# Words that a path standing alone would be read as, where a rule's or a filter's condition
# starts; such paths (and rule paths starting with "computed.") are written quoted.
_RULE_WORDS = frozenset({"not", "has", "events", "identity", "inSegment", "computed",
                         "attribute"})
_FILTER_WORDS = frozenset({"not", "type", "source", "property"})


def _plain(path: str, words: frozenset[str]) -> bool:
    if words is _RULE_WORDS and path.startswith("computed."):
        return False
    return path not in words and path.lower() != "not"


def to_text(rule: a.Rule | Any) -> str:
    """The canonical text of a rule (or of one condition)."""
    return _condition(rule.root if isinstance(rule, a.Rule) else rule)


def _condition(node: Any) -> str:
    if isinstance(node, a.Or):
        return " or ".join(_wrapped(c, a.Or) for c in node.conditions)
    if isinstance(node, a.And):
        return " and ".join(_wrapped(c, a.And, a.Or) for c in node.conditions)
    if isinstance(node, a.Not):
        return "not " + _wrapped(node.condition, a.And, a.Or)
    if isinstance(node, a.Compare):
        return f"{_subject(node.subject)} {node.op.value} {_literal(node.value)}"
    if isinstance(node, a.InList):
        return f"{_subject(node.subject)} in [{', '.join(map(_literal, node.values))}]"
    if isinstance(node, a.Exists):
        return f"{_subject(node.subject)} exists"
    if isinstance(node, a.HasIdentity):
        return f"has {node.namespace}"
    if isinstance(node, a.IdentitiesExist):
        return f"{_identity(node.filter)}.exists()"
    if isinstance(node, a.EventsExist):
        return f"{_events(node.events)}.exists()"
    if isinstance(node, a.InSegment):
        return f"inSegment({_string(node.segment_id)})"
    raise TypeError(f"not a condition: {node!r}")


def _wrapped(node: Any, *parenthesised: type) -> str:
    text = _condition(node)
    return f"({text})" if isinstance(node, parenthesised) else text


def _subject(node: Any) -> str:
    if isinstance(node, a.Attribute):
        return node.path if _plain(node.path, _RULE_WORDS) else f"attribute({_string(node.path)})"
    if isinstance(node, a.EventProperty):
        return node.path if _plain(node.path, _FILTER_WORDS) else f"property({_string(node.path)})"
    if isinstance(node, a.EventField | a.IdentityField):
        return node.field.value
    if isinstance(node, a.Computed):
        # `computed.x` only when it reads back as the same name (a path, not a keyword).
        plain = _NAME.fullmatch(node.name)
        return f"computed.{node.name}" if plain else f"computed({_string(node.name)})"
    if isinstance(node, a.EventAggregate):
        argument = node.property or ""
        return f"{_events(node.events)}.{node.function.value}({argument})"
    if isinstance(node, a.IdentityCount):
        return f"{_identity(node.filter)}.count()"
    raise TypeError(f"not a subject: {node!r}")


def _events(query: a.EventQuery) -> str:
    parts = []
    if query.filter is not None:
        parts.append(_condition(query.filter))
    if query.window is not None:
        parts.append(_window(query.window))
    return f"events({', '.join(parts)})"


def _identity(filter_: Any) -> str:
    return f"identity({'' if filter_ is None else _condition(filter_)})"


def _window(window: a.Within | a.Between) -> str:
    if isinstance(window, a.Within):
        return f"within {window.amount} {_unit(window.amount, window.unit)}"
    return f"between({_literal(window.start)}, {_literal(window.end)})"


def _unit(amount: int, unit: TimeUnit) -> str:
    return unit.value[:-1] if abs(amount) == 1 else unit.value


def literal_text(node: Any) -> str:
    """A literal as rule text (`"gold"`, `42`, `now - 30 days`)."""
    return _literal(node)


def _literal(node: Any) -> str:
    if isinstance(node, a.StringValue):
        return _string(node.value)
    if isinstance(node, a.NumberValue):
        return repr(node.value)
    if isinstance(node, a.BooleanValue):
        return "true" if node.value else "false"
    if isinstance(node, a.DateValue):
        return f"date({_string(node.value)})"
    if isinstance(node, a.DateTimeValue):
        return f"datetime({_string(node.value)})"
    if isinstance(node, a.NowValue):
        if node.offset == 0:
            return "now"
        sign = "-" if node.offset < 0 else "+"
        return f"now {sign} {abs(node.offset)} {_unit(node.offset, node.unit)}"
    raise TypeError(f"not a literal: {node!r}")


def _string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)
