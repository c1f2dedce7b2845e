"""Compiling a bulk ingest for the fast path: `ingest(records: $records) { accepted ... }`.

Through the general executor, a mutation of 1,000 records spent about a quarter of the API's
CPU before the service saw a record: graphql-core coercing the variable (every record, every
identity, a DateTime each) and strawberry converting the result into RecordInput and
IdentityInput objects, which the resolver then turned back into the dictionaries the service
takes (py-spy, bench/results/scale-1000000.md, session 10). A document of this narrow shape is
compiled once per text into an `IngestPlan`: one mutation, one variable of type
`[RecordInput!]` or `[RecordInput!]!`, one root field `ingest(records: $records)` (or
`ingestDeferred(records: $records)`), any
selection of IngestSummary's plain fields (fast_plan.py's compiler: types, serialisers and
permissions from the strawberry definitions).

`records` hands the service the very dictionaries the resolver would (`record_dict`), its
values parsed by the schema's own scalars (DateTime, JSON), or None when graphql-core's coercion
would refuse the variable or change it: such a request goes the general way, which reports it.
Everything that can make the general path refuse or fall back is decided before the write
starts (the caller's role, the per-request rules, the records); a mutation is never run twice,
so once the service has been called, the answer (its errors included) is this path's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dateutil import tz
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLField,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    ValidationRule,
    validate,
)
from strawberry.types.field import StrawberryField

from idgraph.api.graphql.errors import failure_of
from idgraph.api.graphql.fast_plan import (
    Complete,
    NotCompilable,
    field_compiler,
    list_variable,
    location,
    one_operation,
    resolver_of,
    response_key,
    root_field,
)
from idgraph.api.graphql.identity import IdentityMutation, IngestSummary
from idgraph.auth.roles import Role
from idgraph.identity.service import IdentityService

# The root fields compiled, and whether each defers (ingestDeferred: pipeline/backlog.py).
ROOT_RESOLVERS = ((resolver_of(IdentityMutation, "ingest"), False),
                  (resolver_of(IdentityMutation, "ingest_deferred"), True))
# RecordInput's fields by their GraphQL names; all but `attributes` are non-null.
RECORD_FIELDS = frozenset({"source", "recordId", "timestamp", "identities", "attributes"})
REQUIRED_FIELDS = RECORD_FIELDS - {"attributes"}
IDENTITY_FIELDS = frozenset({"namespace", "value"})


@dataclass(frozen=True)
class IngestPlan:
    operation_name: str | None
    variable: str  # the [RecordInput!] variable's name
    root_key: str
    root_location: dict[str, int]
    roles: frozenset[Role]
    complete: Complete  # the IngestSummary -> the root field's JSON-ready value
    document: DocumentNode  # for the per-request rules
    parse_timestamp: Callable[[Any], Any]  # the schema's DateTime scalar, as coercion runs it
    parse_json: Callable[[Any], Any]  # the schema's JSON scalar (`attributes`)
    deferred: bool = False  # ingestDeferred: the batches go to the ingest backlog

    def admits(self, role: Role | None) -> bool:
        return role in self.roles

    def asks(self, body: dict[str, Any]) -> bool:
        """The body asks what the plan answers: its operation, its one variable holding a
        list, no extensions (a single object would be coerced to a list of one: general)."""
        if body.get("operationName") not in (None, self.operation_name) or body.get(
                "extensions"):
            return False
        variables = body.get("variables")
        return (isinstance(variables, dict) and variables.keys() == {self.variable}
                and type(variables[self.variable]) is list)

    def records(self, given: list[Any]) -> list[dict[str, Any]] | None:
        """The records as the resolver hands them to the service, or None when graphql-core
        would refuse the variable or coerce any part of it into something else."""
        out = []
        parse_timestamp, parse_json = self.parse_timestamp, self.parse_json
        for item in given:
            if type(item) is not dict or not REQUIRED_FIELDS <= item.keys() <= RECORD_FIELDS:
                return None
            source, record_id, timestamp = item["source"], item["recordId"], item["timestamp"]
            if type(source) is not str or type(record_id) is not str or type(
                    timestamp) is not str:
                return None
            identities = _identities(item["identities"])
            if identities is None:
                return None
            try:
                parsed = parse_timestamp(timestamp)
            except Exception:  # noqa: BLE001 - coercion would report it: the general path
                return None
            if not isinstance(parsed, datetime):
                return None
            attributes = item.get("attributes")
            if attributes is not None:  # null is null for a nullable input, unparsed
                try:
                    attributes = parse_json(attributes)
                except Exception:  # noqa: BLE001 - coercion would report it: general
                    return None
                if attributes is Undefined:
                    return None
            out.append({"source": source, "recordId": record_id, "timestamp": parsed,
                        "identities": identities, "attributes": attributes})
        return out

    def passes(self, schema: GraphQLSchema, rules: list[type[ValidationRule]]) -> bool:
        """Whether this request's per-request rules (its variables priced) pass."""
        return not validate(schema, self.document, rules)


async def ingest_answer(plan: IngestPlan, records: list[dict[str, Any]],
                        service: IdentityService, request_id: str) -> dict[str, Any]:
    """The response to a checked ingest, as the general path writes it: the service's summary
    completed by the plan, or its failure worded as the error masking words it (the field is
    non-null: an error nulls `data`). Never a fall back: the write may have happened."""
    try:
        result = await service.ingest(records, (), dry_run=False, defer=plan.deferred)
        return {"data": {plan.root_key: plan.complete(
            IngestSummary.of(result, len(records), dry_run=False, deferred=plan.deferred))}}
    except Exception as exc:  # noqa: BLE001 - answered, masked, as the general path does
        message, extensions = failure_of(exc, request_id)
    return {"data": None, "errors": [{"message": message, "locations": [plan.root_location],
                                      "path": [plan.root_key], "extensions": extensions}]}


def _identities(given: Any) -> list[dict[str, str]] | None:
    """A record's identities as `record_dict` gives them (fresh dictionaries of two strings),
    or None when they are not a list of exactly such objects."""
    if type(given) is not list:
        return None
    out = []
    for identity in given:
        if type(identity) is not dict or identity.keys() != IDENTITY_FIELDS:
            return None
        namespace, value = identity["namespace"], identity["value"]
        if type(namespace) is not str or type(value) is not str:
            return None
        out.append({"namespace": namespace, "value": value})
    return out


def compile_ingest(schema: GraphQLSchema, document: DocumentNode) -> IngestPlan:
    """The plan of a (validated) bulk ingest document; NotCompilable otherwise."""
    op = one_operation(document, OperationType.MUTATION)
    variable = list_variable(op, "RecordInput", required=False)
    node, field, definition, deferred = _root(schema, op, variable)
    compiler = field_compiler()
    compiler.admit(definition)
    complete = compiler.output(field.type, node.selection_set)
    if compiler.resolvers:
        raise NotCompilable("IngestSummary's plain fields only")
    return IngestPlan(op.name.value if op.name else None, variable, response_key(node),
                      location(node), compiler.roles, complete, document,
                      quick_datetime(_scalar(schema, "DateTime").parse_value),
                      _scalar(schema, "JSON").parse_value, deferred)


# `2026-01-01T09:30:00Z`, `...T09:30:00.123+02:00`, `...T09:30:00`: the form almost every
# client sends. The schema's DateTime scalar parses with dateutil in Python (about 8% of the
# API's CPU on a bulk ingest, py-spy); for this form the standard library's C parser gives the
# same value (dateutil's zone objects put back: a rejection's message quotes the value's repr).
PLAIN_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})?")


def quick_datetime(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`parse` (the schema's DateTime scalar), with the common form parsed by the standard
    library; anything else, or anything it refuses (hour 24, say), goes to `parse`."""
    def parse_value(value: Any) -> Any:
        if type(value) is str and PLAIN_DATETIME.fullmatch(value):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return parse(value)
            offset = parsed.utcoffset()
            if offset is None:
                return parsed
            # dateutil's own zones: a rejection's message quotes the value's repr
            return parsed.replace(tzinfo=tz.UTC if not offset else tz.tzoffset(
                None, int(offset.total_seconds())))
        return parse(value)

    return parse_value


def _root(schema: GraphQLSchema, op: OperationDefinitionNode, variable: str
          ) -> tuple[FieldNode, GraphQLField, StrawberryField, bool]:
    """The root field (`root_field`) of one of ROOT_RESOLVERS, and whether it defers."""
    for resolver, deferred in ROOT_RESOLVERS:
        try:
            return (*root_field(schema, op, resolver, "records", variable,
                                "ingest(records: $x)"), deferred)
        except NotCompilable:
            continue
    raise NotCompilable("one root field: ingest(records: $x) or ingestDeferred(records: $x)")


def _scalar(schema: GraphQLSchema, name: str) -> GraphQLScalarType:
    scalar = schema.type_map.get(name)
    if not isinstance(scalar, GraphQLScalarType):
        raise NotCompilable(f"no {name} scalar")
    return scalar
