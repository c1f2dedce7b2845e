"""The attribute schema: declared types of merged-profile attribute paths.

Configured like namespaces (a YAML file, `IDGRAPH_ATTRIBUTES_FILE`; the shipped default is
`attributes.yaml` beside this module). It is used to coerce CSV cells (CSV has no types: every
cell is text) and to check segment rules at creation (`age > "fifty"` names the attribute).
Undeclared paths keep working untyped.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from idgraph.profile.merge import flatten

PATH_PART = r"[A-Za-z][A-Za-z0-9_]{0,63}"
ATTRIBUTE_PATH = re.compile(rf"{PATH_PART}(?:\.{PATH_PART}){{0,7}}")
INT64 = (-(2**63), 2**63 - 1)
_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f"}


class AttributeType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"  # stored as ISO text "YYYY-MM-DD"
    DATETIME = "datetime"  # stored as ISO 8601 text with an offset ("...Z" or "+02:00")


class AttributeSchema(BaseModel, frozen=True):
    """Declared types by dotted attribute path."""

    attributes: dict[str, AttributeType] = Field(default_factory=dict)

    def type_of(self, path: str) -> AttributeType | None:
        return self.attributes.get(path)

    def coerce(self, path: str, text: str) -> Any:
        """A CSV cell as the declared type of its path (text when undeclared).
        Raises ValueError with a reason a partner can act on."""
        kind = self.type_of(path)
        return text if kind is None else coerce_text(kind, text)


def coerce_text(kind: AttributeType, text: str) -> Any:
    value = text.strip()
    if kind is AttributeType.STRING:
        return text
    if kind is AttributeType.NUMBER:
        return _number(value)
    if kind is AttributeType.BOOLEAN:
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ValueError(f"{text!r} is not a boolean (true/false, yes/no, 1/0)")
    if kind is AttributeType.DATE:
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a datetime (ISO 8601)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.isoformat().replace("+00:00", "Z")


def _number(value: str) -> int | float:
    if len(value) > 40:
        raise ValueError("a number of more than 40 characters")
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def storable(value: Any) -> bool:
    """A Neo4j property value: a scalar, or a non-empty list of scalars of one type."""
    if isinstance(value, list):
        kinds = {type(x) for x in value}
        return len(kinds) == 1 and all(_scalar(x) for x in value)
    return _scalar(value)


def _scalar(value: Any) -> bool:
    if isinstance(value, bool | str | float):
        return True
    return isinstance(value, int) and INT64[0] <= value <= INT64[1]


def stored_leaves(obj: dict[str, Any]) -> dict[str, Any]:
    """The values of a nested object that node properties hold, by dotted path: leaves whose
    path matches ATTRIBUTE_PATH and whose value is storable (as the materialised view keeps
    attributes, and events keep their properties)."""
    return {path: value for path, value in flatten(obj).items()
            if ATTRIBUTE_PATH.fullmatch(path) and storable(value)}


def load_attribute_schema(path: Path | None = None) -> AttributeSchema:
    """The schema from `path`, or the one shipped with idgraph."""
    if path is None:
        text = resources.files("idgraph.profile").joinpath("attributes.yaml").read_text()
    else:
        text = Path(path).read_text()
    data = yaml.safe_load(text) or {}
    schema = AttributeSchema.model_validate(data)
    bad = [p for p in schema.attributes if not ATTRIBUTE_PATH.fullmatch(p)]
    if bad:
        raise ValueError(f"invalid attribute paths in the attribute schema: {bad}")
    return schema
