"""Validation of ingest items (records and events) into normalised, storable form. Pure."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

from idgraph.identity.namespaces import NamespaceRegistry
from idgraph.identity.normalise import IdentityKey, IdentityRejected, normalise_identity
from idgraph.profile.attributes import stored_leaves

# (namespace, raw value) -> the normalised key, or IdentityRejected
Normalise = Callable[[Any, Any], IdentityKey]
# A record's attributes -> the same with declared paths typed, or ValueError naming the path
# (profile/attributes.py `AttributeSchema.typed`; passed in, identity/ knows no profiles).
TypeAttributes = Callable[[dict[str, Any]], dict[str, Any]]
# Between the source and the record or event id in an item's key.
KEY_SEPARATOR = "|"
# An event's storable property values are also node properties named by this prefix and their
# dotted path (`p.value`, `p.cart.total`), so segment rules filter events without parsing JSON.
EVENT_PROPERTY_PREFIX = "p."


@dataclass(frozen=True)
class Limits:
    max_identities: int = 20
    max_record_bytes: int = 100_000
    max_event_bytes: int = 10_000
    default_region: str = "US"


@dataclass(frozen=True, slots=True)
class Item:
    """A valid record (kind "record") or event (kind "event"), identities normalised."""

    kind: str
    source: str
    item_id: str
    ts: int  # epoch milliseconds
    identities: tuple[IdentityKey, ...]
    payload: str  # attributes (records) or properties (events) as a JSON object
    event_type: str | None = None
    # Derived once: an ingest reads them several times per item (rows, batching, clustering).
    key: str = field(init=False, repr=False, compare=False)
    identity_keys: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _pairs: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = tuple(i.key for i in self.identities)
        object.__setattr__(self, "key", f"{self.source}{KEY_SEPARATOR}{self.item_id}")
        object.__setattr__(self, "identity_keys", keys)
        object.__setattr__(self, "_pairs", tuple(combinations(sorted(keys), 2)))

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """Every pair of identities seen together: the link evidence this item carries."""
        return self._pairs


def event_property_columns(payload: str) -> dict[str, Any]:
    """An event's properties JSON as node properties: `p.<path>` for each storable value."""
    if payload == "{}":
        return {}
    return {EVENT_PROPERTY_PREFIX + path: value
            for path, value in stored_leaves(json.loads(payload)).items()}


@dataclass(frozen=True)
class Rejection:
    index: int
    code: str
    message: str


def to_millis(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("timestamp must be a date-time")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp() * 1000)
    raise ValueError("timestamp must be an ISO-8601 date-time or epoch milliseconds")


def validate_item(raw: dict[str, Any], kind: str, registry: NamespaceRegistry,
                  limits: Limits, normalise: Normalise | None = None,
                  type_attributes: TypeAttributes | None = None) -> Item:
    """Return the normalised item, or raise IdentityRejected with a stable code. `normalise`:
    how identities are normalised (a memoising `Normaliser`; by default `normalise_identity`
    under `registry` and the limits' region). `type_attributes`: how a record's attributes
    are typed (none: stored as given)."""
    id_field, payload_field = ("recordId", "attributes") if kind == "record" else (
        "eventId", "properties")
    source = _required_text(raw, "source")
    if KEY_SEPARATOR in source:
        # An item's key is `source|id`: source "a|b" with id "c" and source "a" with id "b|c"
        # would be one key, and the second item would be taken for a re-ingest of the first.
        raise IdentityRejected("INVALID_SOURCE",
                               f"source must not contain {KEY_SEPARATOR!r} (it separates the "
                               "source from the id in an item's key)")
    item_id = _required_text(raw, id_field)
    event_type = _required_text(raw, "type") if kind == "event" else None
    try:
        ts = to_millis(raw.get("timestamp"))
    except (ValueError, TypeError, OverflowError) as exc:
        raise IdentityRejected("INVALID_TIMESTAMP", f"timestamp: {exc}") from exc
    normalise = normalise or (lambda namespace, value: normalise_identity(
        registry, namespace, value, limits.default_region))
    identities = _identities(raw.get("identities"), normalise, limits)
    value = raw.get(payload_field)
    if kind == "record" and type_attributes is not None and isinstance(value, dict):
        value = _typed_attributes(value, type_attributes)
    payload = _payload(value, payload_field, kind, limits)
    return Item(kind, source, item_id, ts, identities, payload, event_type)


def _required_text(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        raise IdentityRejected("MISSING_FIELD", f"{name} is required")
    if len(value) > 256:
        raise IdentityRejected("VALUE_TOO_LONG", f"{name} is over 256 characters")
    return value.strip()


def _identities(raw: Any, normalise: Normalise, limits: Limits) -> tuple[IdentityKey, ...]:
    if not isinstance(raw, list) or not raw:
        raise IdentityRejected("NO_IDENTITIES", "at least one identity is required")
    if len(raw) > limits.max_identities:
        raise IdentityRejected("TOO_MANY_IDENTITIES",
                               f"{len(raw)} identities; at most {limits.max_identities} allowed")
    keys: set[IdentityKey] = set()
    for position, ident in enumerate(raw):
        if not isinstance(ident, dict):
            raise IdentityRejected("INVALID_IDENTITY", f"identities[{position}] is not an object")
        try:
            keys.add(normalise(ident.get("namespace", ""), ident.get("value", "")))
        except IdentityRejected as exc:
            raise IdentityRejected(exc.code, f"identities[{position}]: {exc}") from None
    return tuple(sorted(keys))


def _typed_attributes(attributes: dict[str, Any], type_attributes: TypeAttributes,
                      ) -> dict[str, Any]:
    try:
        return type_attributes(attributes)
    except ValueError as exc:
        raise IdentityRejected("INVALID_ATTRIBUTE", f"attributes.{exc}") from None


def _payload(value: Any, name: str, kind: str, limits: Limits) -> str:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise IdentityRejected("INVALID_PAYLOAD", f"{name} must be a JSON object")
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    limit = limits.max_record_bytes if kind == "record" else limits.max_event_bytes
    if len(text.encode()) > limit:
        raise IdentityRejected("TOO_LARGE", f"{kind} is over {limit} bytes")
    return text
