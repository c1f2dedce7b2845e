"""API key values: generation, hashing, start-up keys from settings, loopback detection."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from dataclasses import dataclass

from idgraph.auth.roles import Role
from idgraph.errors import InvalidInput

KEY_PREFIX = "idg_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id (never the key itself) and its role."""

    key_id: str
    role: Role
    name: str = ""


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # Keys are long random strings, so a fast unsalted hash is enough: no dictionary to attack.
    return hashlib.sha256(key.encode()).hexdigest()


def parse_static_keys(spec: str) -> dict[str, Principal]:
    """`key:role,key:role` (from IDGRAPH_API_KEYS) as {sha256: Principal}."""
    keys: dict[str, Principal] = {}
    for index, item in enumerate(part.strip() for part in spec.split(",")):
        if not item:
            continue
        key, sep, role = item.rpartition(":")
        if not sep or not key:
            raise InvalidInput(f"IDGRAPH_API_KEYS entry {index + 1} is not key:role")
        try:
            parsed = Role(role.strip().lower())
        except ValueError:
            raise InvalidInput(f"IDGRAPH_API_KEYS entry {index + 1} has unknown role {role!r}; "
                               f"use one of {', '.join(r.value for r in Role)}") from None
        digest = hash_key(key)
        keys[digest] = Principal(f"static-{digest[:12]}", parsed, f"static key {index + 1}")
    return keys


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
