"""The roles an API key grants; every GraphQL field declares which of them may call it."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    APP = "app"  # front-end apps: read a profile by identity
    PARTNER = "partner"  # integration partners: ingest, resolve, export
    ANALYST = "analyst"  # segments, previews, metrics, saved queries; read-only
    ADMIN = "admin"  # merge policies, namespaces, deletion, keys (and everything else)
