"""Readable Cypher for compiled rules: one condition per line, nested junctions indented.

The compiler builds a small tree of fragments (`Text`, `Junction`, `Negation`) and `render`
lays it out. A `Text` may span lines (a subquery); its lines are indented relative to where it
is placed.
"""

from __future__ import annotations

from dataclasses import dataclass

STEP = "  "


@dataclass(frozen=True)
class Text:
    """A Cypher expression; its inner lines are indented relative to its first."""

    text: str


@dataclass(frozen=True)
class Junction:
    op: str  # "AND" or "OR"
    parts: tuple[Fragment, ...]


@dataclass(frozen=True)
class Negation:
    """NOT of a part that may be null: `NOT coalesce(part, false)` (see compiler)."""

    part: Fragment


Fragment = Text | Junction | Negation


def junction(op: str, parts: list[Fragment]) -> Fragment:
    """Parts joined by `op`, nested junctions of the same op spliced in."""
    flat: list[Fragment] = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, Junction) and part.op == op else [part])
    return flat[0] if len(flat) == 1 else Junction(op, tuple(flat))


def render(fragment: Fragment, indent: str) -> str:
    """The fragment's text, continuation lines starting with `indent`."""
    if isinstance(fragment, Text):
        return fragment.text.replace("\n", "\n" + indent)
    if isinstance(fragment, Junction):
        return f"\n{indent}{fragment.op} ".join(_operand(p, indent) for p in fragment.parts)
    inner = fragment.part
    if isinstance(inner, Junction):
        return f"NOT coalesce({_block(inner, indent)}, false)"
    return f"NOT coalesce({render(inner, indent)}, false)"


def _operand(fragment: Fragment, indent: str) -> str:
    return _block(fragment, indent) if isinstance(fragment, Junction) else render(fragment, indent)


def _block(fragment: Junction, indent: str) -> str:
    inner = indent + STEP
    return f"(\n{inner}{render(fragment, inner)}\n{indent})"


def where(fragment: Fragment | None, indent: str = STEP) -> str:
    """`WHERE …` for a fragment (empty for None)."""
    return "" if fragment is None else f"WHERE {render(fragment, indent)}"
