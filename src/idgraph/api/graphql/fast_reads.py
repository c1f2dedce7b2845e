"""A precompiled path for the front-end's hottest request: `profile(identity: $x) { ... }`.

Executing that document through the general GraphQL machinery (HTTP view, extensions, the
executor's per-field resolvers) costs about as much CPU as the Neo4j read itself. Documents of
one narrow shape are therefore compiled, once per document text, into a `ProfileReadPlan` that
does the same read and writes the same JSON directly:

- one query operation, one non-null `IdentityInput` variable, one root field `profile` taking
  it, no directives, fragments or repeated response keys (aliases are fine);
- only the Profile fields in `PROFILE_SCALARS`, `attributes` without a merge policy, and
  `identities` / `primaryIdentity` with the fields in `IDENTITY_FIELDS`.

Everything else, and any request this path is not certain about (a document not yet validated
clean by the general path under this app's limits, unexpected variables, a caller without a
reader role, a missing materialised view, anything unexpected), goes the general way. A
database failure is answered here with the general path's masked, coded error (not re-run
there: the client would wait for a second round of retries). So answers and errors are the
general path's: tests/test_api_fast_reads.py holds the two paths to identical responses.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    parse,
)
from graphql.language.location import get_location
from starlette.requests import Request
from starlette.responses import Response

from idgraph.api.graphql.errors import database_failure
from idgraph.api.graphql.identity import from_millis
from idgraph.api.graphql.profile import READERS, ordered_identities
from idgraph.db.errors import DatabaseError
from idgraph.identity.normalise import IdentityRejected
from idgraph.profile.service import ProfileRead
from idgraph.services import Services

# Serialised as strawberry does: DateTime by isoformat(), ID as a string, JSON as it is. Read
# straight from the stored view rows (no Profile or Identity objects, no datetimes for fields
# nobody asked for); Profile.from_summary is the general path's equivalent.
PROFILE_SCALARS = {
    "__typename": lambda read: "Profile",
    "id": lambda read: str(read.summary.id),
    "size": lambda read: len(read.summary.identities),
    "createdAt": lambda read: _iso(read.summary.created_at),
    "updatedAt": lambda read: _iso(read.summary.updated_at),
    "isTestProfile": lambda read: bool(read.is_test),
}
# An identity row: {namespace, value, firstSeen, lastSeen} (milliseconds or None).
IDENTITY_FIELDS = {
    "__typename": lambda i: "Identity",
    "namespace": lambda i: i["namespace"],
    "value": lambda i: i["value"],
    "firstSeen": lambda i: _iso(i["firstSeen"]),
    "lastSeen": lambda i: _iso(i["lastSeen"]),
}
IDENTITY_OBJECTS = {"identities", "primaryIdentity"}
BODY_KEYS = {"query", "variables", "operationName", "extensions"}
# Set in a request's scope state when this path has tried the request and passed it on: the
# general path then answers it without a second try (a second database read).
FAST_READ_DECLINED = "fast_read_declined"


class NotCompilable(Exception):
    """The document is outside the fast path's shape: the general path serves it."""


class FallBack(Exception):
    """This request must go the general way (the answer could differ from the general path's)."""


@dataclass(frozen=True)
class ProfileReadPlan:
    operation_name: str | None
    variable: str  # the IdentityInput variable's name
    root_key: str  # the response key of the `profile` field
    root_location: dict[str, int]  # its line and column, for errors about it
    # (response key, field name, identity sub-selection or None), in selection order
    fields: tuple[tuple[str, str, tuple[tuple[str, str], ...] | None], ...]

    @property
    def wants_attributes(self) -> bool:
        return any(name == "attributes" for _, name, _ in self.fields)

    def render(self, read: ProfileRead, attributes: Any, registry: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, name, sub in self.fields:
            if name == "attributes":
                out[key] = attributes
            elif name == "identities":
                out[key] = [_identity(i, sub)
                            for i in ordered_identities(read.summary.identities, registry)]
            elif name == "primaryIdentity":
                namespace, value = read.summary.primary_key.split(":", 1)
                out[key] = _identity({"namespace": namespace, "value": value, "firstSeen": None,
                                      "lastSeen": None}, sub)
            else:
                out[key] = PROFILE_SCALARS[name](read)
        return out


def _identity(row: dict[str, Any], sub) -> dict[str, Any]:
    return {key: IDENTITY_FIELDS[name](row) for key, name in sub}


def _iso(ms: int | None) -> str | None:
    return None if ms is None else from_millis(ms).isoformat()


def compile_document(document: DocumentNode) -> ProfileReadPlan:
    """The plan of a document of the fast path's shape; NotCompilable otherwise."""
    if len(document.definitions) != 1:
        raise NotCompilable("one operation only")
    op = document.definitions[0]
    if not isinstance(op, OperationDefinitionNode) or op.operation != OperationType.QUERY:
        raise NotCompilable("queries only")
    if op.directives or len(op.variable_definitions) != 1:
        raise NotCompilable("one variable, no directives")
    definition = op.variable_definitions[0]
    type_ = definition.type
    if (definition.default_value is not None or definition.directives
            or not isinstance(type_, NonNullTypeNode)
            or isinstance(type_.type, ListTypeNode)
            or not isinstance(type_.type, NamedTypeNode)
            or type_.type.name.value != "IdentityInput"):
        raise NotCompilable("the variable must be IdentityInput!")
    root = _fields(op.selection_set)
    if len(root) != 1 or root[0].name.value != "profile" or len(root[0].arguments) != 1:
        raise NotCompilable("one root field: profile(identity: $x)")
    argument = root[0].arguments[0]
    variable = definition.variable.name.value
    if (argument.name.value != "identity" or not isinstance(argument.value, VariableNode)
            or argument.value.name.value != variable):
        raise NotCompilable("profile(identity: $x) with the operation's variable")
    fields = []
    for field in _fields(root[0].selection_set):
        name = field.name.value
        if field.arguments:
            raise NotCompilable("no arguments below profile")
        if name in IDENTITY_OBJECTS:
            sub = tuple((_key(f), f.name.value) for f in _fields(field.selection_set))
            if any(f.arguments or n not in IDENTITY_FIELDS for f, (_, n) in
                   zip(_fields(field.selection_set), sub, strict=True)):
                raise NotCompilable("identity fields only")
            fields.append((_key(field), name, sub))
        elif name in PROFILE_SCALARS or name == "attributes":
            if field.selection_set is not None:
                raise NotCompilable("scalars have no selections")
            fields.append((_key(field), name, None))
        else:
            raise NotCompilable(f"field {name} is served by the general path")
    where = get_location(root[0].loc.source, root[0].loc.start)
    return ProfileReadPlan(op.name.value if op.name else None, variable, _key(root[0]),
                           {"line": where.line, "column": where.column}, tuple(fields))


def _fields(selection_set) -> list[FieldNode]:
    """The selections as plain fields with unique response keys; NotCompilable otherwise."""
    if selection_set is None:
        raise NotCompilable("objects need a selection")
    fields = []
    for selection in selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            raise NotCompilable("plain fields only")
        fields.append(selection)
    if len({_key(f) for f in fields}) != len(fields):
        raise NotCompilable("repeated response keys")
    return fields


def _key(field: FieldNode) -> str:
    return field.alias.value if field.alias else field.name.value


def _fits(plan: ProfileReadPlan, body: dict) -> bool:
    """The body asks exactly what the plan answers: its operation, its one IdentityInput
    variable with two strings, no extensions."""
    if body.get("operationName") not in (None, plan.operation_name) or body.get("extensions"):
        return False
    variables = body.get("variables")
    if not isinstance(variables, dict) or variables.keys() != {plan.variable}:
        return False
    identity = variables[plan.variable]
    return (isinstance(identity, dict) and identity.keys() == {"namespace", "value"}
            and all(isinstance(v, str) for v in identity.values()))


@dataclass(frozen=True)
class Answer:
    body: bytes
    codes: list[str]  # error codes, for the metrics


class FastProfileReads:
    """Serves compiled profile reads over HTTP POST; `serve` returns None to fall back."""

    MAXSIZE = 512

    def __init__(self, services: Services, schema: Any, metrics: Any,
                 validated_clean: Any) -> None:
        self.services = services
        self.schema = schema
        self.metrics = metrics
        # query text -> True/False: did the general path validate it with no errors (and are
        # its rules free of per-request parts)? None until it has seen the text.
        self.validated_clean = validated_clean
        self.plans: OrderedDict[str, ProfileReadPlan | None] = OrderedDict()
        self.readers = READERS[0].roles
        self.served = 0  # requests answered here (tests and metrics read it)
        self.served_at_front_door = 0  # of those, the ones api/front_door.py answered

    async def serve(self, request: Request, media_type: str) -> Response | None:
        """Answer a request inside the middleware stack (one the front door passed on), or
        None: the general path answers it."""
        started = time.perf_counter()
        raw = await request.body()  # cached on the request for the general path; its errors
        planned = self.plan_of(raw)  # (a body over the size limit) are the general path's too
        state = request.scope.get("state", {})
        if (planned is None or state.get(FAST_READ_DECLINED)
                or not self.may_read(state.get("principal"))):
            return None
        answered = await self.answer(*planned, state.get("request_id", "-"))
        if answered is None:
            return None
        self.record(planned[0], started, answered)
        return Response(answered.body, media_type=media_type)

    def plan_of(self, raw: bytes) -> tuple[ProfileReadPlan, dict] | None:
        """The compiled plan of a request body and the body, when this path can answer it."""
        try:
            body = orjson.loads(raw)
            plan = self._plan_for(body)
            if plan is None or not _fits(plan, body):
                return None
        except Exception:  # noqa: BLE001 - bad JSON, anything unexpected: the general path
            return None  # answers (and reports errors with its codes and masking)
        return plan, body

    def may_read(self, principal: Any) -> bool:
        return principal is not None and principal.role in self.readers

    async def answer(self, plan: ProfileReadPlan, body: dict,
                     request_id: str) -> Answer | None:
        """The response body, or None to fall back. A database failure is answered here, as
        the general path answers it (masked, coded, with the request id): running the read
        again there would make the client wait for a second round of retries or timeout."""
        try:
            answer = {"data": {plan.root_key: await self._profile(plan, body)}}
        except DatabaseError as exc:
            message, code = database_failure(exc, request_id)
            answer = {"data": {plan.root_key: None}, "errors": [{
                "message": message, "locations": [plan.root_location], "path": [plan.root_key],
                "extensions": {"code": code, "requestId": request_id}}]}
        except Exception:  # noqa: BLE001 - FallBack, anything unexpected: the general path
            return None
        try:
            payload = orjson.dumps(answer)
        except TypeError:  # orjson's limits (an integer over 64 bits): the general path
            return None
        self.served += 1
        codes = [e["extensions"]["code"] for e in answer.get("errors", ())]
        return Answer(payload, codes)

    def record(self, plan: ProfileReadPlan, started: float, answered: Answer) -> None:
        if self.metrics is not None:
            self.metrics.observe_operation(plan.operation_name, "query",
                                           time.perf_counter() - started, answered.codes)

    def _plan_for(self, body: Any) -> ProfileReadPlan | None:
        if not isinstance(body, dict) or not body.keys() <= BODY_KEYS:
            return None
        query = body.get("query")
        if not isinstance(query, str):
            return None
        if query in self.plans:
            self.plans.move_to_end(query)
            return self.plans[query]
        clean = self.validated_clean(self.schema, query)
        if clean is None:
            return None  # not validated yet: the general path does it (and caches it)
        plan = None
        if clean:
            try:
                plan = compile_document(parse(query))
            except (NotCompilable, GraphQLError):
                plan = None
        self.plans[query] = plan
        if len(self.plans) > self.MAXSIZE:
            self.plans.popitem(last=False)
        return plan

    async def _profile(self, plan: ProfileReadPlan, body: dict) -> dict[str, Any] | None:
        identity = body["variables"][plan.variable]
        services = self.services
        try:
            key = services.identity.normalise(identity["namespace"], identity["value"]).key
        except IdentityRejected:
            return None
        wants_attributes = plan.wants_attributes
        read = await services.profiles.read(key=key, with_view=wants_attributes)
        if read is None:
            return None
        # The stored view's JSON goes into the response as it is (never parsed and encoded
        # again): the general path's `attributes` are that same JSON, parsed.
        attributes = read.default_attributes_json(key) if wants_attributes else None
        if wants_attributes and attributes is None:
            raise FallBack  # no materialised view applies: the general path merges fragments
        return plan.render(read, attributes and orjson.Fragment(attributes),
                           services.identity.registry)
