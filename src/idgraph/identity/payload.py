"""Checks that an item's text and JSON can be stored and read back as valid JSON. Pure.

Python's JSON parser accepts what cannot be stored or sent back: `NaN` and `Infinity` (a
response carrying them is not JSON), lone surrogates such as `\\ud800` (not encodable as UTF-8,
so Neo4j's driver refuses the whole transaction), nesting deep enough to exhaust the recursion
limit of every later reader. Each is found here, per item, with the path of the bad value.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from idgraph.identity.normalise import IdentityRejected

MAX_DEPTH = 32  # objects and lists nested in one payload
MAX_KEY_LENGTH = 256  # characters in one attribute or property name
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def payload_text(value: dict[str, Any], name: str) -> str:
    """The payload as compact JSON with sorted keys, or IdentityRejected naming the bad path:
    INVALID_PAYLOAD (too deep, a bad key), INVALID_NUMBER (NaN or ±Infinity) or INVALID_TEXT
    (a lone surrogate)."""
    _check_structure(value, name)
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False, default=str)
    except ValueError:  # NaN or Infinity (the fast check in C): find where, for the message
        raise _unwritable(value, name) from None
    if not text.isascii() and LONE_SURROGATE.search(text):
        raise _unwritable(value, name)
    return text


def _unwritable(value: Any, name: str) -> IdentityRejected:
    return _find_problem(value, name) or IdentityRejected(
        "INVALID_PAYLOAD", f"{name} cannot be written as JSON")


def _check_structure(value: Any, name: str) -> None:
    """Depth and keys. The common case is a quick walk without paths (it runs on every item
    of a bulk ingest); only a payload it refuses is walked again to name the bad path."""
    if not _well_shaped(value):
        raise _shape_problem(value, name)


def _well_shaped(value: Any) -> bool:
    """Nested at most MAX_DEPTH levels, every key a string of at most MAX_KEY_LENGTH. A loop,
    not recursion (the payload may be nested past the recursion limit), in plain statements:
    half the time of generator expressions, on every item of a bulk ingest."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if type(node) is dict:
            for key, child in node.items():
                if type(key) is not str or len(key) > MAX_KEY_LENGTH:
                    return False
                if type(child) is dict or type(child) is list:
                    stack.append((child, depth + 1))
        else:
            for child in node:
                if type(child) is dict or type(child) is list:
                    stack.append((child, depth + 1))
    return True


def _shape_problem(value: Any, path: str) -> IdentityRejected:
    """Why `_well_shaped` refused `value`, naming the path."""
    stack: list[tuple[Any, str, int]] = [(value, path, 1)]
    while stack:
        node, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            return IdentityRejected("INVALID_PAYLOAD",
                                    f"{where} is nested more than {MAX_DEPTH} levels deep")
        if type(node) is dict:
            for key in node:
                if (problem := _key_problem(key, where)) is not None:
                    return problem
        items = node.items() if type(node) is dict else enumerate(node)
        stack.extend((child, f"{where}.{key}" if type(node) is dict else f"{where}[{key}]",
                      depth + 1) for key, child in items
                     if type(child) is dict or type(child) is list)
    return IdentityRejected("INVALID_PAYLOAD", f"{path} cannot be written as JSON")


def _key_problem(key: Any, where: str) -> IdentityRejected | None:
    if type(key) is not str:
        return IdentityRejected("INVALID_PAYLOAD", f"{where}: key {key!r} is not a string")
    if len(key) > MAX_KEY_LENGTH:
        return IdentityRejected("INVALID_PAYLOAD", f"{where}: a key is over {MAX_KEY_LENGTH} "
                                f"characters ({key[:40]!r}…)")
    return None


def _find_problem(value: Any, path: str) -> IdentityRejected | None:
    """The first non-finite number or lone surrogate in `value` (its depth is bounded)."""
    if isinstance(value, float) and not math.isfinite(value):
        return IdentityRejected("INVALID_NUMBER", f"{path} is {value!r}: JSON has no NaN or "
                                "Infinity; send null or leave the value out")
    if isinstance(value, str) and LONE_SURROGATE.search(value):
        return IdentityRejected("INVALID_TEXT", f"{path} contains a lone surrogate (not valid "
                                "Unicode text)")
    if isinstance(value, dict):
        for key in value:
            if LONE_SURROGATE.search(key):
                return IdentityRejected("INVALID_TEXT", f"{path}: a key contains a lone "
                                        "surrogate (not valid Unicode text)")
        children = [(f"{path}.{key}", child) for key, child in value.items()]
    elif isinstance(value, list):
        children = [(f"{path}[{n}]", child) for n, child in enumerate(value)]
    else:
        return None
    return next((found for where, child in children
                 if (found := _find_problem(child, where)) is not None), None)

