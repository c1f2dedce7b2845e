"""Change events as JSON text for the outbox (pipeline/outbox.py), and back.

Generic over the event dataclass: its fields are read from its type hints (text, numbers,
enums, tuples, nested dataclasses), so a field added to `ProfileEvent` travels without a change
here. Fields at their default are left out (entries stay small); fields a reader does not know
(written by a newer version during a rolling upgrade) are ignored.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Sequence
from enum import Enum
from typing import Any

from idgraph.pipeline.changeset import ProfileEvent


def encode(events: Sequence[ProfileEvent]) -> str:
    return json.dumps([_plain(event) for event in events], separators=(",", ":"))


def decode(text: str) -> list[ProfileEvent]:
    return [_build(ProfileEvent, row) for row in json.loads(text)]


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if getattr(value, f.name) != f.default}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _build(cls: type[Any], data: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    return cls(**{name: _typed(hints[name], value) for name, value in data.items()
                  if name in hints})


def _typed(hint: Any, value: Any) -> Any:
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        return tuple(_typed(item, v) for v in value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value)
    return value
