"""Identity namespaces as configuration: type, normalisation, uniqueness, priority."""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, Field


class NamespaceType(StrEnum):
    PERSON = "person"
    DEVICE = "device"
    COOKIE = "cookie"
    PARTNER = "partner"


class Normalisation(StrEnum):
    TRIM = "trim"
    LOWERCASE = "lowercase"
    EMAIL = "email"
    PHONE = "phone"
    EMAIL_SHA256 = "email_sha256"
    PHONE_SHA256 = "phone_sha256"


class Namespace(BaseModel, frozen=True):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    type: NamespaceType
    normalise: Normalisation = Normalisation.TRIM
    unique: bool = False
    priority: int = Field(ge=1)


class NamespaceRegistry(BaseModel, frozen=True):
    namespaces: tuple[Namespace, ...]
    blocklist: frozenset[str] = frozenset()

    def get(self, name: str) -> Namespace | None:
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, Namespace]:
        # Looked up several times per identity at ingest: built once, not per call.
        return {ns.name: ns for ns in self.namespaces}

    def names(self) -> list[str]:
        return [ns.name for ns in self.namespaces]

    def priority(self, name: str) -> int:
        ns = self.get(name)
        return ns.priority if ns else 1_000_000

    def is_unique(self, name: str) -> bool:
        ns = self.get(name)
        return bool(ns and ns.unique)


def load_registry(path: Path | None = None) -> NamespaceRegistry:
    """The shipped defaults, or a YAML file of the same shape."""
    if path is None:
        text = resources.files("idgraph.identity").joinpath("namespaces.yaml").read_text()
    else:
        text = Path(path).read_text()
    raw = yaml.safe_load(text)
    blocklist = frozenset(str(v).strip().casefold() for v in raw.get("blocklist") or [])
    # YAML reads a bare `null` as None; block-listing it means the string "null".
    blocklist |= {"null"} if None in (raw.get("blocklist") or []) else frozenset()
    return NamespaceRegistry(namespaces=tuple(Namespace(**ns) for ns in raw["namespaces"]),
                             blocklist=blocklist)
