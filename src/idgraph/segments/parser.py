"""Rule text to the typed AST: `parse(text) -> Rule`.

The grammar is `grammar.lark` (LALR(1), lark). Text that does not parse raises
`SegmentSyntaxError(line, column, expected, message)`; a value that parses but cannot be used
(a path too long, `date("2024-02-30")`) raises it too, at the value; an operator given the
wrong kind of value (`age startsWith 5`, `events().count() > "two"`) raises `SegmentTypeError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any, TypeVar

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError
from pydantic import ValidationError

from idgraph.segments import ast as a
from idgraph.segments.errors import SegmentSyntaxError, SegmentTypeError
from idgraph.segments.times import TimeUnit

MAX_RULE_TEXT = 100_000
COMPUTED_PREFIX = "computed."
T = TypeVar("T")

# How expected tokens are named in errors.
_TOKEN_NAMES = {"PATH": "a path", "STRING": "a string", "NUMBER": "a number",
                "INT": "a whole number", "UNIT": "minutes, hours or days",
                "NO_ARG_AGGREGATE": "count, first or last",
                "PROPERTY_AGGREGATE": "sum, min, max or avg", "$END": "the end of the rule"}


@cache
def _parser() -> Lark:
    grammar = resources.files("idgraph.segments").joinpath("grammar.lark").read_text()
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def parse(text: str) -> a.Rule:
    """The rule `text` as its AST."""
    if len(text) > MAX_RULE_TEXT:
        raise SegmentSyntaxError(1, 1, (), f"a rule is at most {MAX_RULE_TEXT} characters")
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    try:
        condition = _ToAst().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, SegmentSyntaxError | SegmentTypeError):
            raise exc.orig_exc from None
        raise
    return _build(lambda: a.Rule(condition), line=1, column=1)


def _syntax_error(exc: UnexpectedInput, text: str) -> SegmentSyntaxError:
    if isinstance(exc, UnexpectedEOF) or getattr(exc, "token", None) == "$END" or (
            getattr(getattr(exc, "token", None), "type", None) == "$END"):
        line = text.count("\n") + 1
        column = len(text) - (text.rfind("\n") + 1) + 1
        expected = _readable(getattr(exc, "expected", ()))
        return SegmentSyntaxError(line, column, expected,
                                  "the rule ends too early; expected " + _either(expected))
    if isinstance(exc, UnexpectedCharacters):
        expected = _readable(exc.allowed or ())
        found = text[exc.pos_in_stream or 0:(exc.pos_in_stream or 0) + 1]
        return SegmentSyntaxError(exc.line, exc.column, expected,
                                  f"unexpected {found!r}; expected {_either(expected)}")
    token = getattr(exc, "token", None)
    expected = _readable(getattr(exc, "expected", ()))
    return SegmentSyntaxError(exc.line, exc.column, expected,
                              f"unexpected {str(token)!r}; expected {_either(expected)}")


def _readable(names: Any) -> list[str]:
    out = set()
    for name in names:
        if name in _TOKEN_NAMES:
            out.add(_TOKEN_NAMES[name])
            continue
        try:
            pattern = _parser().get_terminal(name).pattern
        except KeyError:
            out.add(name)
            continue
        out.add(f'"{pattern.value}"' if pattern.type == "str" else name.lower())
    return sorted(out)


def _either(expected: list[str]) -> str:
    if not expected:
        return "something else"
    return expected[0] if len(expected) == 1 else ", ".join(expected[:-1]) + " or " + expected[-1]


def _build(make: Callable[[], T], line: int, column: int, type_error: bool = False,
           path: str | None = None) -> T:
    """A model from `make`, its validation errors as a syntax error at (line, column), or as
    a type error (about `path`) when the value has the wrong kind."""
    try:
        return make()
    except ValidationError as exc:
        message = a.first_problem(exc)
        if type_error:
            raise SegmentTypeError(f"{path}: {message}" if path else message, path) from None
        raise SegmentSyntaxError(line, column, (), message) from None


def _string(token: Token) -> str:
    try:
        value = json.loads(token)
    except json.JSONDecodeError:
        raise SegmentSyntaxError(token.line or 1, token.column or 1, (),
                                 f"{token} is not a valid string (escapes: \\\" \\\\ \\n "
                                 "\\t \\uXXXX ...)") from None
    assert isinstance(value, str)
    return value


def _unit(token: Token) -> TimeUnit:
    text = str(token)
    return TimeUnit(text if text.endswith("s") else text + "s")


def _pos(token: Token) -> tuple[int, int]:
    return token.line or 1, token.column or 1


def _subject_path(subject: Any) -> str | None:
    return getattr(subject, "path", None) or getattr(subject, "name", None) or (
        getattr(getattr(subject, "field", None), "value", None))


@v_args(inline=True)
class _ToAst(Transformer[Token, Any]):
    """The parse tree to AST models; the filters' paths become fields or event properties."""

    # -- boolean structure ----------------------------------------------------------------
    def or_expr(self, *items: Any) -> a.Or:
        return a.Or(conditions=items)

    def and_expr(self, *items: Any) -> a.And:
        return a.And(conditions=items)

    def not_(self, item: Any) -> a.Not:
        return a.Not(condition=item)

    # -- conditions -----------------------------------------------------------------------
    def compare(self, subject: Any, op: a.CompareOp, value: Any) -> a.Compare:
        path = _subject_path(subject)
        return _build(lambda: a.Compare(subject=subject, op=op, value=value), 1, 1,
                      type_error=True, path=path)

    def in_list(self, subject: Any, values: tuple[Any, ...]) -> a.InList:
        return _build(lambda: a.InList(subject=subject, values=values), 1, 1, type_error=True,
                      path=_subject_path(subject))

    def exists(self, subject: Any) -> a.Exists:
        return _build(lambda: a.Exists(subject=subject), 1, 1, type_error=True,
                      path=_subject_path(subject))

    def has_identity(self, name: Token) -> a.HasIdentity:
        if not re.fullmatch(a.NAMESPACE, str(name)):
            raise SegmentSyntaxError(*_pos(name), ["a namespace"],
                                     f"{str(name)!r} is not a namespace (lowercase letters, "
                                     "digits and _, starting with a letter)")
        return a.HasIdentity(namespace=str(name))

    def identities_exist(self, identity: _IdentityFilter) -> a.IdentitiesExist:
        return a.IdentitiesExist(filter=identity.filter)

    def events_exist(self, events: a.EventQuery) -> a.EventsExist:
        return a.EventsExist(events=events)

    def in_segment(self, token: Token) -> a.InSegment:
        return _build(lambda: a.InSegment(segment_id=_string(token)), *_pos(token))

    # -- filters: `type`/`source` and event properties, or `namespace`/`value` -------------
    # Built as plain tuples first: what a path means depends on the filter's kind.
    def ev_or(self, *items: Any) -> tuple[Any, ...]:
        return ("or", items)

    def ev_and(self, *items: Any) -> tuple[Any, ...]:
        return ("and", items)

    id_or, id_and = ev_or, ev_and

    def filter_not(self, item: Any) -> tuple[Any, ...]:
        return ("not", item)

    def field_compare(self, path: Token, op: a.CompareOp, value: Any) -> tuple[Any, ...]:
        return ("compare", path, op, value)

    def field_in(self, path: Token, values: tuple[Any, ...]) -> tuple[Any, ...]:
        return ("in", path, values)

    def field_exists(self, path: Token) -> tuple[Any, ...]:
        return ("exists", path)

    def ev_path(self, token: Token) -> Token:
        return token

    def quoted_property(self, token: Token) -> _QuotedProperty:
        return _QuotedProperty(token)

    def events(self, args: tuple[Any, Any] | None) -> a.EventQuery:
        filter_, window = args or (None, None)
        return a.EventQuery(filter=_resolve(filter_, _event_subject), window=window)

    def event_args(self, first: Any, window: Any = None) -> tuple[Any, Any]:
        if isinstance(first, a.Within | a.Between):
            return None, first
        return first, window

    def identity(self, filter_: Any) -> _IdentityFilter:
        return _IdentityFilter(_resolve(filter_, _identity_subject))

    # -- subjects -------------------------------------------------------------------------
    def path_subject(self, token: Token) -> a.Attribute | a.Computed:
        text = str(token)
        if text.startswith(COMPUTED_PREFIX):
            return _build(lambda: a.Computed(name=text.removeprefix(COMPUTED_PREFIX)),
                          *_pos(token))
        return _build(lambda: a.Attribute(path=text), *_pos(token))

    def quoted_attribute(self, token: Token) -> a.Attribute:
        return _build(lambda: a.Attribute(path=_string(token)), *_pos(token))

    def computed_named(self, token: Token) -> a.Computed:
        return _build(lambda: a.Computed(name=_string(token)), *_pos(token))

    def event_aggregate(self, events: a.EventQuery, function: Token,
                        prop: Token | None = None) -> a.EventAggregate:
        return _build(lambda: a.EventAggregate(
            events=events, function=a.Aggregate(str(function)),
            property=None if prop is None else str(prop)), *_pos(prop or function))

    def identity_count(self, identity: _IdentityFilter) -> a.IdentityCount:
        return a.IdentityCount(filter=identity.filter)

    # -- windows and literals -------------------------------------------------------------
    def within(self, amount: Token, unit: Token) -> a.Within:
        return _build(lambda: a.Within(amount=int(amount), unit=_unit(unit)), *_pos(amount))

    def between(self, start: Any, end: Any) -> a.Between:
        return a.Between(start=start, end=end)

    def op(self, token: Token) -> a.CompareOp:
        return a.CompareOp(str(token))

    def string(self, token: Token) -> a.StringValue:
        return _build(lambda: a.StringValue(value=_string(token)), *_pos(token))

    def number(self, *tokens: Token) -> a.NumberValue:
        text = "".join(tokens)
        is_int = not any(c in text for c in ".eE")
        return _build(lambda: a.NumberValue(value=int(text) if is_int else float(text)),
                      *_pos(tokens[0]))

    def true(self) -> a.BooleanValue:
        return a.BooleanValue(value=True)

    def false(self) -> a.BooleanValue:
        return a.BooleanValue(value=False)

    def date(self, token: Token) -> a.DateValue:
        return _build(lambda: a.DateValue(value=_string(token)), *_pos(token))

    def datetime(self, token: Token) -> a.DateTimeValue:
        return _build(lambda: a.DateTimeValue(value=_string(token)), *_pos(token))

    def now(self) -> a.NowValue:
        return a.NowValue()

    def now_offset(self, sign: Token, amount: Token, unit: Token) -> a.NowValue:
        offset = int(amount) * (-1 if sign == "-" else 1)
        return _build(lambda: a.NowValue(offset=offset, unit=_unit(unit)), *_pos(amount))

    def list(self, *values: Any) -> tuple[Any, ...]:
        return values


class _IdentityFilter:
    """identity(...) before we know whether .exists() or .count() follows."""

    def __init__(self, filter_: Any) -> None:
        self.filter = filter_


class _QuotedProperty:
    """property("type"): an event property, even one named like a field."""

    def __init__(self, token: Token) -> None:
        self.token = token


def _event_subject(token: Token | _QuotedProperty) -> a.EventField | a.EventProperty:
    if isinstance(token, _QuotedProperty):
        quoted = token.token
        return _build(lambda: a.EventProperty(path=_string(quoted)), *_pos(quoted))
    if str(token) in {f.value for f in a.EventFieldName}:
        return a.EventField(field=a.EventFieldName(str(token)))
    return _build(lambda: a.EventProperty(path=str(token)), *_pos(token))


def _identity_subject(token: Token) -> a.IdentityField:
    if str(token) not in {f.value for f in a.IdentityFieldName}:
        raise SegmentSyntaxError(*_pos(token), ['"namespace"', '"value"'],
                                 f"an identity has namespace and value, not {str(token)!r}")
    return a.IdentityField(field=a.IdentityFieldName(str(token)))


def _resolve(pending: Any, subject_of: Callable[[Token], Any]) -> Any:
    """A filter's tuples as AST models, each path made a subject by `subject_of`."""
    if pending is None:
        return None
    kind, *rest = pending
    if kind in ("or", "and"):
        junction = a.Or if kind == "or" else a.And
        return junction(conditions=tuple(_resolve(p, subject_of) for p in rest[0]))
    if kind == "not":
        return a.Not(condition=_resolve(rest[0], subject_of))
    subject = subject_of(rest[0])
    path = _subject_path(subject)
    if kind == "compare":
        return _build(lambda: a.Compare(subject=subject, op=rest[1], value=rest[2]), 1, 1,
                      type_error=True, path=path)
    if kind == "in":
        return _build(lambda: a.InList(subject=subject, values=rest[1]), 1, 1,
                      type_error=True, path=path)
    return _build(lambda: a.Exists(subject=subject), 1, 1, type_error=True, path=path)
