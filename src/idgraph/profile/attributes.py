"""The attribute schema: declared types of merged-profile attribute paths.

Configured like namespaces (a YAML file, `IDGRAPH_ATTRIBUTES_FILE`; the shipped default is
`attributes.yaml` beside this module). Every ingested record's attributes go through `typed`
(CSV, JSON Lines and the GraphQL mutation alike): a value of a declared path is kept when it has
the declared type and read by the CSV rules when it is text (CSV has no types: every cell is
text), so `age > 50` matches whatever the format. It also checks segment rules at creation
(`age > "fifty"` names the attribute). Undeclared paths keep working untyped.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

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

    def typed(self, attributes: dict[str, Any]) -> dict[str, Any]:
        """A record's attributes with every declared path's value as its type (`coerce_value`);
        the input is never changed (a copy is made when a value is). Raises ValueError naming
        the path and the reason."""
        return _typed(self._tree, attributes, "")

    @cached_property
    def _tree(self) -> dict[str, Any]:
        """The declared paths as nested dicts (leaves: their types): read for every record."""
        tree: dict[str, Any] = {}
        for path, kind in self.attributes.items():
            *parents, leaf = path.split(".")
            node = tree
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = kind
        return tree


def _typed(tree: dict[str, Any], attributes: dict[str, Any], prefix: str) -> dict[str, Any]:
    out = attributes
    for name, node in tree.items():
        if name not in attributes:
            continue
        value = attributes[name]
        if isinstance(node, dict):
            # Deeper paths are declared: only an object holds them (else they are absent).
            new = _typed(node, value, f"{prefix}{name}.") if isinstance(value, dict) else value
        else:
            try:
                new = coerce_value(node, value)
            except ValueError as exc:
                raise ValueError(f"{prefix}{name}: {exc}") from None
        if new is value or (type(new) is type(value) and new == value):
            continue
        if out is attributes:
            out = dict(attributes)
        out[name] = new
    return out


def coerce_value(kind: AttributeType, value: Any) -> Any:
    """A JSON value as `kind`: a value of the type is kept, text is read by the CSV rules
    (`coerce_text`), a number or boolean of another type is read as its JSON text, null stays
    null; an object or a list is refused."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        shape = "an object" if isinstance(value, dict) else "a list"
        raise ValueError(f"a {kind.value} is declared, not {shape}")
    if isinstance(value, bool):
        return value if kind is AttributeType.BOOLEAN else coerce_text(kind, str(value).lower())
    if isinstance(value, int | float):
        if kind is AttributeType.NUMBER:
            if not math.isfinite(value):
                raise ValueError(f"{value!r} is not a finite number")
            return value
        return coerce_text(kind, json.dumps(value))
    if isinstance(value, str):
        return coerce_text(kind, value)
    raise ValueError(f"a {kind.value} is declared, not {type(value).__name__}")


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


class AttributeSchemaError(ValueError):
    """The attribute schema file cannot be used; the message says which file and why."""


def load_attribute_schema(path: Path | None = None) -> AttributeSchema:
    """The schema from `path`, or the one shipped with idgraph. Raises AttributeSchemaError."""
    where = str(path) if path is not None else "the shipped attributes.yaml"
    try:
        if path is None:
            text = resources.files("idgraph.profile").joinpath("attributes.yaml").read_text()
        else:
            text = Path(path).read_text()
        data = yaml.safe_load(text) or {}
        schema = AttributeSchema.model_validate(data)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValidationError) as exc:
        raise AttributeSchemaError(f"attribute schema {where}: {_reason(exc)}") from exc
    _check_paths(schema, where)
    return schema


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}"
                         for e in exc.errors())
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc).replace("\n", " ")


def _check_paths(schema: AttributeSchema, where: str) -> None:
    bad = [p for p in schema.attributes if not ATTRIBUTE_PATH.fullmatch(p)]
    if bad:
        raise AttributeSchemaError(f"attribute schema {where}: invalid attribute paths {bad} "
                                   "(dotted names of letters, digits and _)")
    # A value is either an object holding deeper paths or a scalar of a type, never both.
    both = sorted(p for p in schema.attributes
                  if any(other.startswith(p + ".") for other in schema.attributes))
    if both:
        raise AttributeSchemaError(f"attribute schema {where}: {both} declared both as a "
                                   "value and as an object of declared paths")
