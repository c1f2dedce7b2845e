"""Compiling a bulk resolve for the fast path: `resolve(identities: $ids) { profileId ... }`.

Through the general executor, a resolve of 10,000 identities spent about four fifths of its
time outside the database: graphql-core coercing the variable's 10,000 input objects,
strawberry converting each into an IdentityInput, then completing 10,000 Resolution objects
field by field (py-spy, bench/results/scale.md). A document of this narrow shape is compiled
once per text, by fast_plan.py's compiler (every field's Python attribute, type, serialiser and
permissions taken from the strawberry definitions), into a `ResolvePlan`. Its selection may be
any of Resolution's plain fields (`profileId`, `error`, `identity { namespace value }`,
`__typename`); `profile` has a resolver of its own, so a document selecting it goes the general
way.

The checks are the general path's: the document passed its validation (api/graphql/limits.py,
cached per text), and its per-request rules (the cost and the list cap, bound to this request's
variables) run again here on every request; a request they refuse, or whose variable the
general coercion would change or refuse, goes the general way, which reports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLSchema,
    ValidationRule,
    validate,
)

from idgraph.api.graphql.fast_plan import (
    Complete,
    field_compiler,
    list_variable,
    location,
    one_query,
    resolver_of,
    response_key,
    root_field,
)
from idgraph.api.graphql.identity import IdentityQuery
from idgraph.auth.roles import Role

ROOT_RESOLVER = resolver_of(IdentityQuery, "resolve")
IDENTITY_FIELDS = frozenset({"namespace", "value"})
# The per-request validation rules, bound to one request's variables (limits.py's cost rule).
RulesFor = Callable[[dict[str, Any]], list[type[ValidationRule]]]


@dataclass(frozen=True)
class ResolvePlan:
    operation_name: str | None
    variable: str  # the [IdentityInput!]! variable's name
    root_key: str
    root_location: dict[str, int]
    roles: frozenset[Role]
    complete: Complete  # the list of Resolution objects -> the root field's JSON-ready value
    document: DocumentNode  # for the per-request rules

    def admits(self, role: Role | None) -> bool:
        return role in self.roles

    def identities(self, body: dict[str, Any]) -> list[tuple[str, str]] | None:
        """The (namespace, value) pairs of a body that asks exactly what the plan answers, with
        the variable as graphql-core would take it unchanged (a list of objects of two
        strings); None otherwise."""
        if body.get("operationName") not in (None, self.operation_name) or body.get(
                "extensions"):
            return None
        variables = body.get("variables")
        if not isinstance(variables, dict) or variables.keys() != {self.variable}:
            return None
        given = variables[self.variable]
        if type(given) is not list:
            return None  # a single object is coerced to a list of one: the general path's
        pairs = []
        for item in given:
            if type(item) is not dict or item.keys() != IDENTITY_FIELDS:
                return None
            namespace, value = item["namespace"], item["value"]
            if type(namespace) is not str or type(value) is not str:
                return None
            pairs.append((namespace, value))
        return pairs

    def passes(self, schema: GraphQLSchema, rules: list[type[ValidationRule]]) -> bool:
        """Whether this request's per-request rules (its variables priced) pass."""
        return not validate(schema, self.document, rules)


def compile_resolve(schema: GraphQLSchema, document: DocumentNode) -> ResolvePlan:
    """The plan of a (validated) bulk resolve document; NotCompilable otherwise."""
    op = one_query(document)
    variable = list_variable(op, "IdentityInput", required=True)
    node, field, definition = root_field(schema, op, ROOT_RESOLVER, "identities", variable,
                                         "resolve(identities: $x)")
    compiler = field_compiler()
    compiler.admit(definition)
    complete = compiler.output(field.type, node.selection_set)
    return ResolvePlan(op.name.value if op.name else None, variable, response_key(node),
                       location(node), compiler.roles, complete, document)
