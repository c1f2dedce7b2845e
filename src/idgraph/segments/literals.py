"""The values of the segment AST: operators and other enums, literals and event windows,
and the base of every node (`segments.ast` re-exports what the rest of the package uses)."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)

from idgraph.profile.attributes import ATTRIBUTE_PATH
from idgraph.segments.times import TimeUnit, is_date, is_datetime

MAX_TEXT = 1000
MAX_IN_VALUES = 1000
MAX_NODES = 500
MAX_DEPTH = 32
MAX_TIME_AMOUNT = 100_000
INT64 = (-(2**63), 2**63 - 1)
NAMESPACE = r"[a-z][a-z0-9_]{0,31}"
SEGMENT_ID = r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}"


class CompareOp(StrEnum):
    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    EQ_IGNORE_CASE = "~="
    CONTAINS = "contains"
    STARTS_WITH = "startsWith"
    ENDS_WITH = "endsWith"


ORDERING = frozenset({CompareOp.LT, CompareOp.LE, CompareOp.GT, CompareOp.GE})
EQUALITY = frozenset({CompareOp.EQ, CompareOp.NE})
TEXT_ONLY = frozenset({CompareOp.EQ_IGNORE_CASE, CompareOp.STARTS_WITH, CompareOp.ENDS_WITH})


class Aggregate(StrEnum):
    COUNT = "count"
    SUM = "sum"
    MIN = "min"
    MAX = "max"
    AVG = "avg"
    FIRST = "first"
    LAST = "last"


NEEDS_PROPERTY = frozenset({Aggregate.SUM, Aggregate.MIN, Aggregate.MAX, Aggregate.AVG})
TIME_AGGREGATES = frozenset({Aggregate.FIRST, Aggregate.LAST})


class EventFieldName(StrEnum):
    TYPE = "type"
    SOURCE = "source"


class IdentityFieldName(StrEnum):
    NAMESPACE = "namespace"
    VALUE = "value"


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def check_text(value: str) -> str:
    if len(value) > MAX_TEXT:
        raise ValueError(f"text longer than {MAX_TEXT} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text with an unpaired surrogate") from None
    return value


def check_path(value: str) -> str:
    if not ATTRIBUTE_PATH.fullmatch(value):
        raise ValueError(f"{value!r} is not a path (letters, digits and _, parts joined by '.', "
                         "each starting with a letter, at most 8 parts of 64)")
    return value


# -- literals ---------------------------------------------------------------------------------
class StringValue(Node):
    kind: Literal["string"] = "string"
    value: str

    _check = field_validator("value")(check_text)


class NumberValue(Node):
    kind: Literal["number"] = "number"
    value: StrictInt | StrictFloat

    @field_validator("value")
    @classmethod
    def _finite(cls, value: int | float) -> int | float:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("a number must be finite")
        if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
            raise ValueError("an integer must fit in 64 bits")
        return value


class BooleanValue(Node):
    kind: Literal["boolean"] = "boolean"
    value: StrictBool


class DateValue(Node):
    kind: Literal["date"] = "date"
    value: str

    @field_validator("value")
    @classmethod
    def _date(cls, value: str) -> str:
        if not is_date(value):
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD, year 1000-9999)")
        return value


class DateTimeValue(Node):
    kind: Literal["datetime"] = "datetime"
    value: str

    @field_validator("value")
    @classmethod
    def _datetime(cls, value: str) -> str:
        if not is_datetime(value):
            raise ValueError(f"{value!r} is not a datetime (YYYY-MM-DDTHH:MM:SS[.fff] then Z "
                             "or an offset like +02:00)")
        return value


class NowValue(Node):
    """`now`, or `now - 30 days` (offset -30) / `now + 2 hours` (offset 2)."""

    kind: Literal["now"] = "now"
    offset: StrictInt = Field(default=0, ge=-MAX_TIME_AMOUNT, le=MAX_TIME_AMOUNT)
    unit: TimeUnit = TimeUnit.DAYS

    @model_validator(mode="after")
    def _plain_now(self) -> NowValue:
        if self.offset == 0 and self.unit is not TimeUnit.DAYS:
            raise ValueError("plain `now` has no unit (use unit 'days' with offset 0)")
        return self


TimeLiteral = Annotated[DateValue | DateTimeValue | NowValue, Field(discriminator="kind")]
ScalarLiteral = Annotated[StringValue | NumberValue | BooleanValue,
                          Field(discriminator="kind")]
LiteralValue = Annotated[
    StringValue | NumberValue | BooleanValue | DateValue | DateTimeValue | NowValue,
    Field(discriminator="kind")]
SCALARS = (StringValue, NumberValue, BooleanValue)
TIMES = (DateValue, DateTimeValue, NowValue)


# -- windows ----------------------------------------------------------------------------------
class Within(Node):
    """The last `amount` units up to now, both ends included."""

    kind: Literal["within"] = "within"
    amount: StrictInt = Field(ge=1, le=MAX_TIME_AMOUNT)
    unit: TimeUnit


class Between(Node):
    """From `start` to `end`, both ends included."""

    kind: Literal["between"] = "between"
    start: TimeLiteral
    end: TimeLiteral


Window = Annotated[Within | Between, Field(discriminator="kind")]
