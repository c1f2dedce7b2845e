"""GraphQL for API keys (admin only): create (the secret is shown once), list, revoke."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from idgraph.api.graphql.context import Context
from idgraph.api.graphql.limits import DEFAULT_PAGE_SIZE, page_size
from idgraph.api.graphql.permissions import Role, allow
from idgraph.auth.service import ApiKeyService
from idgraph.errors import IdgraphError, InvalidInput

ApiRole = strawberry.enum(Role, name="ApiRole", description=(
    "What a key may do: APP reads profiles; PARTNER ingests, resolves and exports; ANALYST "
    "reads segments, previews, metrics and saved queries; ADMIN does everything."))


@strawberry.type(description="A stored API key's public record; the key itself is never kept.")
class ApiKey:
    id: strawberry.ID
    name: str
    role: ApiRole  # type: ignore[valid-type]
    created_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ApiKey:
        return cls(id=strawberry.ID(row["id"]), name=row["name"], role=Role(row["role"]),
                   created_at=datetime.fromisoformat(row["createdAt"]))


@strawberry.type(description="A new key: `key` is the secret, shown in this response only.")
class CreateApiKeyPayload:
    api_key: ApiKey
    key: str


@strawberry.type(description="The key was deleted; requests with it now get HTTP 401.")
class ApiKeyRevoked:
    id: strawberry.ID


@strawberry.type(description="No stored key has this id (start-up keys cannot be revoked).")
class ApiKeyNotFound:
    id: strawberry.ID
    message: str


RevokeApiKeyResult = Annotated[ApiKeyRevoked | ApiKeyNotFound,
                               strawberry.union("RevokeApiKeyResult")]


def _keys(info: Info[Context, None]) -> ApiKeyService:
    """The app's key store; only a document executed in-process (a test) may have none."""
    keys = info.context.api_keys
    if keys is None:
        raise IdgraphError("No API key store here: keys are managed over the HTTP API.")
    return keys


def _cursor(row: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(f"{row['createdAt']}|{row['id']}".encode()).decode()


def _after(cursor: str | None) -> tuple[str, str] | None:
    if cursor is None:
        return None
    try:
        created_at, _, key_id = base64.urlsafe_b64decode(cursor).decode().partition("|")
        datetime.fromisoformat(created_at)  # checked here so Cypher never sees a bad one
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("`after` is not a cursor from this connection.") from None
    if not key_id:
        raise InvalidInput("`after` is not a cursor from this connection.")
    return created_at, key_id


@strawberry.type
class ApiKeyQuery:
    # The `type: ignore[type-var]`s: strawberry binds Connection's node type to relay.Node in
    # its annotations, but any type works (no global ids here).
    @strawberry.field(description="Stored API keys, oldest first (start-up keys not listed).",
                      permission_classes=[allow()])
    async def api_keys(self, info: Info[Context, None], first: int | None = DEFAULT_PAGE_SIZE,
                       after: str | None = None
                       ) -> relay.Connection[ApiKey]:  # type: ignore[type-var]
        size = page_size(first, info.context.services.settings)
        rows = await _keys(info).page(size + 1, _after(after))
        edges = [relay.Edge(cursor=_cursor(r), node=ApiKey.from_row(r))  # type: ignore[type-var]
                 for r in rows[:size]]
        return relay.Connection(edges=edges, page_info=relay.PageInfo(  # type: ignore[type-var]
            has_next_page=len(rows) > size, has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None))


@strawberry.type
class ApiKeyMutation:
    @strawberry.mutation(description="Create a key; its secret is returned this once only.",
                         permission_classes=[allow()])
    async def create_api_key(self, info: Info[Context, None], name: str,
                             role: ApiRole) -> CreateApiKeyPayload:  # type: ignore[valid-type]
        record, key = await _keys(info).create(name, Role(role))
        return CreateApiKeyPayload(api_key=ApiKey.from_row(record), key=key)

    @strawberry.mutation(description="Delete a stored key: it stops working at once.",
                         permission_classes=[allow()])
    async def revoke_api_key(self, info: Info[Context, None],
                             id: strawberry.ID) -> RevokeApiKeyResult:
        if await _keys(info).revoke(str(id)):
            return ApiKeyRevoked(id=id)
        return ApiKeyNotFound(id=id, message=f"No API key has the id {id}.")
