"""Normalisation and validation of one identity value: pure functions, no I/O."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import phonenumbers

from idgraph.identity.namespaces import Namespace, NamespaceRegistry, Normalisation

MAX_VALUE_LENGTH = 1024
MAX_NAMESPACE_LENGTH = 64  # longer names are never configured: refused unremembered
# Normaliser's memory: about 150,000 typical identities (a file ingest holds up to 200,000
# lines; each identity is met twice, in planning and in validation).
MEMO_BYTES = 64 * 1024 * 1024
# Per remembered answer, besides its strings' characters: the key tuple, the dictionary slot and
# the answer object (an IdentityKey's three strings, or an exception), as sys.getsizeof counts.
ENTRY_OVERHEAD = 400
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
ALL_ZERO_RE = re.compile(r"^[0\-:.]+$")  # 0000..., 00000000-0000-..., 0:0:0 and so on
# C0 controls, DEL and lone surrogates (not encodable as UTF-8, so Neo4j's driver refuses the
# whole transaction): never part of an identity value, an id, a source or a type.
UNSAFE_TEXT = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


class IdentityRejected(ValueError):
    """An identity value that cannot be stored; `code` is stable for API clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, order=True, slots=True)
class IdentityKey:
    namespace: str
    value: str
    # `namespace:value`, the node key. Computed once: an ingest reads it many times per identity
    # (and slots keep a bulk ingest's many keys cheap for the garbage collector).
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.namespace}:{self.value}")


def check_text(value: str, name: str) -> str:
    """`value`, or IdentityRejected (INVALID_TEXT) when it holds a control character or a lone
    surrogate."""
    found = UNSAFE_TEXT.search(value)
    if found:
        char = found.group()
        what = ("a lone surrogate" if "\ud800" <= char <= "\udfff" else "a control character")
        raise IdentityRejected("INVALID_TEXT", f"{name} contains {what} (U+{ord(char):04X}) at "
                               f"position {found.start()}")
    return value


def normalise_identity(registry: NamespaceRegistry, namespace: str, raw: str,
                       default_region: str = "US") -> IdentityKey:
    """Normalise `raw` under its namespace, or raise IdentityRejected with the reason."""
    return IdentityKey(*normalised_pair(registry, namespace, raw, default_region))


def normalised_pair(registry: NamespaceRegistry, namespace: str, raw: str,
                    default_region: str = "US") -> tuple[str, str]:
    """`normalise_identity`'s (namespace, value) without the key object: a bulk resolve needs
    only the strings (making the object was a fifth of normalising an e-mail)."""
    ns = registry.get(namespace.strip().lower()) if isinstance(namespace, str) else None
    if ns is None:
        raise IdentityRejected("UNKNOWN_NAMESPACE", f"unknown namespace {_shown(namespace)}; "
                               f"known: {', '.join(registry.names())}")
    if not isinstance(raw, str):
        raise IdentityRejected("BLANK_VALUE", f"{ns.name} value must be a string, not "
                               f"{type(raw).__name__}")
    value = raw.strip()
    if not value:
        raise IdentityRejected("BLANK_VALUE", f"{ns.name} value is blank")
    if len(value) > MAX_VALUE_LENGTH:
        raise IdentityRejected("VALUE_TOO_LONG",
                               f"{ns.name} value is over {MAX_VALUE_LENGTH} characters")
    if UNSAFE_TEXT.search(value):  # (the message is made only for a value it refuses)
        check_text(value, f"{ns.name} value")
    if value.casefold() in registry.blocklist or ALL_ZERO_RE.match(value):
        raise IdentityRejected("BLOCKED_VALUE", f"{ns.name} value {value!r} is a known junk value")
    normalised = _apply(ns, value, default_region)
    if normalised.casefold() in registry.blocklist:
        raise IdentityRejected("BLOCKED_VALUE", f"{ns.name} value {value!r} is a known junk value")
    return ns.name, normalised


def _shown(value: object, limit: int = 64) -> str:
    """`value` for a message, cut short (a client may send a megabyte)."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value)} characters)"
    return repr(value)


class Normaliser:
    """`normalise_identity` under one registry and region, remembering recent answers: a bulk
    ingest meets each identity several times (a person's records, and for a file a first pass
    that plans the batches), and normalising (an e-mail's checks, a phone number's parse) is
    most of validating an item. Bounded by an estimate of the bytes it holds (the memory is
    dropped whole when it fills); values too long to store and unknown namespaces (a dictionary
    lookup to refuse) are answered without being remembered."""

    def __init__(self, registry: NamespaceRegistry, region: str,
                 max_bytes: int = MEMO_BYTES) -> None:
        self.registry = registry
        self.region = region
        self.max_bytes = max_bytes
        self.memo_bytes = 0  # estimated size of what `_known` holds
        self._known: dict[tuple[str, str], IdentityKey | IdentityRejected] = {}
        # The namespaces whose normalisation `pair` runs inline, by their exact names.
        self._inline = {ns.name: ns for ns in registry.namespaces if ns.normalise in INLINE_KINDS}

    def __call__(self, namespace: str, raw: str) -> IdentityKey:
        if not (isinstance(namespace, str) and isinstance(raw, str)) or (
                len(raw) > MAX_VALUE_LENGTH or len(namespace) > MAX_NAMESPACE_LENGTH):
            # Checked before anything is remembered: such a value is never stored anyway.
            return normalise_identity(self.registry, namespace, raw, self.region)
        known = self._known.get((namespace, raw))
        if known is None:
            try:
                known = normalise_identity(self.registry, namespace, raw, self.region)
            except IdentityRejected as exc:
                if exc.code == "UNKNOWN_NAMESPACE":
                    raise
                known = exc
            self._remember(namespace, raw, known)
        if isinstance(known, IdentityRejected):
            raise IdentityRejected(known.code, str(known))
        return known

    def pair(self, namespace: str, raw: str) -> tuple[str, str]:
        """The (namespace, value) `self(namespace, raw)` gives, or its IdentityRejected;
        remembered answers are used, new ones are not remembered. A bulk resolve meets 10,000
        identities at once, most of them once: making and remembering a key object for each
        was a third of normalising them."""
        if type(namespace) is str and type(raw) is str:
            known = self._known.get((namespace, raw))
            if isinstance(known, IdentityKey):
                return known.namespace, known.value
            if known is not None:
                raise IdentityRejected(known.code, str(known))
            # A namespace spelt exactly as configured is what `normalised_pair` would find
            # (names are lowercase, without spaces): a plain value passes its checks inline.
            ns = self._inline.get(namespace)
            if ns is not None:
                clean = _clean_pair(ns, raw, self.registry.blocklist)
                if clean is not None:
                    return clean
        return normalised_pair(self.registry, namespace, raw, self.region)

    def _remember(self, namespace: str, raw: str, known: IdentityKey | IdentityRejected) -> None:
        answer = len(known.key) * 2 if isinstance(known, IdentityKey) else len(str(known))
        size = ENTRY_OVERHEAD + len(namespace) + len(raw) + answer
        if self.memo_bytes + size > self.max_bytes:
            self._known.clear()
            self.memo_bytes = 0
        self._known[(namespace, raw)] = known
        self.memo_bytes += size


# Normalisations `_clean_pair` runs inline (no parsing, no hashing).
INLINE_KINDS = frozenset({Normalisation.TRIM, Normalisation.LOWERCASE, Normalisation.EMAIL})


def _clean_pair(ns: Namespace, raw: str, blocklist: frozenset[str]) -> tuple[str, str] | None:
    """`normalised_pair` of a value every check passes, its steps in its order without its
    calls (a third of the time, 10,000 identities at a time); None for any value a check
    would refuse: `normalised_pair` then says why."""
    value = raw.strip()
    if (not value or len(value) > MAX_VALUE_LENGTH or UNSAFE_TEXT.search(value)
            or value.casefold() in blocklist or ALL_ZERO_RE.match(value)):
        return None
    kind = ns.normalise
    if kind is Normalisation.EMAIL:
        normalised = value.strip().lower()  # normalise_email's own steps
        if not EMAIL_RE.match(normalised):
            return None
    else:
        normalised = value.lower() if kind is Normalisation.LOWERCASE else value
    if normalised.casefold() in blocklist:
        return None
    return ns.name, normalised


def _apply(ns: Namespace, value: str, region: str) -> str:
    kind = ns.normalise
    if kind is Normalisation.TRIM:
        return value
    if kind is Normalisation.LOWERCASE:
        return value.lower()
    if kind is Normalisation.EMAIL:
        return normalise_email(value)
    if kind is Normalisation.PHONE:
        return normalise_phone(value, region)
    if kind is Normalisation.EMAIL_SHA256:
        return _hashed(value, lambda v: normalise_email(v))
    return _hashed(value, lambda v: normalise_phone(v, region))


def normalise_email(value: str) -> str:
    email = value.strip().lower()
    if not EMAIL_RE.match(email):
        raise IdentityRejected("MALFORMED_EMAIL", f"{value!r} is not an e-mail address")
    return email


def normalise_phone(value: str, region: str) -> str:
    """E.164 (`+46701234567`); national numbers are read in the configured default region."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise IdentityRejected("MALFORMED_PHONE", f"{value!r} is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise IdentityRejected("MALFORMED_PHONE", f"{value!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _hashed(value: str, normalise: Callable[[str], str]) -> str:
    """Already-hashed values pass through (lowercased); plain ones are normalised, then hashed."""
    if SHA256_RE.match(value.lower()):
        return value.lower()
    return hashlib.sha256(normalise(value).encode()).hexdigest()
