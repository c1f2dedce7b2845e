"""Roles and the per-field permission check every resolver declares."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info


class Role(StrEnum):
    APP = "app"  # front-end apps: read a profile by identity
    PARTNER = "partner"  # integration partners: ingest, resolve, export
    ANALYST = "analyst"  # segments, previews, metrics, saved queries; read-only
    ADMIN = "admin"  # merge policies, namespaces, deletion, keys (and everything else)


def allow(*roles: Role) -> type[BasePermission]:
    """A permission class admitting `roles` (admins are always admitted)."""
    allowed = frozenset(roles) | {Role.ADMIN}
    names = ", ".join(sorted(r.value for r in allowed))

    class Allowed(BasePermission):
        roles = allowed
        message = f"Forbidden: this operation needs one of the roles {names}."
        error_extensions = {"code": "FORBIDDEN"}

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            return getattr(info.context, "role", None) in allowed

    Allowed.__name__ = f"Allow_{'_'.join(sorted(r.value for r in allowed))}"
    return Allowed
