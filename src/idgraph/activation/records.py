"""Export records: what one profile becomes in an export (pure).

A record is `{profileId, [status, changedAt,] identities: {namespace: [values]},
attributes: {path: value}, [segments: [ids]]}`; HTTP and JSON Lines send it as it is, CSV
and Parquet flatten it to columns (`identity.<namespace>`, `attribute.<path>`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from idgraph.activation.destinations import HEADER_NAME
from idgraph.errors import InvalidInput
from idgraph.profile.attributes import ATTRIBUTE_PATH, AttributeType

MAX_COLUMNS = 200
NAMESPACE = HEADER_NAME  # namespace names are simple tokens too


@dataclass(frozen=True)
class Columns:
    """What each record carries: chosen namespaces and attribute paths (with declared types),
    membership columns (a segment export) or the profile's segments (a profile export)."""

    namespaces: tuple[str, ...]
    attributes: tuple[str, ...]
    types: tuple[AttributeType | None, ...]
    membership: bool
    segments: bool

    def flat_names(self) -> list[str]:
        head = ["profile_id"] + (["status", "changed_at"] if self.membership else [])
        return (head + [f"identity.{n}" for n in self.namespaces]
                + [f"attribute.{a}" for a in self.attributes]
                + (["segments"] if self.segments else []))


def columns(namespaces: Sequence[str], attributes: Sequence[str],
            types: dict[str, AttributeType], membership: bool) -> Columns:
    """Checked choices: known-shaped names, no duplicates, a bounded count."""
    if len(namespaces) + len(attributes) > MAX_COLUMNS:
        raise InvalidInput(f"At most {MAX_COLUMNS} identities and attributes in one export.")
    for ns in namespaces:
        if not NAMESPACE.fullmatch(ns):
            raise InvalidInput(f"{ns[:64]!r} is not a namespace name.")
    for path in attributes:
        if not ATTRIBUTE_PATH.fullmatch(path):
            raise InvalidInput(f"{path[:64]!r} is not an attribute path (a.b.c).")
    chosen, attrs = _unique(namespaces), _unique(attributes)
    return Columns(chosen, attrs, tuple(types.get(a) for a in attrs), membership,
                   segments=not membership)


def record(row: dict[str, Any], cols: Columns, incremental: bool) -> dict[str, Any] | None:
    """One profile's record, or None when it has none of the chosen identities (skipped)."""
    identities = _identities(row.get("keys") or (), cols.namespaces)
    if not any(identities.values()):
        return None
    merged = json.loads(row["json"]) if row.get("json") else {}
    out: dict[str, Any] = {"profileId": row["id"]}
    if cols.membership:
        out["status"] = status_of(row["status"], incremental)
        out["changedAt"] = iso(row["changedAt"])
    out["identities"] = identities
    out["attributes"] = {path: pick(merged, path) for path in cols.attributes}
    if cols.segments:
        out["segments"] = sorted(row.get("segments") or [])
    return out


def status_of(stored: str, incremental: bool) -> str:
    """A delta says `realized` for every current member (a partner has not seen it yet) and
    `exited`; a full export says what is stored."""
    if incremental and stored != "exited":
        return "realized"
    return stored


def flat(rec: dict[str, Any], cols: Columns) -> dict[str, Any]:
    """The record as CSV/Parquet columns."""
    out: dict[str, Any] = {"profile_id": rec["profileId"]}
    if cols.membership:
        out["status"], out["changed_at"] = rec["status"], rec["changedAt"]
    for ns in cols.namespaces:
        out[f"identity.{ns}"] = rec["identities"][ns]
    for path in cols.attributes:
        out[f"attribute.{path}"] = rec["attributes"][path]
    if cols.segments:
        out["segments"] = rec["segments"]
    return out


def pick(obj: Any, path: str) -> Any:
    """The value at a dotted path of the merged attributes (None when absent)."""
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


@functools.lru_cache(maxsize=4096)
def iso(ms: int | None) -> str | None:
    # Cached: the members of one evaluation share its instant, so an audience's change times
    # are few (formatting each row's anew was 4% of a 1,000,000-row export's CPU).
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _identities(keys: Iterable[str], namespaces: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {ns: [] for ns in namespaces}
    for key in keys:
        ns, _, value = key.partition(":")
        if ns in found:
            found[ns].append(value)
    return {ns: sorted(values) for ns, values in found.items()}


def _unique(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))
