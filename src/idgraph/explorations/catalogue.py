"""The saved explorations: `cypher/queries/*.cypher`, each opening with a header that says what
it answers and declares its parameters (YAML inside `//` comments, ended by `// ---`):

    // title: Largest clusters
    // answers: Which profiles hold the most identities, and of which namespaces?
    // params:
    //   limit: {type: int, default: 20, doc: how many profiles}
    // ---
    MATCH (p:Profile) ...

A parameter without `default` is required. Types: int, float, string, bool, strings (a list;
comma-separated on the command line) and datetime (ISO 8601, or relative to now: `now`,
`-7d`, `-12h`, `-30m`; passed to Cypher as epoch milliseconds, the graph's time unit).
Every `$name` the Cypher uses must be declared, and every declared one used.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from idgraph.errors import InvalidInput

NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
PARAMETER_USE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
RELATIVE = re.compile(r"-(\d{1,6})([dhm])")
UNIT_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000}
HEADER_END = "---"
TRUE, FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}
ParamType = Literal["int", "float", "string", "bool", "strings", "datetime"]


class ParamSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ParamType
    default: Any = None  # absent from the header (not merely null): the parameter is required
    doc: str = ""

    @property
    def required(self) -> bool:
        return "default" not in self.model_fields_set


class Header(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1)
    answers: str = Field(min_length=1)
    params: dict[str, ParamSpec] = Field(default_factory=dict)


class CatalogueError(ValueError):
    """A saved query file is malformed: its message names the file and what to fix."""


@dataclass(frozen=True)
class SavedQuery:
    name: str
    title: str
    answers: str
    params: dict[str, ParamSpec]
    cypher: str  # the statement, header removed
    path: Path

    def bind(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Cypher parameters from the caller's values (text or JSON) and the defaults."""
        unknown = sorted(set(given) - set(self.params))
        if unknown:
            raise InvalidInput(f"`{self.name}` has no parameter {', '.join(unknown)}; it takes "
                               f"{', '.join(self.params) or 'none'}.")
        bound = {}
        for name, spec in self.params.items():
            if name in given:
                bound[name] = coerce(name, spec.type, given[name])
            elif spec.required:
                raise InvalidInput(f"`{self.name}` needs the parameter `{name}` ({spec.type}): "
                                   f"{spec.doc or 'no description'}.")
            else:
                bound[name] = None if spec.default is None else coerce(name, spec.type,
                                                                        spec.default)
        return bound


def parse(path: Path, text: str) -> SavedQuery:
    """A saved query from its file's text; CatalogueError when the header is wrong."""
    name = path.stem
    if not NAME.fullmatch(name):
        raise CatalogueError(f"{path}: a saved query's file name must match {NAME.pattern}")
    lines = text.splitlines()
    try:
        end = next(n for n, line in enumerate(lines) if line.strip() == f"// {HEADER_END}")
    except StopIteration:
        raise CatalogueError(f"{path}: no header (comment lines ending with `// ---`)") from None
    if any(not line.startswith("//") for line in lines[:end]):
        raise CatalogueError(f"{path}: every header line must start with `//`")
    try:
        header = Header.model_validate(yaml.safe_load(
            "\n".join(line[2:].removeprefix(" ") for line in lines[:end])))
    except (yaml.YAMLError, ValidationError) as exc:
        raise CatalogueError(f"{path}: bad header: {exc}") from None
    cypher = "\n".join(lines[end + 1:]).strip()
    _check_parameters(path, header, cypher)
    return SavedQuery(name, header.title, " ".join(header.answers.split()), header.params,
                      cypher, path)


def _check_parameters(path: Path, header: Header, cypher: str) -> None:
    used = set(PARAMETER_USE.findall(_without_comments(cypher)))
    if undeclared := sorted(used - set(header.params)):
        raise CatalogueError(f"{path}: uses undeclared parameters {', '.join(undeclared)}")
    if unused := sorted(set(header.params) - used):
        raise CatalogueError(f"{path}: declares unused parameters {', '.join(unused)}")
    for name, spec in header.params.items():
        if not spec.required and spec.default is not None:
            try:
                coerce(name, spec.type, spec.default)
            except InvalidInput as exc:
                raise CatalogueError(f"{path}: bad default: {exc}") from None


def _without_comments(cypher: str) -> str:
    return "\n".join(line.split("//", 1)[0] for line in cypher.splitlines())


def load(folders: Iterable[Path]) -> dict[str, SavedQuery]:
    """Every saved query of `folders`, by name; a later folder's file replaces an earlier's."""
    found: dict[str, SavedQuery] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.cypher")):
            found[path.stem] = parse(path, path.read_text())
    return dict(sorted(found.items()))


def coerce(name: str, kind: ParamType, value: Any) -> Any:
    """`value` (command-line text or a JSON value) as the declared type; InvalidInput if not."""
    try:
        return _COERCE[kind](value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"parameter `{name}` must be {_DESCRIBE[kind]}; got {value!r}"
                           ) from exc


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    return int(value.strip() if isinstance(value, str) else value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    return float(value)


def _to_string(value: Any) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise TypeError(value)
    return str(value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE | FALSE:
        return text in TRUE
    raise ValueError(value)


def _to_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [_to_string(item) for item in value]
    raise TypeError(value)


def to_epoch_ms(value: Any, now_ms: int | None = None) -> int:
    """ISO 8601 (a date, or a time without zone, is UTC), `now`, or `-<n>d|h|m` from now."""
    if not isinstance(value, str):
        raise TypeError(value)
    text = value.strip()
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if text == "now":
        return now
    if match := RELATIVE.fullmatch(text):
        return now - int(match.group(1)) * UNIT_MS[match.group(2)]
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


_COERCE = {"int": _to_int, "float": _to_float, "string": _to_string, "bool": _to_bool,
           "strings": _to_strings, "datetime": to_epoch_ms}
_DESCRIBE = {"int": "an integer", "float": "a number", "string": "a string",
             "bool": "true or false", "strings": "a list of strings (a,b,c)",
             "datetime": "an ISO 8601 time (2025-01-31T12:00:00Z), `now` or `-7d`/`-12h`/`-30m`"}
