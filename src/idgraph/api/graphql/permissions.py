"""The per-field permission check every resolver declares (roles live in auth/roles.py)."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from idgraph.api.graphql.context import Context
from idgraph.auth.roles import Role

__all__ = ["Role", "allow"]


def allow(*roles: Role) -> type[BasePermission]:
    """A permission class admitting `roles` (admins are always admitted)."""
    allowed = frozenset(roles) | {Role.ADMIN}
    names = ", ".join(sorted(r.value for r in allowed))

    class Allowed(BasePermission):
        roles = allowed
        message = f"Forbidden: this operation needs one of the roles {names}."
        error_extensions = {"code": "FORBIDDEN"}

        def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
            return getattr(info.context, "role", None) in allowed

    Allowed.__name__ = f"Allow_{'_'.join(sorted(r.value for r in allowed))}"
    return Allowed
