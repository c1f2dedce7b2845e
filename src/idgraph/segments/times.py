"""Times in the segment language: every time is an instant in epoch milliseconds (UTC).

Event times are stored that way; `date("…")`, `datetime("…")` and `now - N days` literals are
turned into it here; an attribute or event property is read as a time only when it is text of
exactly one of the two forms below (a date is its midnight UTC). The forms are regular
expressions that Java (Neo4j's `=~`) and Python (`re.fullmatch`) read alike and that admit only
real calendar dates, times and offsets Neo4j accepts, so `datetime(x)` never fails on a value
that matched and the compiler and the evaluator agree. Times compare at millisecond precision
(a finer fraction is truncated by both).
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum

_YEAR = "[1-9][0-9]{3}"
_MONTH_DAY = ("(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
              "|(?:0[13-9]|1[0-2])-(?:29|30)"
              "|(?:0[13578]|1[02])-31)")
_LEAP_YEAR = "(?:[1-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[13579][26])00)"
_DATE = f"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:[.][0-9]{1,9})?"
# Neo4j accepts offsets up to ±18:00.
_OFFSET = "(?:Z|[+-](?:(?:0[0-9]|1[0-7]):[0-5][0-9]|18:00))"

DATE_FORM = _DATE
DATETIME_FORM = f"{_DATE}T{_TIME}{_OFFSET}"
DATE_RE = re.compile(DATE_FORM)
DATETIME_RE = re.compile(DATETIME_FORM)
_PARTS = re.compile(r"(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d))?")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)


class TimeUnit(StrEnum):
    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"


UNIT_MS = {TimeUnit.MINUTES: 60_000, TimeUnit.HOURS: 3_600_000, TimeUnit.DAYS: 86_400_000}


def is_date(text: str) -> bool:
    return DATE_RE.fullmatch(text) is not None


def is_datetime(text: str) -> bool:
    return DATETIME_RE.fullmatch(text) is not None


def instant_ms(text: str) -> int | None:
    """The epoch milliseconds of text in the date or datetime form, else None."""
    if not (is_date(text) or is_datetime(text)):
        return None
    match = _PARTS.fullmatch(text)
    assert match is not None  # both forms are narrower than _PARTS
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    moment = dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                         int(second or 0), tzinfo=dt.UTC)
    if offset and offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        moment -= sign * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
    millis = int((fraction or "")[:3].ljust(3, "0"))
    return (moment - _EPOCH) // _MS + millis


def offset_ms(amount: int, unit: TimeUnit) -> int:
    return amount * UNIT_MS[unit]
