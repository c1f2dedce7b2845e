"""The typed AST of a segment rule: pydantic models, a discriminated union on `kind`.

`Rule` is the root (a `RootModel` over one `Condition`), so a rule travels as plain JSON:
`Rule.model_validate(data)` / `rule.model_dump(mode="json")` (or `rule_from_json`, which turns
pydantic's errors into `SegmentError`s). Example, `age > 50 and has email`:

    {"kind": "and", "conditions": [
      {"kind": "compare", "subject": {"kind": "attribute", "path": "age"}, "op": ">",
       "value": {"kind": "number", "value": 50}},
      {"kind": "has_identity", "namespace": "email"}]}

Conditions: and, or, not, compare, in, exists, has_identity, identities_exist, events_exist,
in_segment. Subjects (the left side of compare/in/exists): attribute, computed,
event_aggregate, identity_count, and inside filters event_field, event_property,
identity_field. Literals: string, number, boolean, date, datetime, now. Windows: within,
between. Every model validates what it can by itself (operator and literal kinds, paths,
dates); `Rule` also checks where each subject may appear and bounds the rule's size.
Declared attribute types are checked separately (`typecheck.check_rule`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    field_validator,
    model_validator,
)

from idgraph.segments.errors import SegmentError

# Re-exported: `ast` is the one namespace of the AST.
from idgraph.segments.literals import (
    EQUALITY,
    MAX_DEPTH,
    MAX_IN_VALUES,
    MAX_NODES,
    NAMESPACE,
    NEEDS_PROPERTY,
    ORDERING,
    SEGMENT_ID,
    TEXT_ONLY,
    TIME_AGGREGATES,
    TIMES,
    Aggregate,
    Between,
    BooleanValue,
    CompareOp,
    DateTimeValue,
    DateValue,
    EventFieldName,
    IdentityFieldName,
    LiteralValue,
    Node,
    NowValue,
    NumberValue,
    ScalarLiteral,
    StringValue,
    Window,
    Within,
    check_path,
    check_text,
)


# -- subjects ---------------------------------------------------------------------------------
class Attribute(Node):
    """A merged-profile attribute by dotted path (`address.city`)."""

    kind: Literal["attribute"] = "attribute"
    path: str

    _check = field_validator("path")(check_path)


class Computed(Node):
    """A computed attribute's value as of now (`computed.lifetimePurchases`)."""

    kind: Literal["computed"] = "computed"
    name: str = Field(min_length=1, max_length=128)

    _check = field_validator("name")(check_text)


class EventField(Node):
    """An event's own field (`type`, `source`), inside an events(...) filter."""

    kind: Literal["event_field"] = "event_field"
    field: EventFieldName


class EventProperty(Node):
    """An event property by dotted path, inside an events(...) filter."""

    kind: Literal["event_property"] = "event_property"
    path: str

    _check = field_validator("path")(check_path)


class IdentityField(Node):
    """An identity's `namespace` or `value`, inside an identity(...) filter."""

    kind: Literal["identity_field"] = "identity_field"
    field: IdentityFieldName


class EventQuery(Node):
    """The profile's events matching `filter` inside `window` (each either optional)."""

    filter: Condition | None = None
    window: Window | None = None


class EventAggregate(Node):
    """`events(...).count()`, `.sum(p)`, `.min(p)`, `.max(p)`, `.avg(p)`, `.first()`,
    `.last()`: a number, or a time (first, last) in epoch ms."""

    kind: Literal["event_aggregate"] = "event_aggregate"
    events: EventQuery = Field(default_factory=lambda: EventQuery())
    function: Aggregate
    property: str | None = None

    @model_validator(mode="after")
    def _property(self) -> EventAggregate:
        if (self.property is None) == (self.function in NEEDS_PROPERTY):
            need = "needs" if self.function in NEEDS_PROPERTY else "takes no"
            raise ValueError(f"{self.function.value}() {need} an event property")
        if self.property is not None:
            check_path(self.property)
        return self


class IdentityCount(Node):
    """`identity(...).count()`: how many of the profile's identities match."""

    kind: Literal["identity_count"] = "identity_count"
    filter: Condition | None = None


Subject = Annotated[
    Attribute | Computed | EventField | EventProperty | IdentityField | EventAggregate
    | IdentityCount,
    Field(discriminator="kind")]
VALUE_SUBJECTS = (Attribute, EventProperty, EventField, IdentityField)  # stored values
NUMBER_SUBJECTS = (Computed, EventAggregate, IdentityCount)  # a number (or time) or nothing


# -- conditions -------------------------------------------------------------------------------
class And(Node):
    kind: Literal["and"] = "and"
    conditions: tuple[Condition, ...] = Field(min_length=2)


class Or(Node):
    kind: Literal["or"] = "or"
    conditions: tuple[Condition, ...] = Field(min_length=2)


class Not(Node):
    kind: Literal["not"] = "not"
    condition: Condition


class Compare(Node):
    kind: Literal["compare"] = "compare"
    subject: Subject
    op: CompareOp
    value: LiteralValue

    @model_validator(mode="after")
    def _kinds(self) -> Compare:
        if problem := compare_problem(self.subject, self.op, self.value):
            raise ValueError(problem)
        return self


class InList(Node):
    kind: Literal["in"] = "in"
    subject: Subject
    values: tuple[ScalarLiteral, ...] = Field(min_length=1, max_length=MAX_IN_VALUES)

    @model_validator(mode="after")
    def _kinds(self) -> InList:
        if isinstance(self.subject, EventAggregate | IdentityCount):
            raise ValueError("`in` takes an attribute, a computed attribute or a field")
        return self


class Exists(Node):
    kind: Literal["exists"] = "exists"
    subject: Subject

    @model_validator(mode="after")
    def _kinds(self) -> Exists:
        if not isinstance(self.subject, Attribute | Computed | EventProperty):
            raise ValueError("`exists` takes an attribute, a computed attribute or an event "
                             "property (events(...) and identity(...) have .exists())")
        return self


class HasIdentity(Node):
    """`has email`: the profile has an identity in that namespace."""

    kind: Literal["has_identity"] = "has_identity"
    namespace: str = Field(pattern=f"^{NAMESPACE}$")


class IdentitiesExist(Node):
    """`identity(namespace = "loyalty").exists()`."""

    kind: Literal["identities_exist"] = "identities_exist"
    filter: Condition | None = None


class EventsExist(Node):
    """`events(type = "purchase", within 30 days).exists()`."""

    kind: Literal["events_exist"] = "events_exist"
    events: EventQuery = Field(default_factory=lambda: EventQuery())


class InSegment(Node):
    """`inSegment("id")`: a member of another segment (or its rule, when inlined)."""

    kind: Literal["in_segment"] = "in_segment"
    segment_id: str = Field(pattern=f"^{SEGMENT_ID}$")


Condition = Annotated[
    And | Or | Not | Compare | InList | Exists | HasIdentity | IdentitiesExist | EventsExist
    | InSegment,
    Field(discriminator="kind")]
JUNCTIONS = (And, Or)


def compare_problem(subject: Any, op: CompareOp, value: Any) -> str | None:
    """Why `subject op value` is not a comparison the language has, or None."""
    if isinstance(subject, NUMBER_SUBJECTS):
        wants_time = isinstance(subject, EventAggregate) and subject.function in TIME_AGGREGATES
        if op not in ORDERING | EQUALITY:
            return f"`{op.value}` compares text; this side is a number or a time"
        if isinstance(subject, EventAggregate) and wants_time and not isinstance(value, TIMES):
            return f"{subject.function.value}() is a time: compare it with date(...), " \
                   "datetime(...) or now"
        if not wants_time and not isinstance(value, NumberValue):
            return "this side is a number: compare it with a number"
        return None
    if isinstance(subject, EventField | IdentityField) and not isinstance(value, StringValue):
        return f"`{subject.field.value}` is text: compare it with a string"
    if op in ORDERING and isinstance(value, BooleanValue):
        return f"`{op.value}` does not order booleans"
    if op in TEXT_ONLY and not isinstance(value, StringValue):
        return f"`{op.value}` takes a string"
    if op is CompareOp.CONTAINS and isinstance(value, TIMES):
        return "`contains` takes a string, number or boolean"
    return None


class Rule(RootModel[Condition]):
    """A whole segment rule. `rule.root` is its condition."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="after")
    def _scopes(self) -> Rule:
        count = 0
        for node, scope, depth in walk(self.root):
            count += 1
            if problem := _scope_problem(node, scope):
                raise ValueError(problem)
            if depth > MAX_DEPTH:
                raise ValueError(f"a rule nests at most {MAX_DEPTH} deep")
        if count > MAX_NODES:
            raise ValueError(f"a rule has at most {MAX_NODES} parts")
        return self


RULE, EVENTS, IDENTITIES = "rule", "events", "identities"
_SUBJECTS = {RULE: (Attribute, Computed, EventAggregate, IdentityCount),
             EVENTS: (EventField, EventProperty), IDENTITIES: (IdentityField,)}
_RULE_ONLY = (HasIdentity, IdentitiesExist, EventsExist, InSegment)


def _scope_problem(node: Any, scope: str) -> str | None:
    if isinstance(node, Compare | InList | Exists) and not isinstance(
            node.subject, _SUBJECTS[scope]):
        where = {RULE: "a rule", EVENTS: "an events(...) filter",
                 IDENTITIES: "an identity(...) filter"}[scope]
        return f"{type(node.subject).__name__} cannot be used in {where}"
    if scope != RULE and isinstance(node, _RULE_ONLY):
        return f"{node.kind} cannot be used inside a filter"
    return None


def walk(condition: Any, scope: str = RULE, depth: int = 1
         ) -> Iterator[tuple[Any, str, int]]:
    """Every condition of a tree with its scope (rule, events, identities) and depth,
    parents first; filters of events(...) and identity(...) are walked too."""
    yield condition, scope, depth
    for child, child_scope in children(condition, scope):
        yield from walk(child, child_scope, depth + 1)


def children(condition: Any, scope: str) -> Iterator[tuple[Any, str]]:
    """The conditions directly inside one condition, with their scopes."""
    if isinstance(condition, And | Or):
        yield from ((c, scope) for c in condition.conditions)
    elif isinstance(condition, Not):
        yield condition.condition, scope
    elif isinstance(condition, IdentitiesExist) and condition.filter is not None:
        yield condition.filter, IDENTITIES
    elif isinstance(condition, EventsExist) and condition.events.filter is not None:
        yield condition.events.filter, EVENTS
    elif isinstance(condition, Compare | InList | Exists):
        subject = condition.subject
        if isinstance(subject, EventAggregate) and subject.events.filter is not None:
            yield subject.events.filter, EVENTS
        elif isinstance(subject, IdentityCount) and subject.filter is not None:
            yield subject.filter, IDENTITIES


def rule_from_json(data: Any) -> Rule:
    """A rule from its JSON form; a bad one raises SegmentError naming the first problem."""
    try:
        return Rule.model_validate(data)
    except ValidationError as exc:
        raise SegmentError(f"not a segment rule: {first_problem(exc)}") from None


def first_problem(exc: ValidationError) -> str:
    """The first error of a ValidationError, readable: where, then what."""
    error = exc.errors()[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {message}" if where else message


for _model in (EventQuery, EventAggregate, IdentityCount, And, Or, Not, Compare, InList, Exists,
               IdentitiesExist, EventsExist, Within, Between, Rule):
    _model.model_rebuild()

__all__ = [
    "Aggregate", "And", "Attribute", "Between", "BooleanValue", "Compare", "CompareOp",
    "Computed", "Condition", "DateTimeValue", "DateValue", "EQUALITY", "EVENTS",
    "EventAggregate", "EventField", "EventFieldName", "EventProperty", "EventQuery",
    "EventsExist", "Exists", "HasIdentity", "IDENTITIES", "IdentitiesExist", "IdentityCount",
    "IdentityField", "IdentityFieldName", "InList", "InSegment", "JUNCTIONS", "LiteralValue",
    "MAX_DEPTH", "MAX_IN_VALUES", "MAX_NODES", "NAMESPACE", "NEEDS_PROPERTY", "NUMBER_SUBJECTS",
    "Node", "Not", "NowValue", "NumberValue", "ORDERING", "Or", "RULE", "Rule", "SEGMENT_ID",
    "ScalarLiteral", "StringValue", "Subject", "TEXT_ONLY", "TIMES", "TIME_AGGREGATES",
    "VALUE_SUBJECTS", "Window", "Within", "check_path", "check_text", "children",
    "compare_problem", "first_problem", "rule_from_json", "walk",
]
